"""Read the Federal Reserve Board's supervisory scenario tables, of any year, and translate them.

The Board publishes, each year, CSV tables of the supervisory scenarios: a Historic Domestic
table (actual quarters up to the jump-off), a Supervisory Baseline and a Supervisory Severely
Adverse Domestic table (13 projected quarters), and International tables for each. File names
and number formatting change from year to year (``2025-Table_3A_Supervisory_Severely_Adverse_
Domestic.csv`` writes ``-8.0``; ``2026_Proposed_Supervisory_Severely_Adverse_Domestic.csv``
writes ``1``), so tables are recognised by their content, never by their names:

* a CSV with the columns ``Scenario Name`` and ``Date`` is a Board table; any other CSV is
  refused, naming it; files that are not CSV (a PROVENANCE.md) are ignored;
* a Board table lacking a Domestic column :data:`FED_COLUMNS` needs (the International tables:
  euro area, developing Asia, Japan, UK) is ignored, and the result says so;
* a Domestic table's ``Scenario Name`` (one value for all its rows) says what it is:
  ``Actual`` = historic, a name containing ``Severely Adverse`` = the severely adverse scenario,
  ``Baseline`` = the baseline; another scenario (the ``Adverse`` of earlier years) is ignored,
  and the result says so.

Checks (every one names the file, row, column, value and rule): dates are ``YYYY Qn``; each
table's quarters follow each other; the two scenarios cover the same quarters, which start the
quarter after the historic table's last (the jump-off); the five figures the translation reads
are plain decimal numbers (``-8.0``, ``1``, ``322.1``), with a positive unemployment rate and
House Price Index at the jump-off. Sizes are bounded (:data:`MAX_FED_FILES` files,
:data:`MAX_FED_FILE_BYTES` each, :data:`MAX_FED_ROWS` rows, :data:`MAX_FED_QUARTERS` projected
quarters). The year of the scenarios is the year of their first projected quarter.

The translation is :data:`~engine.credit._scenarios.FED_RULE`
(:func:`~engine.credit._scenarios.translate_fed_scenario`). The built-in 2025 scenarios are read
by this same code from the bundled folder, so an import of that folder reproduces them exactly.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from engine.credit._scenarios import (
    FedTranslation,
    MarketFactors,
    Scenario,
)
from engine.errors import InputError, Issue, ValidationError
from engine.limits import check_zip, decode_text, read_zip_member

__all__ = [
    "FED_COLUMNS",
    "MAX_FED_FILES",
    "MAX_FED_FILE_BYTES",
    "MAX_FED_ROWS",
    "MAX_FED_QUARTERS",
    "FedTables",
    "read_fed_files",
    "read_fed_tables",
    "translate_fed_tables",
    "fed_scenarios_from",
    "fed_keys",
]

#: The Domestic columns the translation reads (besides ``Scenario Name`` and ``Date``).
FED_COLUMNS: tuple[str, ...] = ("Unemployment rate", "5-year Treasury yield",
                                "10-year Treasury yield", "BBB corporate yield",
                                "House Price Index (Level)")
#: Most files in one folder or zip (the Board publishes six).
MAX_FED_FILES = 32
#: Largest CSV, bytes (a Historic table of 50 years is under 20 kB).
MAX_FED_FILE_BYTES = 2 * 1024 * 1024
#: Most data rows of one table.
MAX_FED_ROWS = 2_000
#: Most projected quarters of a scenario (the Board's are 13).
MAX_FED_QUARTERS = 40

_REQUIRED = ("Scenario Name", "Date")
_DATE = re.compile(r"(\d{4}) Q([1-4])")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_KINDS = ("historic", "baseline", "severely_adverse")
_NAMES = {"baseline": "Supervisory Baseline", "severely_adverse": "Supervisory Severely Adverse"}


@dataclass(frozen=True)
class FedTables:
    """The three Domestic tables read from a folder or zip, checked.

    Attributes
    ----------
    year : int
        Year of the first projected quarter.
    historic, baseline, severely_adverse : list of dict of str to str
        Each table's data rows (column → cell text), in file order.
    files : dict of str to str
        ``historic``, ``baseline``, ``severely_adverse`` → the file each came from.
    ignored : list of str
        Each file left aside, and why ("…International.csv: an International table").
    """

    year: int
    historic: list[dict[str, str]]
    baseline: list[dict[str, str]]
    severely_adverse: list[dict[str, str]]
    files: dict[str, str]
    ignored: list[str] = field(default_factory=list)

    @property
    def jump_off(self) -> dict[str, str]:
        """The last actual quarter (the historic table's last row)."""
        return self.historic[-1]


def _quarter(text: str) -> tuple[int, int] | None:
    m = _DATE.fullmatch(text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def _next(q: tuple[int, int]) -> tuple[int, int]:
    return (q[0] + 1, 1) if q[1] == 4 else (q[0], q[1] + 1)


def _fmt(q: tuple[int, int]) -> str:
    return f"{q[0]} Q{q[1]}"


def _read_csv(name: str, data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    if len(data) > MAX_FED_FILE_BYTES:
        raise InputError(f"Federal Reserve file {name!r} holds {len(data):,} bytes; a Board "
                         f"table holds at most {MAX_FED_FILE_BYTES:,}: is it the right file?")
    text, _ = decode_text(data, name=name)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        rows = []
        for i, row in enumerate(reader, start=1):
            if i > MAX_FED_ROWS:
                raise InputError(f"Federal Reserve file {name!r} holds more than "
                                 f"{MAX_FED_ROWS:,} rows; a Board table holds a few hundred")
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValidationError([Issue(row=i, column=None, value=len(row),
                                             rule=f"holds {len(row)} cells; the header has "
                                                  f"{len(header)}")],
                                      subject=f"Federal Reserve file {name!r}")
            rows.append(dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        raise InputError(f"Federal Reserve file {name!r} is not a readable CSV: {exc}") from None
    return [h.strip() for h in header], rows


def _classify(name: str, header: list[str], rows: list[dict[str, str]]) -> str:
    """``historic``, ``baseline``, ``severely_adverse``, or why the table is ignored."""
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ValidationError(
            [Issue(row=None, column=c, value=None,
                   rule="a Board scenario table has the columns 'Scenario Name' and 'Date'")
             for c in missing], subject=f"Federal Reserve file {name!r}")
    lacking = [c for c in FED_COLUMNS if c not in header]
    if lacking:
        return (f"ignored {name}: not a Domestic table (no {lacking[0]!r} column; the "
                "International tables are not used)")
    if not rows:
        raise InputError(f"Federal Reserve file {name!r} holds no data rows")
    names = {r["Scenario Name"].strip() for r in rows}
    if len(names) != 1:
        raise ValidationError([Issue(row=None, column="Scenario Name", value=", ".join(sorted(names))[:200],
                                     rule="a Board table holds one scenario: every row gives the "
                                          "same Scenario Name")],
                              subject=f"Federal Reserve file {name!r}")
    (scenario,) = names
    folded = scenario.casefold()
    if folded == "actual":
        return "historic"
    if "severely adverse" in folded:
        return "severely_adverse"
    if "baseline" in folded:
        return "baseline"
    return f"ignored {name}: scenario {scenario[:80]!r} is neither Baseline nor Severely Adverse"


def _check_rows(name: str, rows: list[dict[str, str]], *, all_rows: bool) -> list[Issue]:
    """Dates in sequence and the translated columns as numbers (every row, or the last)."""
    issues = []
    prev = None
    for i, row in enumerate(rows, start=1):
        q = _quarter(row["Date"])
        if q is None:
            issues.append(Issue(row=i, column="Date", value=row["Date"][:40],
                                rule="a date is written 'YYYY Qn', e.g. '2025 Q1'"))
        elif prev is not None and q != _next(prev):
            issues.append(Issue(row=i, column="Date", value=row["Date"],
                                rule=f"quarters follow each other: {_fmt(_next(prev))} comes "
                                     f"after {_fmt(prev)}"))
        prev = q
    checked = range(1, len(rows) + 1) if all_rows else [len(rows)]
    for i in checked:
        row = rows[i - 1]
        for c in FED_COLUMNS:
            v = row[c].strip()
            if _NUMBER.fullmatch(v) is None:
                rule = ("is empty; the translation needs it" if not v else
                        "must be a plain decimal number such as 4.1, -8.0 or 1")
                issues.append(Issue(row=i, column=c, value=v[:40], rule=rule))
            elif c in ("Unemployment rate", "House Price Index (Level)") and float(v) <= 0:
                issues.append(Issue(row=i, column=c, value=v,
                                    rule="must be positive (the translation divides by it)"))
    return issues


def read_fed_files(files: Mapping[str, bytes], *, source: str) -> FedTables:
    """Recognise and check the Board's tables among named files (an upload, a folder, a zip).

    Parameters
    ----------
    files : mapping of str to bytes
        File name → content. Names not ending in ``.csv`` are ignored.
    source : str
        Where they come from, for messages (a folder, a zip, "the upload").

    Returns
    -------
    FedTables

    Raises
    ------
    InputError
        More than :data:`MAX_FED_FILES` files; a file too large, not text, not a CSV, or a CSV
        that is not a Board table (no ``Scenario Name``/``Date``); no Historic, Baseline or
        Severely Adverse Domestic table, or two of one kind; scenarios whose quarters differ, do
        not start the quarter after the jump-off, or exceed :data:`MAX_FED_QUARTERS`.
    ValidationError
        Bad cells of one file, each with its row, column, value and rule.
    """
    if len(files) > MAX_FED_FILES:
        raise InputError(f"{source} holds {len(files)} files; the Board's tables are six, at most "
                         f"{MAX_FED_FILES} files are read")
    found: dict[str, tuple[str, list[dict[str, str]]]] = {}
    ignored = []
    for name in sorted(files):
        if not name.lower().endswith(".csv"):
            ignored.append(f"ignored {name}: not a CSV file")
            continue
        header, rows = _read_csv(name, files[name])
        kind = _classify(name, header, rows)
        if kind.startswith("ignored"):
            ignored.append(kind)
            continue
        if kind in found:
            raise InputError(f"{source}: both {found[kind][0]!r} and {name!r} are "
                             f"{kind.replace('_', ' ')} Domestic tables; keep one year's tables")
        issues = _check_rows(name, rows, all_rows=kind != "historic")
        if issues:
            raise ValidationError(issues, subject=f"Federal Reserve file {name!r}")
        found[kind] = (name, rows)
    absent = [k for k in _KINDS if k not in found]
    if absent:
        what = {"historic": "Historic Domestic (Scenario Name 'Actual', for the jump-off)",
                "baseline": "Supervisory Baseline Domestic",
                "severely_adverse": "Supervisory Severely Adverse Domestic"}
        raise InputError(f"{source} has no {' and no '.join(what[k] for k in absent)} table; "
                         "give the Board's Domestic CSVs (Historic, Baseline, Severely Adverse)")
    hist, base, severe = (found[k][1] for k in _KINDS)
    base_q = [r["Date"].strip() for r in base]
    severe_q = [r["Date"].strip() for r in severe]
    if base_q != severe_q:
        raise InputError(f"{source}: the Baseline ({found['baseline'][0]!r}, {base_q[0]} – "
                         f"{base_q[-1]}) and Severely Adverse ({found['severely_adverse'][0]!r}, "
                         f"{severe_q[0]} – {severe_q[-1]}) tables cover different quarters; "
                         "give one year's tables")
    if len(base_q) > MAX_FED_QUARTERS:
        raise InputError(f"{source}: the scenarios hold {len(base_q)} quarters; at most "
                         f"{MAX_FED_QUARTERS} are read (the Board's hold 13)")
    jump = _quarter(hist[-1]["Date"])
    first = _quarter(base_q[0])
    if _next(jump) != first:
        before = (first[0] - 1, 4) if first[1] == 1 else (first[0], first[1] - 1)
        raise InputError(f"{source}: the Historic table ({found['historic'][0]!r}) ends in "
                         f"{hist[-1]['Date']}, but the scenarios start in {base_q[0]}; the "
                         f"jump-off must be the quarter just before, {_fmt(before)}: give the "
                         "Historic table published with the same scenarios")
    return FedTables(year=first[0], historic=hist, baseline=base, severely_adverse=severe,
                     files={k: found[k][0] for k in _KINDS}, ignored=ignored)


def read_fed_tables(path: Path) -> FedTables:
    """:func:`read_fed_files` on a folder's files or a zip's members.

    Parameters
    ----------
    path : Path
        A folder (its files, not sub-folders) or a ``.zip`` (members in any folder; macOS
        ``__MACOSX`` entries skipped).

    Raises
    ------
    InputError
        If the path does not exist or is neither a folder nor a zip, the zip is corrupt or too
        large (see :func:`engine.limits.check_zip`), or as :func:`read_fed_files`.
    """
    if path.is_dir():
        entries = [p for p in sorted(path.iterdir()) if p.is_file()]
        if len(entries) > MAX_FED_FILES:
            raise InputError(f"folder {str(path)!r} holds {len(entries)} files; at most "
                             f"{MAX_FED_FILES} are read")
        files = {}
        for p in entries:
            if p.suffix.lower() == ".csv" and p.stat().st_size > MAX_FED_FILE_BYTES:
                raise InputError(f"Federal Reserve file {p.name!r} holds {p.stat().st_size:,} "
                                 f"bytes; a Board table holds at most {MAX_FED_FILE_BYTES:,}")
            files[p.name] = p.read_bytes() if p.suffix.lower() == ".csv" else b""
        return read_fed_files(files, source=f"folder {str(path)!r}")
    if not path.exists():
        raise InputError(f"{str(path)!r} does not exist; give the folder or zip of the Board's "
                         "scenario CSVs")
    if path.suffix.lower() != ".zip":
        raise InputError(f"{str(path)!r} is neither a folder nor a .zip of the Board's CSVs")
    return read_fed_zip(path.read_bytes(), name=path.name)


def read_fed_zip(data: bytes, *, name: str) -> FedTables:
    """:func:`read_fed_files` on the members of a zip given as bytes (an upload).

    Raises
    ------
    InputError
        If it is not a zip, is corrupt, holds too many or too large members, or as
        :func:`read_fed_files`.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        raise InputError(f"{name!r} is not a readable zip file") from None
    with zf:
        check_zip(zf, name=name)
        members = [i for i in zf.infolist() if not i.is_dir()
                   and not i.filename.startswith("__MACOSX/")]
        if len(members) > MAX_FED_FILES:
            raise InputError(f"{name!r} holds {len(members)} files; at most {MAX_FED_FILES} "
                             "are read")
        files: dict[str, bytes] = {}
        for info in members:
            base = PurePosixPath(info.filename).name
            if not base.lower().endswith(".csv"):
                files[base] = b""
                continue
            if info.file_size > MAX_FED_FILE_BYTES:
                raise InputError(f"Federal Reserve file {base!r} in {name!r} holds "
                                 f"{info.file_size:,} bytes; a Board table holds at most "
                                 f"{MAX_FED_FILE_BYTES:,}")
            if base in files:
                raise InputError(f"{name!r} holds two files named {base!r}; keep one")
            try:
                files[base] = read_zip_member(zf, member=info, name=name)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise InputError(f"{name!r}: member {base!r} cannot be read ({exc})") from None
    return read_fed_files(files, source=f"zip {name!r}")


def translate_fed_tables(tables: FedTables) -> dict[str, FedTranslation]:
    """Both scenarios translated by :data:`~engine.credit._scenarios.FED_RULE`, keyed
    ``fed_<year>_baseline`` and ``fed_<year>_severely_adverse``."""
    from engine.credit._scenarios import translate_fed_scenario

    return {f"fed_{tables.year}_{kind}": translate_fed_scenario(
                getattr(tables, kind), jump_off=tables.jump_off,
                scenario=f"Fed {tables.year} {_NAMES[kind]}")
            for kind in ("baseline", "severely_adverse")}


def fed_keys(prefix: str) -> dict[str, str]:
    """The four keys an import stores: each scenario by peak and as path.

    Parameters
    ----------
    prefix : str
        ``fed_<year>`` by default, or the ``--name`` given.

    Returns
    -------
    dict of str to str
        ``baseline``, ``severely_adverse``, ``baseline_path``, ``severely_adverse_path`` →
        ``<prefix>_baseline``, …
    """
    return {s: f"{prefix}_{s}" for s in ("baseline", "severely_adverse", "baseline_path",
                                         "severely_adverse_path")}


def fed_scenarios_from(translations: Mapping[str, FedTranslation], *,
                       prefix: str) -> dict[str, Scenario]:
    """The scenarios of :func:`translate_fed_tables`: both by peak, then both as paths.

    Parameters
    ----------
    translations : mapping of key to FedTranslation
        As :func:`translate_fed_tables` (its two keys end ``_baseline``, ``_severely_adverse``).
    prefix : str
        Keys are ``<prefix>_baseline``, ``<prefix>_severely_adverse``, then the same with
        ``_path`` (see :func:`fed_keys`).

    Returns
    -------
    dict of key to Scenario
        ``source`` is ``federal_reserve``.
    """
    peak: dict[str, Scenario] = {}
    path: dict[str, Scenario] = {}
    for key, tr in translations.items():
        kind = "severely_adverse" if key.endswith("_severely_adverse") else "baseline"
        year = tr.horizon[:4]
        head = (f"Translated from the Board's {year} tables ({tr.horizon}, jump-off "
                f"{tr.jump_off_quarter}): 5-year Treasury peak move "
                f"{tr.treasury_5y_peak_move_pp:+.1f}pp, unemployment "
                f"{tr.unemployment_jump_off:.1f}% → {tr.unemployment_peak:.1f}%, house prices "
                f"trough {tr.house_price_trough / tr.house_price_jump_off - 1:+.1%}.")
        peak[f"{prefix}_{kind}"] = Scenario(
            name=tr.scenario, description=head + " Peak reading: each factor held at its "
            "most severe quarter for the whole projection.",
            market_factors=tr.market_factors, source="federal_reserve")
        path[f"{prefix}_{kind}_path"] = Scenario(
            # the reading first: a table column cut at its width still tells peak from path
            name=f"Path: {tr.scenario}", description=head + f" Path reading: {len(tr.quarters)} "
            f"quarters, each quarter's factors held for its three months, {tr.quarters[-1]}'s "
            "held after.",
            market_factors=MarketFactors(path=tr.path), source="federal_reserve")
    return {**peak, **path}
