"""The one-page summary report: the decision summary (:mod:`engine.reports.summary`) on one A4
page: the four headlines, what waits on whom, the exact figures behind the headlines and the runs
they come from (ids, input hashes, engine version, who ran them and when)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.display import money, pct
from engine.render._html import Provenance, esc, page, section, table, when_text

if TYPE_CHECKING:
    from engine.reports.summary import DecisionSummary

__all__ = ["summary_html", "run_ids", "MAX_ROWS", "RUN_COLUMNS"]

#: At most this many rows per table, so the page stays one page; the rest is counted.
MAX_ROWS = 6
RUN_COLUMNS = ("Run id", "Kind", "Input hash", "Engine", "Run by", "Run at")

_SUMMARY_CSS = """<style>
body { font-size: 8.5pt; } h1 { font-size: 15pt; } h2 { font-size: 10.5pt; margin: 8px 0 3px 0; }
table { font-size: 7.5pt; margin: 2px 0 4px 0; } .tiles { display: flex; gap: 6px; }
.tile { flex: 1 1 0; border: 1px solid #d0d7de; border-radius: 4px; padding: 4px 7px; }
.tile .t { font-size: 7.5pt; color: #57606a; } .tile .v { font-size: 13pt; font-weight: bold; }
.tile .c, .tile li { font-size: 7pt; color: #57606a; } .tile ul { margin: 2px 0 0 12px; }
.runs td:nth-child(3) { word-break: break-all; font-size: 6.5pt; }
@media (max-width: 600px) { .tiles { flex-wrap: wrap; } .tile { flex-basis: 45%; } }
</style>"""


def run_ids(summary: DecisionSummary) -> list[str]:
    """Every run the summary's figures come from: each pool's latest stress run, each model's
    latest validation, the latest limit evaluation; in that order."""
    ids = [p.run_id for p in summary.credit.pools] + [m.run_id for m in summary.validation.models]
    if summary.market.evaluation_id:
        ids.append(summary.market.evaluation_id)
    return ids


def _capped(rows: list[tuple[Any, ...]], n_cols: int) -> list[tuple[Any, ...]]:
    if len(rows) <= MAX_ROWS:
        return rows
    more = len(rows) - MAX_ROWS
    return [*rows[:MAX_ROWS], (f"… and {more} more", *[""] * (n_cols - 1))]


def _tiles(summary: DecisionSummary) -> str:
    out = []
    for t in summary.tiles:
        lines = "".join(f"<li>{esc(x)}</li>" for x in t.lines[:4])
        change = f'<div class="c">{esc(t.change_text)}</div>' if t.change_text else ""
        out.append(f'<div class="tile"><div class="t">{esc(t.title)}: {esc(t.label)}</div>'
                   f'<div class="v">{esc(t.text)}</div>{change}<ul>{lines}</ul></div>')
    return f'<div class="tiles">{"".join(out)}</div>'


def summary_html(summary: DecisionSummary, *, runs: Sequence[Mapping[str, Any]]) -> str:
    """The one-page summary report's HTML.

    Parameters
    ----------
    summary : DecisionSummary
    runs : sequence of mapping
        The ``runs`` rows of :func:`run_ids` (:func:`engine.reports._store.run_row`), for their
        input hashes, engine versions, users and times.
    """
    pending = [(p.who, p.what, when_text(p.since)) for p in summary.pending]
    credit = [(p.pool_name, p.worst_scenario_name, money(p.npv_change),
               pct(p.npv_change_percent, decimal=False, signed=True), p.run_id)
              for p in summary.credit.pools]
    models = [(m.model, m.decision, f"{m.signoffs}", when_text(m.validated_at), m.run_id)
              for m in summary.validation.models]
    mk = summary.market
    var = [(f"VaR {pct(v.confidence, digits=1)}", money(v.var), money(v.limit),
            pct(v.utilisation, digits=1), "yes" if v.breached else "no") for v in mk.var]
    if mk.es is not None and mk.es_confidence is not None:
        var.append((f"ES {pct(mk.es_confidence, digits=1)}", money(mk.es), "–", "–", "–"))
    desk = summary.desk
    body = (_SUMMARY_CSS + _tiles(summary)
            + section(f"Waiting on someone ({len(pending)})",
                      table(("Who must act", "What", "Since"), rows=_capped(pending, 3))
                      if pending else "<p>Nothing waits: no sign-off, open breach or alert.</p>")
            + section("Credit: worst stress NPV change per pool (exact, USD)",
                      table(("Pool", "Worst scenario", "NPV change (USD)", "NPV change", "Run id"),
                            rows=_capped(credit, 5), numeric=(2, 3)) if credit else "<p>No stress run yet.</p>")
            + section("Model validation: latest decision per model",
                      table(("Model", "Decision", "Sign-offs", "Validated at", "Run id"),
                            rows=_capped(models, 5), numeric=(2,)) if models else "<p>No validation yet.</p>")
            + section(f"Market risk: VaR and ES against limits ({mk.mode} mode, "
                      f"{len(mk.open_breaches)} open breaches)",
                      table(("Measure", "Value (USD)", "Limit (USD)", "Use of limit", "Breached"),
                            rows=var, numeric=(1, 2, 3)) if var else "<p>No limit evaluation yet.</p>")
            + section("Risk desk",
                      f"<p>{desk.accounts:,} accounts; unacknowledged alerts "
                      f"{desk.unacknowledged_alerts:,}; halted: {esc(', '.join(desk.halted) or 'none')}.</p>"))
    run_rows = [(r["run_id"], r["kind"], r.get("inputs_hash") or "–",
                 r.get("engine_version") or "–", r.get("requested_by") or "not recorded",
                 when_text(r.get("started_at"))) for r in runs]
    body += section("Runs shown", f'<div class="runs">{table(RUN_COLUMNS, rows=_capped(run_rows, 6))}</div>')
    prov = Provenance(run_ids=(), input_hashes=(), engine_version=__version__,
                      run_by="each run's user: see Runs shown",
                      run_at=f"summary read {when_text(summary.generated_at)}")
    return page(title="Decision summary",
                subtitle=f"StressLab, as of {when_text(summary.generated_at)}: exposure, "
                         "decisions and what waits on whom",
                provenance=prov, body=body)
