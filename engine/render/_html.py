"""The reports' HTML: one self-contained page (inline CSS, charts as inline SVG, no script, no
external reference), printable on A4 by WeasyPrint from the same text.

Every piece of text a user or a file supplied (pool names, scenario keys, user names, reasons)
goes through :func:`esc` (``html.escape``), so hostile input shows as text. Only the SVG that
:mod:`engine.render._charts` drew is inserted as markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from engine.display import CURRENCY

__all__ = ["Provenance", "esc", "table", "key_figures", "section", "figure", "page",
           "when_text"]

CSS = """
@page { size: A4; margin: 14mm 13mm 14mm 13mm;
        @bottom-right { content: "page " counter(page) " of " counter(pages);
                        font-size: 8pt; color: #666; } }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; font-size: 10pt; color: #1b1f24;
       margin: 0 auto; max-width: 190mm; padding: 8px; line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 2px 0; }
h2 { font-size: 12pt; margin: 14px 0 6px 0; border-bottom: 1px solid #d0d7de; padding-bottom: 2px;
     break-after: avoid; }
p.sub { color: #57606a; margin: 0 0 8px 0; }
.figures { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.fig { border: 1px solid #d0d7de; border-radius: 4px; padding: 5px 9px; min-width: 150px;
       flex: 1 1 150px; }
.fig .k { font-size: 8pt; color: #57606a; }
.fig .v { font-size: 14pt; font-weight: bold; }
.fig .n { font-size: 8pt; color: #57606a; }
.tw { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px 0; font-size: 8.5pt; }
th, td { border-bottom: 1px solid #d0d7de; padding: 2px 5px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.chart { break-inside: avoid; margin: 4px 0; }
.chart svg { max-width: 100%; height: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: bold; }
.DEPLOY, .ok { background: #dafbe1; color: #116329; }
.RESTRICT, .warn { background: #fff8c5; color: #7d4e00; }
.REDESIGN, .bad { background: #ffebe9; color: #a40e26; }
.prov td:first-child { width: 32%; color: #57606a; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; word-break: break-all; }
.note { color: #57606a; font-size: 8pt; }
ul { margin: 2px 0 6px 18px; padding: 0; }
@media (max-width: 600px) { body { font-size: 9.5pt; } .fig { flex-basis: 45%; } }
"""


def esc(value: object) -> str:
    """Text as HTML shows it literally: ``<``, ``>``, ``&`` and quotes escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def when_text(value: datetime | str | None) -> str:
    """A stored time (naive UTC) as "2026-01-31 14:05:09 UTC"; text is shown as it is."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return f"{value.replace(microsecond=0, tzinfo=None).isoformat(sep=' ')} UTC"
    return str(value)


@dataclass(frozen=True)
class Provenance:
    """What every report states about the run(s) it shows.

    Attributes
    ----------
    run_ids : tuple of str
    input_hashes : tuple of (str, str)
        (what was hashed, SHA-256 hex): the pool content, the data file, the request.
    engine_version : str
    run_by : str
        The user recorded with the run (``requested_by`` or the validator), or a note that none
        was recorded.
    run_at : str
        When the run was made, UTC.
    extra : tuple of (str, str)
        Further (label, text) rows: the source, the sign-off state.
    """

    run_ids: tuple[str, ...]
    input_hashes: tuple[tuple[str, str], ...]
    engine_version: str
    run_by: str
    run_at: str
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def html(self) -> str:
        ids = "<br>".join(f'<span class="hash">{esc(r)}</span>' for r in self.run_ids)
        rows = [*([("Run id" + ("s" if len(self.run_ids) > 1 else ""), ids)] if ids else []),
                *[(f"Input hash: {name}", f'<span class="hash">{esc(h)}</span>')
                  for name, h in self.input_hashes],
                ("Engine version", esc(self.engine_version)),
                ("Run by", esc(self.run_by)),
                ("Run at", esc(self.run_at)),
                *[(k, esc(v)) for k, v in self.extra]]
        body = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in rows)
        return f'<table class="prov">{body}</table>'


def table(columns: Sequence[str], *, rows: Iterable[Sequence[object]],
          numeric: Sequence[int] = ()) -> str:
    """An HTML table; every header and cell escaped. ``numeric`` columns are right-aligned."""
    num = set(numeric)

    def cls(i: int) -> str:
        return ' class="num"' if i in num else ""

    head = "".join(f"<th{cls(i)}>{esc(c)}</th>" for i, c in enumerate(columns))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{esc(v)}</td>" for i, v in enumerate(row))
                   + "</tr>" for row in rows)
    return f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def key_figures(items: Iterable[tuple[str, str, str]]) -> str:
    """Tiles of (label, value rounded for reading, note); all escaped."""
    tiles = "".join(f'<div class="fig"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div>'
                    f'<div class="n">{esc(n)}</div></div>' for k, v, n in items)
    return f'<div class="figures">{tiles}</div>'


def section(title: str, body: str) -> str:
    """A titled section; ``title`` is escaped, ``body`` is markup built by these helpers."""
    return f"<section><h2>{esc(title)}</h2>{body}</section>"


def figure(svg: str, *, caption: str) -> str:
    """A chart drawn by :func:`engine.render._charts.svg_images`, with an escaped caption."""
    return f'<div class="chart" role="img" aria-label="{esc(caption)}">{svg}</div>'


def page(*, title: str, subtitle: str, provenance: Provenance, body: str) -> str:
    """The whole document: title, subtitle, ``body``, then the provenance table."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p class=\"sub\">{esc(subtitle)}</p></header>"
        f"{body}"
        + section("Provenance", provenance.html()
                  + f'<p class="note">Amounts in {CURRENCY}. Tiles are rounded for reading; '
                    "tables give the exact figures. Made by StressLab from the stored run.</p>")
        + "</body></html>\n")
