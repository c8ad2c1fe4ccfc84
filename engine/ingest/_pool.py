"""read_pool: any loan tape → a validated :class:`~engine.ingest.models.PoolData`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any


from engine.ingest.models import PoolData
from engine.errors import InputError, Issue, ValidationError
from engine.limits import shorten

from ._assumptions import AssumptionTable, fill_behavioural, load_assumptions
from ._issues import IssueLog
from ._mappings import FORMATS, map_tape
from ._readers import Source, read_source
from ._validate import validate_frame

__all__ = ["read_pool"]

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

    log = IssueLog()
    mapped = map_tape(read.frame, fmt=format, cutoff_date=cutoff, log=log)
    warnings = list(mapped.warnings)
    if read.encoding not in (None, "utf-8"):
        warnings.insert(0, f"{read.name} was read as {_ENCODINGS.get(read.encoding, read.encoding)}.")
    frame = validate_frame(mapped.frame, log=log, warnings=warnings)
    if log:
        raise ValidationError(log.sorted(), subject=subject)

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
    pool = PoolData(
        pool_id=str(pool_id or read.pool.get("pool_id") or stem or "pool"),
        pool_name=str(pool_name or read.pool.get("pool_name") or read.name),
        frame=frame,
        cutoff_date=mapped.cutoff_date,
        metadata=metadata,
        assumptions=filled,
        warnings=warnings,
        source_format=mapped.format,
    )
    return pool
