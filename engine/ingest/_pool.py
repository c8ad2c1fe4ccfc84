"""read_pool: any loan tape → a validated :class:`~engine.ingest.models.PoolData`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from engine.ingest.models import ASSET_COLUMNS, PoolData
from engine.errors import InputError, Issue, ValidationError
from engine.limits import shorten

from ._assumptions import AssumptionTable, fill_behavioural, load_assumptions
from ._issues import IssueLog, _plain
from ._mappings import FORMATS, Mapped, map_tape
from ._readers import Source, TableRead, read_source
from ._usermap import ColumnMapping
from ._validate import validate_frame

__all__ = ["read_pool", "preview_pool", "PoolPreview", "BAD_ROWS"]

#: What an import does with rows that break a rule: refuse the whole tape (the default), or
#: import the valid rows and keep the bad ones with the pool (quarantine).
BAD_ROWS: tuple[str, ...] = ("refuse", "quarantine")
BadRows = Literal["refuse", "quarantine"]

_FORMATS = ("auto", *FORMATS)
#: How each text encoding the readers accept is named to a user.
_ENCODINGS = {
    "utf-8-sig": "UTF-8 text (with a byte-order mark)",
    "utf-16": "UTF-16 text",
    "cp1252": "cp1252 (Windows Western European) text, not UTF-8; check that accented names came through",
    "latin-1": "latin-1 (ISO 8859-1) text, not UTF-8; check that accented names came through",
}


def _as_date(value: Any, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InputError(f"{what} {value!r} is not a date; use YYYY-MM-DD.") from exc


def read_pool(
    source: Source,
    *,
    filename: str | None = None,
    format: str = "auto",  # noqa: A002 - the public keyword the callers use
    pool_id: str | None = None,
    pool_name: str | None = None,
    cutoff_date: dt.date | None = None,
    assumptions: AssumptionTable | None = None,
    mapping: ColumnMapping | None = None,
    bad_rows: BadRows = "refuse",
) -> PoolData:
    """Read, map, validate and complete a loan tape.

    Parameters
    ----------
    source : str, path-like, bytes or binary file-like
        A file path, or an upload (bytes or stream; then ``filename`` gives the extension).
        CSV (also .csv.gz), Parquet, JSON (the request's pool shape) or Excel .xlsx.
    filename : str, optional
        The upload's file name (chooses the reader; shown in messages).
    format : {"auto", "native", "lendingclub", "loan-record"}
        The tape's layout; ``auto`` recognises it from the header (:func:`detect_format`).
    pool_id, pool_name : str, optional
        Default: the JSON pool's own, else the file name's stem (id) and the file name (name).
    cutoff_date : date, optional
        The date balances and ages refer to. Default: the JSON pool's own; for the Lending Club
        tape 2018-06-30 (see ``LC_DEFAULT_CUTOFF``). Required for loan-record tapes.
    assumptions : AssumptionTable, optional
        Behavioural values for missing prepayment_speed (annual CPR), default_probability
        (annual CDR), recovery_rate and recovery_lag (months). Default: :func:`load_assumptions`.
    mapping : ColumnMapping, optional
        A user's column mapping (:class:`engine.ingest.ColumnMapping`), applied instead of a
        known layout (``format`` is then ignored; ``source_format`` is ``mapped``).
    bad_rows : {"refuse", "quarantine"}, default "refuse"
        ``refuse``: one bad row refuses the tape (ValidationError, nothing read).
        ``quarantine``: the rows that break a rule are left out and returned in
        ``PoolData.quarantine`` (source row, values as read, every rule broken), with a warning
        that counts them; a problem of the whole file or a whole column (a missing required
        column) still refuses the tape, and so does a tape with no valid row.

    Returns
    -------
    PoolData
        ``frame`` of shape (n_assets, len(ASSET_COLUMNS)) with canonical columns and dtypes,
        every behavioural field filled; rates are annual decimals, term and age in months,
        balances in currency units. ``assumptions`` lists every filled value aggregated as
        {field, asset_class, grade, value, source, n_assets, basis}; ``warnings`` lists every
        conversion, and first the text encoding when it was not plain UTF-8; ``metadata``
        records the source file, its kind and encoding (``source_encoding``; None for Parquet
        and Excel), the format and mapping notes.

    Raises
    ------
    InputError
        Unreadable or unsupported file, unrecognised format, unknown ``format``, a loan-record
        tape without ``cutoff_date``, undecodable text, a file beyond an input limit of
        :mod:`engine.limits` (size, rows, columns, cell length, JSON depth; the message names
        the setting that raises it).
    ValidationError
        Every bad row and field at once (1-based data row, column as named in the tape, value,
        rule): missing required columns, non-numeric or missing values, rates outside [0, 1],
        non-positive balances (unless paid_off), term not above age, unknown asset_class /
        rate_type / status, duplicate asset_id, recovery_rate + loss_severity ≠ 1, an empty file;
        implausible values (term over 600 months, balance over 1e10); column names over 256
        characters, given twice, or differing only in case.
    """
    if format not in _FORMATS:
        raise InputError(f"Unknown tape format {format!r}; valid: {', '.join(_FORMATS)}.")
    read = read_source(source, filename=filename)
    subject = f"pool file {read.name}"
    metadata_in = read.pool.get("metadata")
    if metadata_in is not None and not isinstance(metadata_in, dict):
        raise ValidationError([Issue(row=None, column="metadata", value=shorten(metadata_in),
                                     rule="must be a JSON object of facts about the pool",
                                     where="field")], subject=subject)
    cutoff = _as_date(cutoff_date, "cutoff_date") or _as_date(read.pool.get("cutoff_date"), "cutoff_date")

    if bad_rows not in BAD_ROWS:
        raise InputError(f"Unknown bad_rows {bad_rows!r}; valid: {', '.join(BAD_ROWS)}.")
    log = IssueLog()
    mapped = map_tape(read.frame, fmt=format, cutoff_date=cutoff, log=log, mapping=mapping)
    units = tuple(mapping.units) if mapping is not None else ()
    warnings = list(mapped.warnings)
    frame = validate_frame(mapped.frame, log=log, warnings=warnings, explicit_units=units)
    quarantine: list[dict[str, Any]] = []
    if log:
        whole = any(i.row is None for i in log.issues)
        bad = sorted({i.row for i in log.issues if i.row is not None})
        if bad_rows == "refuse" or whole or len(bad) >= len(mapped.frame):
            raise ValidationError(log.sorted(), subject=subject)
        quarantine = _quarantine(read.frame, log)
        keep = np.ones(len(mapped.frame), dtype=bool)
        keep[np.asarray(bad, dtype=np.int64) - 1] = False
        again = IssueLog(log.source_names)
        warnings = list(mapped.warnings)
        frame = validate_frame(mapped.frame[keep].reset_index(drop=True), log=again,
                               warnings=warnings, explicit_units=units)
        if again:  # a rule that spans rows and still fails without the bad ones: refuse
            raise ValidationError(again.sorted(), subject=subject)
        shown = ", ".join(map(str, bad[:20])) + (" …" if len(bad) > 20 else "")
        warnings.append(f"{len(bad):,} of {len(mapped.frame):,} rows broke a rule and were "
                        f"quarantined (kept with the pool, not stress-tested): rows {shown}.")
    if read.encoding not in (None, "utf-8"):
        warnings.insert(0, f"{read.name} was read as {_ENCODINGS.get(read.encoding, read.encoding)}.")

    table = assumptions if assumptions is not None else load_assumptions()
    filled = fill_behavioural(frame, table)
    frame["recovery_lag"] = frame["recovery_lag"].round().astype("int64")
    frame = frame.reset_index(drop=True)

    stem = Path(read.name).name
    for suffix in (".gz", ".csv", ".parquet", ".pq", ".json", ".xlsx", ".txt"):
        stem = stem.removesuffix(suffix)
    metadata: dict[str, Any] = dict(read.pool.get("metadata") or {})
    metadata.update(mapped.metadata)
    metadata.update({
        "source_file": read.name,
        "source_kind": read.kind,
        "source_encoding": read.encoding,
        "source_format": mapped.format,
        "n_rows_read": int(len(read.frame)),
        "assumption_table": table.name,
    })
    if quarantine:
        metadata["n_quarantined"] = len(quarantine)
    pool = PoolData(
        pool_id=str(pool_id or read.pool.get("pool_id") or stem or "pool"),
        pool_name=str(pool_name or read.pool.get("pool_name") or read.name),
        frame=frame,
        cutoff_date=mapped.cutoff_date,
        metadata=metadata,
        assumptions=filled,
        warnings=warnings,
        source_format=mapped.format,
        quarantine=quarantine,
    )
    return pool


def _cell(value: Any) -> Any:
    """A cell as read, as a JSON value (text, number, bool or None)."""
    value = _plain(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.isoformat()
    return shorten(value, 200)


def _quarantine(raw: pd.DataFrame, log: IssueLog) -> list[dict[str, Any]]:
    """One record per bad row: its 1-based data row, its cells as read, every rule it broke."""
    by_row: dict[int, list[dict[str, Any]]] = {}
    for issue in log.issues:
        if issue.row is not None:
            by_row.setdefault(issue.row, []).append(
                {"column": issue.column, "value": _cell(issue.value), "rule": issue.rule})
    names = [str(c) for c in raw.columns]
    out = []
    for row in sorted(by_row):
        cells = raw.iloc[row - 1].tolist()
        out.append({"source_row": row,
                    "values": {n: _cell(v) for n, v in zip(names, cells, strict=True)},
                    "issues": by_row[row]})
    return out


@dataclass(frozen=True)
class PoolPreview:
    """A tape mapped and validated, nothing stored: what the mapping editor shows.

    Attributes
    ----------
    frame : DataFrame of shape (min(n_rows, head), len(ASSET_COLUMNS))
        The first rows in canonical columns (rates decimal, term and age in months); behavioural
        values the tape lacks are NaN here (filled from the assumption table on import); a
        cell that broke a rule is NaN or as the tape had it.
    issues : list of Issue
        Every problem of the whole tape, in file order (row None: the file or a whole column).
    n_rows, n_valid, n_invalid : int
        Data rows read; rows breaking no rule; rows breaking at least one. A whole-file or
        whole-column issue makes every row invalid.
    warnings : list of str
        Conversions the mapping and the checks made.
    """

    frame: pd.DataFrame
    issues: list[Issue]
    n_rows: int
    n_valid: int
    n_invalid: int
    warnings: list[str]


def preview_pool(source: Source | TableRead, *, filename: str | None = None,
                 mapping: ColumnMapping, cutoff_date: dt.date | None,
                 head: int = 20) -> PoolPreview:
    """Map and validate a whole tape with ``mapping``; return its first rows and every issue.

    Parameters
    ----------
    source : path, bytes, file-like, or a TableRead already read
    filename : str, optional
        The upload's name (chooses the reader).
    mapping : ColumnMapping
    cutoff_date : date or None
        Needed when the mapping derives age from dates.
    head : int, default 20
        Rows of the canonical frame to return.

    Returns
    -------
    PoolPreview

    Raises
    ------
    InputError
        Unreadable file; a mapping that derives age without a cutoff date.
    """
    read = source if isinstance(source, TableRead) else read_source(source, filename=filename)
    log = IssueLog()
    mapped: Mapped = map_tape(read.frame, fmt="auto", cutoff_date=cutoff_date, log=log,
                              mapping=mapping)
    warnings = list(mapped.warnings)
    frame = validate_frame(mapped.frame, log=log, warnings=warnings,
                           explicit_units=tuple(mapping.units))
    n = len(mapped.frame)
    if any(i.row is None for i in log.issues):
        n_invalid = n
    else:
        n_invalid = len({i.row for i in log.issues})
    shown = frame.head(head).reset_index(drop=True)
    shown = shown.astype({c: "float64" for c, t in ASSET_COLUMNS.items()
                          if t == "int64" and shown[c].dtype.kind == "f"})
    return PoolPreview(frame=shown, issues=log.sorted(), n_rows=n, n_valid=n - n_invalid,
                       n_invalid=n_invalid, warnings=warnings)
