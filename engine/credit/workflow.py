"""The credit workflows: every user action on pools, scenarios and stress runs, as one function.

The ``stresslab`` command, the pages and the HTTP API call these and nothing below them. Each
takes a typed request (or plain ids) and a :class:`~engine.store.Store` (``None`` = the default
store, ``$STRESSLAB_DB``), and keeps the store only for short sessions:

* reads (pools, scenarios, runs) open one read session;
* :func:`import_pool` reads and validates the tape with the store closed, then stores the pool
  in one write transaction;
* :func:`run_stress` reads its inputs (pool, scenario library, cached results) in read sessions,
  computes with the store released, and records the run, its results, cashflows, loan rows and
  new cache entries in one write transaction.

A run's configuration is its :class:`StressRunRequest`, stored as JSON in ``runs``;
:func:`load_run` rebuilds it and reopens the results without recomputing anything.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import date
from time import monotonic as _monotonic
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from engine.audit.runs import new_run_id, stored_request, utc_now
from engine.credit import _store
from engine.credit._cache import PrefetchedCache
from engine.credit._scenarios import (
    RESERVED_KEYS,
    CustomKey,
    CustomScenario,
    Scenario,
    builtin_scenarios,
    check_custom_key,
    make_scenario,
)
from engine.credit._seed import LENDING_CLUB_FILE, LENDING_CLUB_FOLDER, SEED_POOL_ID, seed_pool
from engine.credit._summary import pool_breakdown as _pool_breakdown
from engine.credit._summary import pool_summary as _pool_summary
from engine.credit.models import (
    AnalysisRequest,
    PoolData,
    ScenarioInfo,
    ScenarioSpec,
    StressTestBody,
    StressTestRequest,
    StressTestResult,
)
from engine.errors import InputError, NotFoundError, ScenarioError, StoreError, from_pydantic
from engine.ingest import VALUE_FIELDS, AssumptionTable, load_assumptions, read_table
from engine.ingest import BAD_ROWS, MAX_VALUE_MAP, ColumnMapping, MappingSuggestion, PoolPreview
from engine.ingest import preview_pool as _preview_tape
from engine.ingest import read_source as _read_source
from engine.ingest import distinct_values as _distinct_values
from engine.ingest import suggest_mapping as _suggest_columns
from engine.ingest import detect_format as _detect_columns
from engine.ingest import read_pool as _read_tape
from engine.requests import ExecutorChoice, Request
from engine.store import Store, transaction
from engine.tasks.workflow import TaskReporter, TaskRunner, websocket_url

if TYPE_CHECKING:
    from engine.credit._runner import ChunkProgress, Progress

# The runner and the loan views load numba's kernels (about 0.3 s): they are imported by the
# functions that project, so that listing or importing pools stays quick.

__all__ = [
    "TAPE_FORMATS",
    "BREAKDOWN_COLUMNS",
    "ImportPoolRequest",
    "export_pool_partitions",
    "PoolImported",
    "StressRunRequest",
    "StressRun",
    "read_pool",
    "detect_format",
    "import_pool",
    "save_pool",
    "list_pools",
    "load_pool",
    "delete_pool",
    "pool_summary",
    "pool_breakdown",
    "BAD_ROWS",
    "suggest_mapping",
    "preview_mapping",
    "column_values",
    "parse_mapping",
    "MAX_MAPPING_BYTES",
    "mapping_json",
    "save_mapping",
    "load_mapping",
    "list_mappings",
    "delete_mapping",
    "quarantined_rows",
    "quarantine_count",
    "quarantine_csv",
    "assumption_table",
    "scenario_library",
    "custom_scenarios",
    "save_scenario",
    "duplicate_scenario",
    "delete_scenario",
    "import_scenarios",
    "FedImported",
    "import_fed_scenarios",
    "run_stress",
    "load_run",
    "list_runs",
    "count_runs",
    "loan_path",
    "TreasuryCurveView",
    "treasury_curve",
    "curve_dates",
    "seed_store",
    "StressTaskAccepted",
    "stress_request",
    "scenario_count",
    "run_stress_body",
    "start_stress_task",
    "scenario_catalogue",
    "cache_health",
]

TapeFormat = Literal["auto", "native", "lendingclub", "loan-record"]
#: The tape layouts a user may name (``auto`` recognises it from the header).
TAPE_FORMATS: tuple[str, ...] = ("auto", "native", "lendingclub", "loan-record")
#: Loan attributes a pool can be broken down by.
BREAKDOWN_COLUMNS: tuple[str, ...] = ("asset_class", "grade", "status", "rate_type", "term")
#: The source recorded for assumption values edited in the app.
EDITED_SOURCE = "edited in the app"


def _store_or_default(store: Store | None) -> Store:
    return store if store is not None else Store()


# --------------------------------------------------------------------------- pools

class ImportPoolRequest(Request):
    """A loan tape to read (and store): a file, or uploaded bytes with their file name.

    Attributes
    ----------
    path : Path, optional
        A tape file (CSV, .csv.gz, Parquet, JSON, Excel .xlsx).
    content : bytes, optional
        An upload's bytes; ``filename`` then gives the extension (it chooses the reader).
    filename : str, optional
    format : {"auto", "native", "lendingclub", "loan-record"}
        The tape's layout; ``auto`` recognises it from the header.
    pool_id, pool_name : str, optional
        Default: the JSON pool's own, else the file name's stem (id) and the file name (name).
    cutoff_date : date, optional
        The date balances and ages refer to (required for loan-record tapes).
    assumptions_path : Path, optional
        A complete assumption table (CSV) replacing the packaged one.
    assumption_edits : list of dict, optional
        Rows of the assumption table as edited in the app (``asset_class``, ``grade`` and the
        value fields); only values that differ from the table override it, with the source
        "edited in the app".
    mapping : ColumnMapping, optional
        A user's column mapping, applied instead of a known layout (``format`` is then
        ignored; see :class:`engine.ingest.ColumnMapping`).
    bad_rows : {"refuse", "quarantine"}, default "refuse"
        ``refuse``: one bad row refuses the tape and nothing is stored. ``quarantine``: the
        valid rows are imported and the bad ones kept with the pool (source row, values, every
        rule broken), counted and downloadable; a tape with no valid row is still refused.
    """

    subject: ClassVar[str] = "pool import"

    path: Path | None = None
    content: bytes | None = None
    filename: str | None = None
    format: TapeFormat = "auto"
    pool_id: str | None = Field(default=None, min_length=1, max_length=200)
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    cutoff_date: date | None = None
    assumptions_path: Path | None = None
    assumption_edits: list[dict[str, Any]] | None = None
    mapping: ColumnMapping | None = None
    bad_rows: Literal["refuse", "quarantine"] = "refuse"

    @model_validator(mode="after")
    def _one_source(self) -> "ImportPoolRequest":
        if (self.path is None) == (self.content is None):
            raise ValueError("give exactly one of path (a file) or content (uploaded bytes)")
        if self.content is not None and not self.filename:
            raise ValueError("uploaded content needs its filename (the extension chooses the reader)")
        return self


class PoolImported(BaseModel):
    """A pool as stored: what was read, what was assumed, what was converted.

    Attributes
    ----------
    pool_id, pool_name, source_format : str
    n_assets : int
    total_balance : float
        Currency units.
    cutoff_date : date or None
    assumptions : list of dict
        Every filled value: {field, asset_class, grade, value, source, n_assets, basis}.
    warnings : list of str
        Conversions made on the way in.
    created : bool
        False when the same pool was already stored under this id (nothing written).
    n_quarantined : int
        Rows of the tape that broke a rule and were kept with the pool instead of imported
        (0 unless the import quarantined bad rows). When ``created`` is False, the count the
        store holds (a warning says so when this tape's count differs).
    """

    model_config = ConfigDict(frozen=True)

    pool_id: str
    pool_name: str
    source_format: str
    n_assets: int
    total_balance: float
    cutoff_date: date | None
    assumptions: list[dict[str, Any]]
    warnings: list[str]
    created: bool = True
    n_quarantined: int = 0

    def to_frame(self) -> pd.DataFrame:
        """The assumptions applied, one row per (field, asset class, grade, value, source)."""
        return pd.DataFrame(self.assumptions)


def _imported(pool: PoolData, *, created: bool,
              stored_quarantined: int | None = None) -> PoolImported:
    """The import result; when nothing was written (``created`` False) the quarantined count
    is the stored one, and a warning says so when this tape's differs."""
    warnings = list(pool.warnings)
    n_quarantined = pool.n_quarantined
    if not created and stored_quarantined is not None:
        if stored_quarantined != pool.n_quarantined:
            warnings = [w for w in warnings if "were quarantined (kept with the pool" not in w]
            warnings.append(
                f"The same valid loans are already stored as {pool.pool_id!r}, so nothing was "
                f"written: the stored pool keeps its {stored_quarantined:,} quarantined rows "
                f"(this tape has {pool.n_quarantined:,}). Delete the stored pool first to "
                "store this tape's quarantine.")
        n_quarantined = stored_quarantined
    return PoolImported(pool_id=pool.pool_id, pool_name=pool.pool_name,
                        source_format=pool.source_format, n_assets=pool.n_assets,
                        total_balance=pool.total_balance, cutoff_date=pool.cutoff_date,
                        assumptions=pool.assumptions, warnings=warnings, created=created,
                        n_quarantined=n_quarantined)


def _assumptions(path: Path | None, edits: list[dict[str, Any]] | None = None) -> AssumptionTable:
    """The packaged assumption table, or the file at ``path``, with ``edits`` applied."""
    table = load_assumptions(path) if path is not None else load_assumptions()
    if edits:
        edited = pd.DataFrame.from_records(edits)
        if "asset_class" not in edited.columns:
            raise InputError("edited assumptions need an asset_class column (and grade for "
                             "grade rows)")
        if "grade" not in edited.columns:
            edited["grade"] = None
        from engine.credit._views import assumption_changes
        changes = assumption_changes(table.to_frame(), edited=edited, fields=VALUE_FIELDS)
        if len(changes):
            table = table.override(changes, source=EDITED_SOURCE)
    return table


def read_pool(request: ImportPoolRequest) -> PoolData:
    """Read, map and validate a loan tape, storing nothing (the app's preview).

    Parameters
    ----------
    request : ImportPoolRequest

    Returns
    -------
    PoolData
        Canonical columns, every behavioural field filled (see :func:`engine.ingest.read_pool`).

    Raises
    ------
    InputError
        Unreadable or missing file, unrecognised format, a missing assumption file.
    ValidationError
        Every bad row and field of the tape (or of the assumption table) at once; with
        ``bad_rows="quarantine"`` only whole-file or whole-column problems, or no valid row.
    """
    table = _assumptions(request.assumptions_path, request.assumption_edits)
    source = request.path if request.path is not None else request.content
    return _read_tape(source, filename=request.filename, format=request.format,
                      pool_id=request.pool_id, pool_name=request.pool_name,
                      cutoff_date=request.cutoff_date, assumptions=table,
                      mapping=request.mapping, bad_rows=request.bad_rows)


def detect_format(content: bytes, *, filename: str) -> str:
    """The layout of an uploaded tape, recognised from its header.

    Returns
    -------
    str
        ``native``, ``lendingclub`` or ``loan-record``.

    Raises
    ------
    InputError
        If the file cannot be read, or no layout fits its header (the message lists each
        layout's key columns).
    """
    return _detect_columns(read_table(content, filename=filename).columns)


def save_pool(pool: PoolData, *, source_file: str | None = None,
              store: Store | None = None) -> PoolImported:
    """Store an already validated pool in one write transaction.

    Raises
    ------
    InputError
        If another pool with other content is stored under the same id.
    StoreBusyError
        If the store stayed busy for longer than its wait.
    """
    with _store_or_default(store).write() as con, transaction(con):
        created = _store.save_pool(con, pool=pool, source_file=source_file)
        stored = None if created else _store.quarantine_count(con, pool.pool_id)
    return _imported(pool, created=created, stored_quarantined=stored)


def import_pool(request: ImportPoolRequest, *, store: Store | None = None) -> PoolImported:
    """Read, validate and store a loan tape (the store is held only for the write).

    Raises
    ------
    InputError, ValidationError
        As :func:`read_pool`, or a different pool already stored under the id.
    """
    pool = read_pool(request)
    source = str(request.path) if request.path is not None else request.filename
    return save_pool(pool, source_file=source, store=store)


def list_pools(*, store: Store | None = None) -> pd.DataFrame:
    """Stored pools, newest first.

    Returns
    -------
    DataFrame
        pool_id, pool_name, source_format, n_assets, total_balance (currency units),
        cutoff_date, created_at.
    """
    with _store_or_default(store).read() as con:
        return _store.list_pools(con)


def load_pool(pool_id: str, *, store: Store | None = None) -> PoolData:
    """A stored pool.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    with _store_or_default(store).read() as con:
        return _store.load_pool(con, pool_id)


def export_pool_partitions(pool_id: str, *, directory: str | Path, n_partitions: int,
                           loan_level: bool = False, store: Store | None = None):
    """Write a stored pool's loan arrays as Parquet partitions for ``--executor dask`` runs.

    The arrays are those a run of the pool at its cutoff date projects (the packaged CDR floor of
    delinquent loans applied), in the run's order: sorted for the fast kernel, or the pool's own
    order with ``loan_level``. Each partition holds whole chunks of
    :data:`~engine.credit._runner.CHUNK_SIZE` loans; ``manifest.json`` records the pool's
    content hash, so a run whose pool differs (another analysis date, assumption table or
    order) refuses them (:mod:`engine.credit._partitions`).

    Parameters
    ----------
    pool_id : str
    directory : str or Path
        A new or empty directory, local or an fsspec URL (``s3://bucket/dir``) the workers see.
    n_partitions : int
        Partitions wanted, >= 1 (at most one per chunk).
    loan_level : bool
        Partitions for loan-level runs (the pool's order).
    store : Store, optional

    Returns
    -------
    PartitionManifest

    Raises
    ------
    NotFoundError
        If no pool has this id.
    InputError
        If ``n_partitions < 1`` or the directory already holds partitions.
    """
    from engine.credit._cashflows import LoanArrays
    from engine.credit._partitions import write_partitions
    from engine.credit._runner import CHUNK_SIZE, packaged_delinquent_cdr

    pool = load_pool(pool_id, store=store)
    cdr = packaged_delinquent_cdr()
    loans = LoanArrays.from_frame(pool.frame, delinquent_cdr=cdr)
    if not loan_level:
        loans = loans.sorted_for_projection()
    return write_partitions(loans, directory=directory, n_partitions=n_partitions,
                            chunk_size=CHUNK_SIZE, order="pool" if loan_level else "projection",
                            pool_hash=pool.content_hash(), delinquent_cdr=cdr)


def delete_pool(pool_id: str, *, store: Store | None = None) -> None:
    """Delete a stored pool and its loans (its past runs stay readable).

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    with _store_or_default(store).write() as con, transaction(con):
        _store.delete_pool(con, pool_id)


def pool_summary(pool_id: str, *, store: Store | None = None) -> dict[str, Any]:
    """Count, balance and balance-weighted averages of a stored pool
    (see :func:`engine.credit.pool_summary`).

    Raises
    ------
    NotFoundError
        If no pool has this id.

    Notes
    -----
    Adds ``n_quarantined``: rows of the tape quarantined on import (not in the pool's figures).
    """
    store = _store_or_default(store)
    with store.read() as con:
        pool = _store.load_pool(con, pool_id)
        n_quarantined = _store.quarantine_count(con, pool_id)
    return {**_pool_summary(pool), "n_quarantined": n_quarantined}


def pool_breakdown(pool_id: str, *, by: str, store: Store | None = None) -> pd.DataFrame:
    """Loans and balance of a stored pool split by ``by`` (see :func:`engine.credit.pool_breakdown`).

    Parameters
    ----------
    by : {"asset_class", "grade", "status", "rate_type", "term"}

    Raises
    ------
    InputError
        If ``by`` is not one of :data:`BREAKDOWN_COLUMNS`.
    NotFoundError
        If no pool has this id.
    """
    if by not in BREAKDOWN_COLUMNS:
        raise InputError(f"cannot break a pool down by {by!r}; choose one of "
                         f"{', '.join(BREAKDOWN_COLUMNS)}")
    return _pool_breakdown(load_pool(pool_id, store=store), by)


# --------------------------------------------------------------------------- column mappings

#: Rows of a tape the mapping suggestions and the value-map editor look at.
SAMPLE_ROWS = 500


def suggest_mapping(content: bytes, *, filename: str,
                    sample_rows: int = SAMPLE_ROWS) -> MappingSuggestion:
    """Suggest a column mapping for an upload from its header and its first rows.

    Parameters
    ----------
    content, filename : bytes, str
        The uploaded tape and its name (the extension chooses the reader).
    sample_rows : int, default 500
        Rows looked at for each column's kind (numeric, date, text), the rate units and the
        distinct values.

    Returns
    -------
    MappingSuggestion
        Per StressLab field the suggested source column (by name: field names, synonyms,
        difflib similarity; by kind), rate units, date columns and format, and the distinct
        values of text columns over the whole tape, at most 50 each, most frequent first (see
        :func:`engine.ingest.suggest_mapping`).

    Raises
    ------
    InputError, ValidationError
        If the file cannot be read (as :func:`read_pool`).
    """
    frame = _read_source(content, filename=filename).frame
    suggestion = _suggest_columns(frame.head(sample_rows))
    text = [c for c, k in suggestion.kinds.items() if k == "text"]
    return suggestion.model_copy(update={"distinct": _distinct_values(frame, columns=text)})


def column_values(content: bytes, *, filename: str, column: str,
                  limit: int = MAX_VALUE_MAP) -> list[str]:
    """The distinct values of one column of an upload, most frequent first (for the value-map
    editor: any column chosen for ``status``, ``asset_class`` or ``rate_type``, numeric codes
    such as a delinquency status 0/1/2/3 included).

    Returns
    -------
    list of str
        At most ``limit`` (default :data:`engine.ingest.MAX_VALUE_MAP`, 500) values, as a value
        map compares them (stripped text, whole numbers without ``.0``); missing cells left out.

    Raises
    ------
    InputError, ValidationError
        If the file cannot be read (as :func:`read_pool`), or it has no column ``column``.
    """
    frame = _read_source(content, filename=filename).frame
    names = [str(c) for c in frame.columns]
    if column not in names:
        raise InputError(f"the tape has no column {column!r}")
    values = pd.DataFrame({column: frame.iloc[:, names.index(column)]})
    return _distinct_values(values, columns=[column], limit=limit)[column]


def preview_mapping(content: bytes, *, filename: str, mapping: ColumnMapping,
                    cutoff_date: date | None, head: int = 20) -> PoolPreview:
    """The first rows of an upload mapped with ``mapping``, and the whole tape's validation
    result; nothing is stored.

    Returns
    -------
    PoolPreview
        ``frame`` (the first ``head`` rows, canonical columns), ``issues`` (every problem:
        row, column, value, rule), ``n_rows``, ``n_valid``, ``n_invalid`` and ``warnings``.

    Raises
    ------
    InputError
        If the file cannot be read, or the mapping derives age and no cutoff date is given.
    """
    return _preview_tape(content, filename=filename, mapping=mapping, cutoff_date=cutoff_date,
                         head=head)


#: Largest column-mapping JSON read (bytes); a bigger file is refused before it is parsed.
MAX_MAPPING_BYTES = 1_000_000


def parse_mapping(content: bytes | str, *, name: str = "mapping file") -> ColumnMapping:
    """A column mapping from its JSON (as :func:`mapping_json` writes it).

    Raises
    ------
    ValidationError
        If the JSON is not a valid mapping (every field, value and rule at once).
    InputError
        If it is larger than :data:`MAX_MAPPING_BYTES` (checked before parsing), or not JSON.
    """
    from engine.limits import parse_json

    data = content.encode() if isinstance(content, str) else bytes(content)
    if len(data) > MAX_MAPPING_BYTES:
        raise InputError(f"{name} is {len(data):,} bytes; a column mapping is at most "
                         f"{MAX_MAPPING_BYTES:,} bytes (1 MB: 15 fields and 3 value maps of at "
                         f"most {MAX_VALUE_MAP} values take far less). Is it the right file?")
    obj = parse_json(data, name=name)
    try:
        return ColumnMapping.model_validate(obj)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, subject=name) from None


def mapping_json(mapping: ColumnMapping) -> str:
    """A column mapping as indented JSON (what the page downloads and the command exports)."""
    return json.dumps(mapping.model_dump(mode="json", exclude_defaults=True), indent=2) + "\n"


def save_mapping(mapping: ColumnMapping, *, store: Store | None = None) -> bool:
    """Save a column mapping under its name, replacing one of the same name.

    Returns
    -------
    bool
        True if the name was new.
    """
    with _store_or_default(store).write() as con, transaction(con):
        return _store.save_mapping(con, mapping=mapping)


def load_mapping(name: str, *, store: Store | None = None) -> ColumnMapping:
    """A saved column mapping.

    Raises
    ------
    NotFoundError
        If none is saved under ``name``.
    """
    with _store_or_default(store).read() as con:
        return _store.load_mapping(con, name)


def list_mappings(*, store: Store | None = None) -> pd.DataFrame:
    """Saved column mappings: name, n_fields, derives_dates, created_at, updated_at (UTC)."""
    with _store_or_default(store).read() as con:
        return _store.list_mappings(con)


def delete_mapping(name: str, *, store: Store | None = None) -> None:
    """Delete a saved column mapping.

    Raises
    ------
    NotFoundError
        If none is saved under ``name``.
    """
    with _store_or_default(store).write() as con, transaction(con):
        _store.delete_mapping(con, name)


def quarantined_rows(pool_id: str, *, store: Store | None = None) -> pd.DataFrame:
    """The rows of a stored pool's tape quarantined on import, one per row.

    Returns
    -------
    DataFrame
        ``stresslab_source_row`` (1-based data row of the tape), ``stresslab_issues`` (every
        rule broken, as "column: rule (value …)" joined by " | "), then the tape's columns as
        read (named so that a tape column called ``source_row`` or ``issues`` keeps its name
        and its values). Empty (the two added columns) when none was quarantined.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    with _store_or_default(store).read() as con:
        rows = _store.quarantined_rows(con, pool_id)

    def said(issue: dict[str, Any]) -> str:
        value = "" if issue.get("value") is None else f" (value {issue['value']!r})"
        return f"{issue.get('column') or 'row'}: {issue['rule']}{value}"

    frame = pd.DataFrame({QUARANTINE_ROW: [r["source_row"] for r in rows],
                          QUARANTINE_ISSUES: [" | ".join(map(said, r["issues"])) for r in rows]})
    names = list(dict.fromkeys(n for r in rows for n in r["values"]))
    values = pd.DataFrame({n: _as_read([r["values"].get(n) for r in rows]) for n in names},
                          index=frame.index)
    return pd.concat([frame, values], axis=1) if len(values.columns) else frame


def _as_read(cells: list[Any]) -> pd.Series:
    """One tape column of the quarantined rows, its cells as the tape wrote them: a column of
    numbers stays numeric (whole numbers without ``.0``: -5, not -5.0); in a column that mixes
    text and numbers, every cell is text, whole numbers again without ``.0``."""
    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    given = [v for v in cells if v is not None]
    whole = all(isinstance(v, int) or v.is_integer() for v in given if number(v))
    if given and all(number(v) for v in given):
        return pd.Series(cells, dtype="Int64" if whole else "float64")
    return pd.Series([str(int(v)) if number(v) and float(v).is_integer() else
                      (None if v is None else str(v)) for v in cells], dtype=object)


def quarantine_count(pool_id: str, *, store: Store | None = None) -> int:
    """How many rows of a stored pool's tape are quarantined (as stored).

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    with _store_or_default(store).read() as con:
        return _store.quarantine_count(con, pool_id)


#: The columns :func:`quarantined_rows` puts before the tape's own.
QUARANTINE_ROW, QUARANTINE_ISSUES = "stresslab_source_row", "stresslab_issues"


def quarantine_csv(pool_id: str, *, store: Store | None = None) -> bytes:
    """:func:`quarantined_rows` as UTF-8 CSV (what the page and the command download), safe
    to open in a spreadsheet: text cells and column names that start like a formula (``=``,
    ``+``, ``-``, ``@``, tab, CR) are prefixed with a single quote
    (:func:`engine.export.to_safe_csv`).

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    from engine.export import to_safe_csv

    return to_safe_csv(quarantined_rows(pool_id, store=store))


def assumption_table() -> pd.DataFrame:
    """The packaged assumption table, for the app's editor.

    Returns
    -------
    DataFrame
        asset_class, grade (<NA> = any grade), the value fields (prepayment_speed and
        default_probability as annual CPR / CDR, decimal; recovery_rate, decimal; recovery_lag,
        months; delinquent_default_probability, annual CDR) and one ``<field>_source`` per value.
    """
    return load_assumptions().to_frame()


# --------------------------------------------------------------------------- scenarios

def scenario_library(*, store: Store | None = None) -> dict[str, Scenario]:
    """Predefined, then Federal Reserve, then the stored custom scenarios, by key."""
    with _store_or_default(store).read() as con:
        return _store.scenario_library(con)


def custom_scenarios(*, store: Store | None = None) -> dict[str, Scenario]:
    """The stored custom scenarios, by key, oldest first."""
    with _store_or_default(store).read() as con:
        return _store.custom_scenarios(con)


def save_scenario(key: str, *, scenario: Scenario, store: Store | None = None) -> None:
    """Insert or update the custom scenario ``key`` (stripped of surrounding blanks).

    Raises
    ------
    ScenarioError
        If ``key`` is empty, too long, holds invisible characters, or shadows a built-in key in
        any case or spacing (``Base``, ``credit-crisis``, ``all``; see
        :func:`~engine.credit._scenarios.custom_key_problem`).
    """
    key = check_custom_key(key)
    with _store_or_default(store).write() as con, transaction(con):
        _store.save_scenario(con, key=key, scenario=scenario)


def duplicate_scenario(key: str, *, store: Store | None = None) -> str:
    """Copy scenario ``key`` (any source) as a new custom scenario "<name> (copy)".

    Returns
    -------
    str
        The new key: ``<key>_copy``, or ``<key>_copy2``, ``<key>_copy3``, … if taken.

    Raises
    ------
    NotFoundError
        If the library has no scenario ``key``.
    """
    with _store_or_default(store).write() as con, transaction(con):
        library = _store.scenario_library(con)
        if key not in library:
            raise NotFoundError(f"no scenario {key!r} to duplicate")
        src = library[key]
        new_key = check_custom_key(next(
            k for k in (f"{key}_copy{'' if n == 1 else n}" for n in range(1, 10_000))
            if k not in library))
        copy = make_scenario(f"{src.name} (copy)"[:120], description=src.description,
                             market_factors=src.market_factors.model_dump())
        _store.save_scenario(con, key=new_key, scenario=copy)
    return new_key


def delete_scenario(key: str, *, store: Store | None = None) -> None:
    """Delete the custom scenario ``key``.

    Raises
    ------
    NotFoundError
        If no custom scenario has this key.
    """
    with _store_or_default(store).write() as con, transaction(con):
        _store.delete_scenario(con, key)


def import_scenarios(content: bytes, *, name: str = "the scenario file",
                     store: Store | None = None) -> list[str]:
    """Store every scenario of a JSON file (key → {name, description, market_factors}), or none.

    Parameters
    ----------
    content : bytes
        The file's bytes (see :func:`engine.credit._views.scenarios_from_json`).
    name : str
        The file as the user knows it, for messages.
    store : Store, optional

    Returns
    -------
    list of str
        The keys stored, in file order (an existing custom scenario of the same key is
        replaced).

    Raises
    ------
    InputError
        Not JSON, too large or too deeply nested, not an object of scenarios, or no scenario;
        nothing is stored.
    ValidationError
        Every bad key (blank, or shadowing a built-in key such as ``base`` in any case or
        spacing), unknown field or factor, and factor that is not a number or out of range, at
        once; nothing is stored.
    """
    from engine.credit._views import scenarios_from_json
    parsed = scenarios_from_json(content, name=name)
    with _store_or_default(store).write() as con, transaction(con):
        return [_store.save_scenario(con, key=k, scenario=sc) for k, sc in parsed.items()]


class FedImported(BaseModel):
    """What :func:`import_fed_scenarios` stored.

    Attributes
    ----------
    year : int
        Year of the first projected quarter.
    jump_off_quarter, horizon : str
        ``2025 Q4``; ``2026 Q1 – 2029 Q1``.
    stored : list of str
        Keys stored (an existing stored scenario of the same key is replaced).
    built_in : list of str
        Keys equal to a built-in scenario, bit for bit, so not stored again (an import of the
        bundled 2025 tables).
    files : dict of str to str
        ``historic``, ``baseline``, ``severely_adverse`` → the file each was read from.
    ignored : list of str
        Each file left aside and why (the International tables, files that are not CSV).
    """

    model_config = ConfigDict(frozen=True)

    year: int
    jump_off_quarter: str
    horizon: str
    stored: list[str]
    built_in: list[str]
    files: dict[str, str]
    ignored: list[str]


def import_fed_scenarios(source: Path | dict[str, bytes], *, name: str | None = None,
                         store: Store | None = None) -> FedImported:
    """Store the Federal Reserve Baseline and Severely Adverse scenarios of any year.

    The Board's tables are recognised by their columns and ``Scenario Name`` values, not their
    file names (:mod:`engine.credit._fed`), and translated by
    :data:`~engine.credit._scenarios.FED_RULE`, each scenario twice: by its peak and as its
    quarterly path. Keys: ``<prefix>_baseline``, ``<prefix>_severely_adverse``,
    ``<prefix>_baseline_path``, ``<prefix>_severely_adverse_path``, where the prefix is
    ``fed_<year>`` (the year of the first projected quarter), or ``name`` when given (so two
    versions of one year can be kept: ``name="fed_2026_final"``). Scenario names stay the
    Board's ("Fed 2026 Supervisory Baseline").

    Parameters
    ----------
    source : Path or dict of str to bytes
        A folder or ``.zip`` of the Board's CSVs, or uploaded files by name (CSVs, or one zip).
    name : str, optional
        Key prefix in place of ``fed_<year>``; every key made from it must pass
        :func:`~engine.credit._scenarios.check_custom_key`.
    store : Store, optional

    Returns
    -------
    FedImported

    Raises
    ------
    InputError
        As :func:`engine.credit._fed.read_fed_files` (missing or duplicated tables, sizes,
        quarters that do not line up), naming the file; nothing is stored.
    ValidationError
        Bad cells of a table, each with its row, column, value and rule; nothing is stored.
    ScenarioError
        A key that is not a valid custom key, or that is a built-in key whose scenario differs
        from the built-in one (import under another ``name``); nothing is stored.
    """
    from engine.credit._fed import (fed_scenarios_from, read_fed_files, read_fed_tables,
                                    read_fed_zip, translate_fed_tables)

    if isinstance(source, dict):
        zips = [k for k in source if k.lower().endswith(".zip")]
        if zips and len(source) > 1:
            raise InputError("give either one zip of the Board's tables or the CSVs, not both")
        tables = (read_fed_zip(source[zips[0]], name=zips[0]) if zips
                  else read_fed_files(source, source="the uploaded files"))
    else:
        tables = read_fed_tables(Path(source))
    translations = translate_fed_tables(tables)
    prefix = f"fed_{tables.year}" if name is None else name.strip()
    scenarios = fed_scenarios_from(translations, prefix=prefix)
    builtin = builtin_scenarios()
    same = [k for k, sc in scenarios.items() if k in builtin and builtin[k] == sc]
    for key, sc in scenarios.items():
        if key in builtin and key not in same:
            raise ScenarioError(f"{key!r} is a built-in scenario and these tables give a "
                                "different one; import them under another name (--name)")
    fresh = {k: sc for k, sc in scenarios.items() if k not in same}
    for key in fresh:
        check_custom_key(key)
    with _store_or_default(store).write() as con, transaction(con):
        stored = [_store.save_scenario(con, key=k, scenario=sc) for k, sc in fresh.items()]
    tr = next(iter(translations.values()))
    return FedImported(year=tables.year, jump_off_quarter=tr.jump_off_quarter,
                       horizon=tr.horizon, stored=stored, built_in=same, files=tables.files,
                       ignored=tables.ignored)


# --------------------------------------------------------------------------- stress runs

class StressRunRequest(ExecutorChoice, Request):
    """The configuration of a credit stress run, as stored with it.

    Attributes
    ----------
    pool_id : str, optional
        A stored pool …
    pool_file : Path, optional
        … or a tape file read for this run (not stored). Exactly one of the two.
    pool_format : {"auto", "native", "lendingclub", "loan-record"}
        The layout of ``pool_file``.
    assumptions_file : Path, optional
        A complete assumption table (CSV): it fills ``pool_file``'s missing behavioural values
        and sets the CDR floor of delinquent loans (default: the packaged table).
    scenario_names : list of str
        Scenario keys; ``"all"`` runs the whole library (predefined, Federal Reserve, custom).
        Base always runs.
    custom_scenarios : dict of key to CustomScenario
        Scenarios given with the request (each is run). A key may not shadow a predefined or
        Federal Reserve key, nor ``all``, in any case or spacing; factors are strict numbers
        (``true`` and ``"2"`` are refused; ``2`` reads as ``2.0``). See
        :class:`~engine.credit._scenarios.CustomScenario`.
    analysis_date : date, optional
        Default: the pool's cutoff date, else today. A later date rolls the pool forward to it
        (:func:`engine.credit._runner.roll_forward`); a date before the cutoff is refused. A
        pool without a cutoff date is taken as of the analysis date (nothing rolled).
    discount_rate : float
        Annual, decimal, monthly compounded, in [-0.05, 1] (flat discounting).
    discounting : {"flat", "curve"}
        ``flat`` (default): ``discount_rate`` plus each scenario's rate shocks; ``curve``: the
        US Treasury zero curve of ``curve_date`` plus ``curve_spread``
        (:mod:`engine.credit._curve`).
    curve_date : date, optional
        Default the analysis date; a date not in the file uses the nearest earlier one.
    curve_spread : float
        Added to the continuously compounded zero rate, annual decimal, in [-0.05, 0.20].
    projection_periods : int, optional
        Months to project, 1 … 600; default the longest remaining term (full run-off).
    residual_valuation : {"par", "run_off"}
        With a horizon shorter than the run-off, the balance left there is valued at par
        (default) or at the present value of the scenario's own run-off beyond it.
    max_workers : int, optional
        Worker threads, 1 … 64; default the CPU count (at most 8). Results do not depend on it.
    include_loan_level : bool
        Keep one row per loan and scenario (NPV, losses, default probability).
    include_cashflows : bool
        The response JSON carries each scenario's monthly cashflows (they are stored either way).
    use_cache : bool
        Reuse stored results of identical scenarios (same pool content, factors and valuation).
    generate_report : bool
        The response's base entry carries ``analytics.stress_test_report``.
    record : bool
        Record the run in the store (False: ``--no-store``).
    source : {"cli", "app", "api"}
        The front end that asked.
    executor : {"local", "dask"}
        ``local`` (default): threads of this process. ``dask``: tasks on a Dask distributed
        cluster (:mod:`engine.credit._dask`), same results bit for bit; needs the ``dask`` extra.
    scheduler : str, optional
        ``dask`` only: the address of a running scheduler, ``tcp://HOST:PORT`` (or ``tls://``).
    local_workers : int, optional
        ``dask`` only, without ``scheduler``: start a LocalCluster of this many worker
        processes (1 … 64, one thread each) for the run; default the CPU count.
    partition_dir : str, optional
        ``dask`` only: a directory (local path, or fsspec URL such as ``s3://bucket/dir``) that
        every worker reads: exported partitions (``stresslab pools export POOL --parquet DIR``)
        or where the run writes its own. Default: a local temporary directory.
    """

    subject: ClassVar[str] = "stress run"
    dask_only: ClassVar[tuple[str, ...]] = ("partition_dir",)

    pool_id: str | None = Field(default=None, min_length=1)
    pool_file: Path | None = None
    pool_format: TapeFormat = "auto"
    assumptions_file: Path | None = None
    scenario_names: list[str] = Field(default_factory=lambda: ["all"])
    custom_scenarios: dict[CustomKey, CustomScenario] = Field(default_factory=dict)
    analysis_date: date | None = None
    discount_rate: float = Field(default=0.05, ge=-0.05, le=1.0, allow_inf_nan=False)
    discounting: Literal["flat", "curve"] = "flat"
    curve_date: date | None = None
    curve_spread: float = Field(default=0.0, ge=-0.05, le=0.20, allow_inf_nan=False)
    projection_periods: int | None = Field(default=None, ge=1, le=600)
    residual_valuation: Literal["par", "run_off"] = "par"
    max_workers: int | None = Field(default=None, ge=1, le=64)
    include_loan_level: bool = False
    include_cashflows: bool = False
    use_cache: bool = True
    generate_report: bool = True
    record: bool = True
    source: Literal["cli", "app", "api"] = "cli"
    partition_dir: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_pool(self) -> "StressRunRequest":
        if (self.pool_id is None) == (self.pool_file is None):
            raise ValueError("give exactly one of pool_id (a stored pool) or pool_file (a tape)")
        return self



class StressRun(BaseModel):
    """A stress run: its id in the store, the request it was made from, and its result.

    Attributes
    ----------
    run_id : str or None
        None when the run was not recorded (``record=False``).
    request : StressRunRequest
    result : StressTestResult
        ``metrics_frame()``, ``cashflows_frame()``, ``loan_level_frame()``, ``response()``,
        ``response_json()``.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    run_id: str | None
    request: StressRunRequest
    result: StressTestResult

    @property
    def status(self) -> str:
        """``success``, ``partial`` (some scenarios failed) or ``error`` (all failed)."""
        return _store.run_status(self.result)

    @property
    def summary(self) -> str:
        """One line: the worst scenario and its NPV change."""
        return _store.summary_line(self.result)

    def to_frame(self) -> pd.DataFrame:
        """One row per scenario: key, name, status, cache_hit, execution_time, then metrics."""
        return self.result.metrics_frame()


def _delinquent_cdr(table: AssumptionTable | None) -> dict[str, float]:
    from engine.credit._runner import packaged_delinquent_cdr
    return table.delinquent_cdr() if table is not None else packaged_delinquent_cdr()


def _refill_delinquent(pool: PoolData, table: AssumptionTable) -> PoolData:
    """A stored pool with its delinquent CDRs filled at import re-filled from ``table``.

    Importing a tape fills a delinquent loan's missing CDR from the import's assumption table
    (``delinquent_default_probability``), and the run only floors CDRs, so a stored pool kept the
    import table's value whatever ``--assumptions`` said (a lower floor changed nothing). The
    pool's fill records (``basis`` delinquent_default_probability: asset class, grade, value)
    name those loans: a delinquent loan of that class (and grade, for a grade-specific row) whose
    CDR is the recorded value takes ``table``'s value instead, as if imported with it. A CDR the
    tape gave is kept (and floored as before).

    Limit: the fill records are counts by (asset class, grade, value), not a list of loans, so a
    filled loan is recognised by its CDR equalling the recorded value. A delinquent loan whose
    tape gave exactly the import table's value (e.g. 0.35 for an auto loan under the packaged
    table) cannot be told from a filled one and is re-filled too (then the candidates outnumber
    the record's ``n_assets``). Telling them apart needs the pool to store which loans were
    filled.
    """
    records = [a for a in pool.assumptions
               if a.get("basis") == "delinquent_default_probability"
               and a.get("field") == "default_probability"]
    if not records:
        return pool
    frame = pool.frame
    delinquent = (frame["status"] == "delinquent").to_numpy(dtype=bool, na_value=False)
    cdr = frame["default_probability"].to_numpy(dtype="float64")
    filled = np.zeros(len(frame), dtype=bool)
    for a in records:
        hit = delinquent & (frame["asset_class"] == a["asset_class"]).to_numpy(
            dtype=bool, na_value=False) & (cdr == float(a["value"]))
        if a.get("grade"):
            hit &= (frame["grade"] == a["grade"]).to_numpy(dtype=bool, na_value=False)
        filled |= hit
    if not filled.any():
        return pool
    rows = frame.loc[filled]
    value, _, _ = table.lookup("delinquent_default_probability",
                               asset_class=rows["asset_class"].astype("string"),
                               grade=rows["grade"].astype("string"))
    out = frame.copy()
    column = cdr.copy()
    column[filled] = value.to_numpy(dtype="float64")
    out["default_probability"] = column
    return dataclasses.replace(pool, frame=out)


def _record_failure(store: Store, *, run_id: str, request: StressRunRequest, exc: BaseException,
                    pool: PoolData, started_at: Any) -> None:
    """Record a run that failed as a whole; a failure to record is noted on ``exc``."""
    error = f"{type(exc).__name__}: {exc}"
    try:
        with store.write() as con, transaction(con):
            _store.record_failed_run(con, run_id=run_id, request=request, error=error,
                                     started_at=started_at, pool_id=pool.pool_id,
                                     pool_name=pool.pool_name, inputs_hash=pool.content_hash())
    except Exception as inner:  # noqa: BLE001 - the run's own error is the one to report
        exc.add_note(f"the failed run could not be recorded either: {inner}")


def _refuse_shadowed(library: dict[str, Scenario]) -> None:
    """Refuse a library in which a stored custom scenario took a built-in key.

    Every way in refuses such a key; a store written by an older version or edited by hand may
    still hold one, and a run must never value the base case under a stand-in.
    """
    shadowed = [k for k, sc in library.items() if k in RESERVED_KEYS and sc.source == "custom"]
    if shadowed:
        raise ScenarioError(
            f"the store holds custom scenario{'s' if len(shadowed) > 1 else ''} under the "
            f"built-in key{'s' if len(shadowed) > 1 else ''} {', '.join(map(repr, shadowed))} "
            "(written by an older version or by hand); nothing was run. Delete "
            f"{'them' if len(shadowed) > 1 else 'it'} on the Scenarios page and run again.")


def _chunk_executor(request: StressRunRequest):
    """The run's :class:`~engine.credit._runner.ChunkExecutor`: None (local threads) or a
    :class:`~engine.credit._dask.DaskExecutor`.

    Raises
    ------
    InputError
        ``executor="dask"`` without the ``dask`` extra installed.
    """
    if request.executor != "dask":
        return None
    from engine.credit._dask import DaskExecutor, require_distributed

    require_distributed()
    return DaskExecutor(scheduler=request.scheduler, local_workers=request.local_workers,
                        partition_dir=request.partition_dir)


def run_stress(request: StressRunRequest, *, store: Store | None = None,
               progress: Progress | None = None,
               cancel: threading.Event | None = None,
               chunk_progress: ChunkProgress | None = None) -> StressRun:
    """Run a credit stress test and record it.

    1. Read session(s): the stored pool (or, with no session, the tape file), the scenario
       library and the cached results the run can use; then the store is released.
    2. Compute every scenario (on worker threads, or with ``executor="dask"`` as tasks on a Dask
       cluster: :mod:`engine.credit._dask`).
    3. One write transaction: the run (status ``success``, ``partial`` or ``error``, a one-line
       summary, the request as its configuration), its results, cashflows, loan-level rows and
       new cache entries.

    Parameters
    ----------
    request : StressRunRequest
    store : Store, optional
        Default: ``Store()``. With ``record=False`` and a tape file, a store that does not exist
        yet is not created (the library is then the built-in one).
    progress : callable, optional
        ``progress(key, scenario_result, n_done, n_total)``, called from worker threads as
        scenarios finish.
    cancel : threading.Event, optional
        When set, scenarios not yet finished end with status ``error`` ("cancelled by the
        user"); the run is recorded as ``partial`` (or ``error``).
    chunk_progress : callable, optional
        ``chunk_progress(key, n_done, n_total)``, called from worker threads as chunks of loans
        finish (see :func:`engine.credit._runner.execute_run`).

    Returns
    -------
    StressRun

    Raises
    ------
    InputError
        A bad request, unknown pool or scenario, a factor out of range, a bad tape or assumption
        file (:class:`ValidationError` lists every problem), or a store whose custom scenarios
        took a built-in key (:class:`ScenarioError`); nothing is recorded.
    StoreBusyError
        If the store stayed busy for longer than its wait.
    Exception
        Whatever made the run fail as a whole, after the run is recorded with status ``error``.
    """
    store = _store_or_default(store)
    started = utc_now()
    executor = _chunk_executor(request)  # a missing dask extra is refused before any work
    table = load_assumptions(request.assumptions_file) if request.assumptions_file else None
    pool: PoolData | None = None
    if request.pool_file is not None:
        pool = _read_tape(request.pool_file, format=request.pool_format, assumptions=table)
    uses_store = request.record or request.pool_id is not None or store.path.exists()
    if uses_store:
        with store.read() as con:
            if request.pool_id is not None:
                pool = _store.load_pool(con, request.pool_id)
            library = _store.scenario_library(con)
        _refuse_shadowed(library)
    else:
        library = builtin_scenarios()
    if pool is None:  # the model requires one of pool_id / pool_file
        raise InputError("a stress run needs pool_id (a stored pool) or pool_file (a tape)")
    if table is not None and request.pool_id is not None:
        pool = _refill_delinquent(pool, table)
    try:
        test = StressTestRequest(
            request=AnalysisRequest(
                analysis_date=request.analysis_date or pool.cutoff_date or date.today(),
                discount_rate=request.discount_rate, projection_periods=request.projection_periods,
                include_cashflows=request.include_cashflows, discounting=request.discounting,
                curve_date=request.curve_date, curve_spread=request.curve_spread,
                residual_valuation=request.residual_valuation),
            scenario_names=request.scenario_names,
            custom_scenarios={k: sc.to_scenario(k).response_dict()
                              for k, sc in request.custom_scenarios.items()},
            max_workers=request.max_workers, include_cashflows=request.include_cashflows,
            include_loan_level=request.include_loan_level,
            generate_report=request.generate_report)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, subject="stress run") from None
    run_id = new_run_id("credit")
    try:
        from engine.credit._runner import execute_run, prepare_run

        prepared = prepare_run(test, pool=pool, library=library,
                               delinquent_cdr=_delinquent_cdr(table))
        cache = None
        if request.use_cache and not request.include_loan_level:
            from engine.credit._redis import configured_cache

            cache = configured_cache()  # Redis when REDIS_HOST is set, instead of the store's
            if cache is None:
                cache = PrefetchedCache()
                if uses_store:
                    with store.read() as con:
                        cache.preload(_store.cache_entries(con, list(prepared.cache_keys.values())))
        result = execute_run(prepared, cache=cache, progress=progress, cancel=cancel,
                             chunk_progress=chunk_progress, executor=executor)
        if not request.record:
            return StressRun(run_id=None, request=request, result=result)
        with store.write() as con, transaction(con):
            _store.record_run(con, run_id=run_id, request=request, result=result,
                              started_at=started)
            if isinstance(cache, PrefetchedCache) and cache.fresh():
                _store.save_cache_entries(con, cache.fresh())
    except (InputError, StoreError):  # a bad request or a busy store: nothing to record
        raise
    except Exception as exc:  # the run failed as a whole: record it, then report it
        if request.record:
            _record_failure(store, run_id=run_id, request=request, exc=exc, pool=pool,
                            started_at=started)
        raise
    return StressRun(run_id=run_id, request=request, result=result)


class TreasuryCurveView(BaseModel):
    """The US Treasury zero curve of one date, as the Stress test page draws it.

    Attributes
    ----------
    curve_date : date
        The date asked for.
    date_used : date
        The file's date the curve was built from: ``curve_date`` itself, or the nearest earlier
        date in the file when ``curve_date`` is not in it (a weekend, a holiday).
    spread : float
        The spread over the zero curve, annual decimal, continuously compounded.
    frame : DataFrame
        One row per month to 30 years (360 rows): ``maturity_years`` (``k / 12``),
        ``zero_rate`` (continuously compounded, annual decimal), ``discount_rate``
        (``zero_rate + spread``: the base case's discounting) and ``par_yield`` (the file's par
        yield, annual decimal, bond-equivalent, at the maturities of its tenors that day; NaN
        elsewhere).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    curve_date: date
    date_used: date
    spread: float
    frame: pd.DataFrame


def treasury_curve(curve_date: date, *, spread: float = 0.0) -> TreasuryCurveView:
    """The zero curve a run with ``discounting="curve"`` and ``curve_date`` discounts on.

    The curve is :func:`engine.credit._curve.treasury_curve` (par yields bootstrapped to zero
    rates; the method is :data:`engine.credit._curve.CURVE_METHOD`), read at each month
    ``t_k = k / 12`` for k = 1 … 360.

    Parameters
    ----------
    curve_date : date
        Within :func:`curve_dates`.
    spread : float, default 0
        Annual decimal, added to the continuously compounded zero rate (a run's
        ``curve_spread``).

    Returns
    -------
    TreasuryCurveView

    Raises
    ------
    InputError
        If ``curve_date`` is outside the Treasury par yield file.
    """
    from engine.credit._curve import TENORS
    from engine.credit._curve import treasury_curve as _treasury_curve

    curve = _treasury_curve(curve_date)
    months = np.arange(1, 361)
    t = months / 12.0
    zero = curve.zero_rates(t)
    par = np.full(t.shape, np.nan)
    for column, value in curve.par.items():
        par[round(TENORS[column] * 12) - 1] = value
    frame = pd.DataFrame({"maturity_years": t, "zero_rate": zero, "discount_rate": zero + spread,
                          "par_yield": par})
    return TreasuryCurveView(curve_date=curve_date, date_used=curve.date_used, spread=spread,
                             frame=frame)


def curve_dates() -> tuple[date, date]:
    """The first and last dates of the US Treasury par yield file (1990-01-02, 2022-03-11)."""
    from engine.credit._curve import curve_dates as _curve_dates

    return _curve_dates()


def _legacy_request(config: dict[str, Any]) -> StressRunRequest:
    """A request rebuilt from the free-form configuration older versions stored."""
    source = "app" if config.get("source") == "dashboard" else "cli"
    fields = {
        "pool_id": config.get("pool_id") or "unknown",
        "scenario_names": config.get("scenario_names") or ["all"],
        "analysis_date": config.get("analysis_date"),
        "discount_rate": config.get("discount_rate", 0.05),
        "projection_periods": config.get("projection_periods"),
        "include_loan_level": bool(config.get("include_loan_level")),
        "include_cashflows": bool(config.get("include_cashflows")),
        "source": source,
    }
    try:
        return StressRunRequest(custom_scenarios=config.get("custom_scenarios") or {}, **fields)
    except PydanticValidationError:
        try:
            return StressRunRequest(**fields)
        except PydanticValidationError:
            return StressRunRequest(pool_id=fields["pool_id"], source=source)


def load_run(run_id: str, *, store: Store | None = None) -> StressRun:
    """Reopen a stored run: its request rebuilt from the store, its results read, nothing
    recomputed.

    Raises
    ------
    NotFoundError
        If no credit run has this id, or the run failed and stored no results.
    """
    with _store_or_default(store).read() as con:
        result = _store.load_result(con, run_id)
        try:
            request = stored_request(con, run_id=run_id, model=StressRunRequest, kind="credit")
        except StoreError:  # a run stored by an older version, before requests were typed
            request = _legacy_request(_store.stored_configuration(con, run_id))
    return StressRun(run_id=run_id, request=request, result=result)


def list_runs(*, store: Store | None = None, limit: int = 200) -> pd.DataFrame:
    """Credit runs, newest first.

    Returns
    -------
    DataFrame
        run_id, pool_id, pool_name, status, error, started_at, execution_time (s),
        engine_version, worst_scenario, worst_scenario_name, npv_change_percent (percent of the
        base NPV), npv_change (currency units), n_scenarios.
    """
    with _store_or_default(store).read() as con:
        return _store.list_runs(con, limit=limit)


def count_runs(*, store: Store | None = None) -> int:
    """How many credit runs the store holds (failed ones included)."""
    with _store_or_default(store).read() as con:
        return _store.count_runs(con)


def loan_path(run_id: str, *, asset_id: str, scenario_key: str,
              store: Store | None = None) -> pd.DataFrame:
    """One loan's monthly path under a stored run's scenario (closed form; the run is not
    recomputed).

    The pool is taken as the run took it: re-filled from the run's assumption table and rolled
    forward from its cutoff date to the run's analysis date
    (:func:`engine.credit._runner.roll_forward`), so month 1 is the first month after the
    analysis date.

    Returns
    -------
    DataFrame of shape (horizon, 5)
        ``period`` (months), ``balance``, ``cumulative_default``, ``cumulative_loss``
        (currency units), ``cumulative_default_probability`` (decimal); see
        :func:`engine.credit._views.loan_path_frame`.

    Raises
    ------
    NotFoundError
        If the run, its scenario, its pool (deleted, or a tape file never stored) or the loan is
        not there, or the loan left the pool before the run's analysis date (matured, or in
        default and recovered): the message says which.
    """
    store = _store_or_default(store)
    run = load_run(run_id, store=store)
    if scenario_key not in run.result.scenarios:
        raise NotFoundError(f"run {run_id!r} has no scenario {scenario_key!r}")
    if run.request.pool_id is None:
        raise NotFoundError(f"run {run_id!r} read its pool from a file ({run.request.pool_file}); "
                            "store the pool (`stresslab pools import`) to follow single loans")
    pool = load_pool(run.request.pool_id, store=store)
    table = None
    if run.request.assumptions_file is not None:
        table = load_assumptions(run.request.assumptions_file)
        pool = _refill_delinquent(pool, table)
    from engine.credit._runner import roll_forward
    from engine.credit._views import loan_path_frame
    stored = pool
    pool, rolled = roll_forward(stored, analysis_date=run.result.analysis_date,
                                delinquent_cdr=_delinquent_cdr(table))
    row = stored.frame[stored.frame["asset_id"] == asset_id]
    if rolled and not row.empty and not (pool.frame["asset_id"] == asset_id).any():
        why = ("its recovery was received" if row["status"].iloc[0] == "default"
               else "it matured")
        raise NotFoundError(
            f"loan {asset_id!r} is not in run {run_id!r}: {why} before the analysis date "
            f"{run.result.analysis_date.isoformat()} ({rolled} months after the pool's cutoff "
            f"date {stored.cutoff_date.isoformat()})")
    return loan_path_frame(pool, asset_id=asset_id,
                           scenario=run.result.scenarios[scenario_key].scenario,
                           horizon=run.result.projection_periods,
                           delinquent_cdr=_delinquent_cdr(table))


def seed_store(*, store: Store | None = None) -> str | None:
    """On first start, store the bundled Lending Club pool if the store has no pool yet.

    Returns
    -------
    str or None
        The seeded pool's id, or None when the store already held a pool.
    """
    store = _store_or_default(store)
    with store.read() as con:
        if _store.count_pools(con) > 0:
            return None
    pool = seed_pool()
    with store.write() as con, transaction(con):
        if _store.count_pools(con) > 0:  # another process seeded it meanwhile
            return None
        _store.save_pool(con, pool=pool,
                         source_file=f"data/{LENDING_CLUB_FOLDER}/{LENDING_CLUB_FILE}")
    return SEED_POOL_ID


# --------------------------------------------------------------------------- the HTTP API's runs

class StressTaskAccepted(BaseModel):
    """The answer to ``async-run``: the queued task and where to follow it."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    status: Literal["queued"] = "queued"
    message: str
    pool_name: str
    scenario_count: int
    websocket_url: str


def stress_request(body: StressTestBody, *, use_cache: bool = True, user: str | None = None,
                   store: Store | None = None) -> tuple[StressRunRequest, PoolData]:
    """The stress run an API body asks for, checked before anything runs.

    A pool sent with ``assets`` is read as a native tape (every bad asset named by row, field,
    value and rule) and stored under its ``pool_id`` in one transaction (the same content under
    the same id is not stored twice); a pool without ``assets`` names a stored pool. The
    scenario names and custom scenarios are resolved against the store's library, so an
    unknown name or a bad factor is refused here, before a task is queued.

    Parameters
    ----------
    body : StressTestBody
    use_cache : bool
        The ``use_cache`` query parameter.
    user : str, optional
        The bearer token's user, recorded with the run.
    store : Store, optional

    Returns
    -------
    (StressRunRequest, str)
        The request (``source="api"``) and the name of the pool it runs on (a stored pool's
        loans are not read here: the run reads them).

    Raises
    ------
    ValidationError
        Bad assets (every row and field at once).
    InputError
        Another pool stored under ``pool_id``; an unknown pool; an unknown scenario or a factor
        out of range (:class:`ScenarioError`).
    """
    store = _store_or_default(store)
    inner = body.request
    if inner.pool.assets is not None:
        doc = {"pool_id": inner.pool.pool_id, "pool_name": inner.pool.pool_name or inner.pool.pool_id,
               "assets": inner.pool.assets, "metadata": inner.pool.metadata}
        if inner.pool.cutoff_date is not None:
            doc["cutoff_date"] = inner.pool.cutoff_date.isoformat()
        content = json.dumps(doc, allow_nan=False, default=str).encode()
        pool = _read_tape(content, filename="request.json", format="native")
        save_pool(pool, source_file="HTTP API request", store=store)
        pool_id, name = pool.pool_id, pool.pool_name
    else:  # the run reads the loans; here only that the pool is there, and its name
        pool_id = inner.pool.pool_id
        with store.read() as con:
            name = _store.pool_name(con, pool_id)
    try:
        request = StressRunRequest(
            pool_id=pool_id, scenario_names=body.scenario_names,
            custom_scenarios=body.custom_scenarios, analysis_date=inner.analysis_date,
            discount_rate=inner.discount_rate, projection_periods=inner.projection_periods,
            discounting=inner.discounting, curve_date=inner.curve_date,
            curve_spread=inner.curve_spread, residual_valuation=inner.residual_valuation,
            max_workers=body.max_workers if body.run_parallel else 1,
            include_cashflows=body.include_cashflows or inner.include_cashflows,
            generate_report=body.generate_report, use_cache=use_cache, source="api",
            requested_by=user)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, subject="stress run") from None
    return request, name


def scenario_count(request: StressRunRequest, *, store: Store | None = None) -> int:
    """How many scenarios ``request`` runs (base included).

    Raises
    ------
    ScenarioError
        An unknown scenario name, a shadowing custom key or a factor out of range.
    """
    from engine.credit._runner import resolve_scenarios

    library = scenario_library(store=store)
    _refuse_shadowed(library)
    custom = {k: sc.to_scenario(k) for k, sc in request.custom_scenarios.items()}
    specs = {k: ScenarioSpec(**sc.response_dict()) for k, sc in custom.items()}
    return len(resolve_scenarios(request.scenario_names, custom=specs, library=library))


def run_stress_body(body: StressTestBody, *, use_cache: bool = True, user: str | None = None,
                    store: Store | None = None, progress: Progress | None = None,
                    cancel: threading.Event | None = None) -> StressRun:
    """Run and record the stress test an API body asks for (the sync ``run`` endpoint).

    :func:`stress_request`, then :func:`run_stress`; ``run.result.response()`` is the
    response. Raises as those two do.
    """
    request, _ = stress_request(body, use_cache=use_cache, user=user, store=store)
    return run_stress(request, store=store, progress=progress, cancel=cancel)


class _ProgressMeter:
    """A run's progress as a task reports it: 0–100 over the work to do.

    Scenarios served from the cache count as done at once; the others advance chunk by chunk
    (:data:`~engine.credit._runner.CHUNK_SIZE` loans), so
    ``progress = 100 × (cached + chunks_done / chunks_total × (n − cached)) / n``, which never
    goes back. A message goes out when a scenario finishes and, between, at most every
    :attr:`EVERY` seconds as chunks finish.
    """

    EVERY = 0.2

    def __init__(self, reporter: TaskReporter, *, n_scenarios: int) -> None:
        self._reporter = reporter
        self._n = n_scenarios
        self._cached = 0
        self._chunks = (0, 0)
        self._done = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def _percent(self) -> float:
        done, total = self._chunks
        fraction = done / total if total else (1.0 if self._done == self._n else 0.0)
        return 100.0 * (self._cached + fraction * (self._n - self._cached)) / self._n

    def scenario(self, key: str, result: Any, done: int, total: int) -> None:
        with self._lock:  # held while sending, so messages go out in the order of their progress
            self._done = max(self._done, done)  # callbacks of two threads may arrive swapped
            if result.cache_hit:
                self._cached += 1
            self._reporter.running(
                progress=self._percent(),
                message=f"{result.scenario.name}: {result.status} ({done}/{total})",
                data={"current_scenario": key, "scenarios_done": done, "scenarios_total": total})

    def chunk(self, key: str, done: int, total: int) -> None:
        with self._lock:
            self._chunks = max(self._chunks, (done, total))
            now = _monotonic()
            if now - self._last < self.EVERY or done == total:
                return
            self._last = now
            self._reporter.running(
                progress=self._percent(), message=f"{done:,} of {total:,} chunks projected",
                data={"current_scenario": key, "scenarios_done": self._done,
                      "scenarios_total": self._n, "chunks_done": done, "chunks_total": total})


def start_stress_task(body: StressTestBody, *, tasks: TaskRunner, user: str,
                      use_cache: bool = True, store: Store | None = None) -> StressTaskAccepted:
    """Check an API body, queue its stress run as a task, and say where to follow it.

    The task's messages: ``running`` with ``data = {progress (0–100), current_scenario,
    scenarios_done, scenarios_total}`` as scenarios finish; ``completed`` with ``data =
    {results: <the sync response>, run_id}``; or ``error``.

    Raises
    ------
    InputError
        As :func:`stress_request`, before anything is queued.
    """
    store = _store_or_default(store)
    request, pool_name = stress_request(body, use_cache=use_cache, user=user, store=store)
    n = scenario_count(request, store=store)

    def work(reporter: TaskReporter) -> tuple[str | None, dict[str, Any]]:
        meter = _ProgressMeter(reporter, n_scenarios=n)
        run = run_stress(request, store=store, progress=meter.scenario,
                         chunk_progress=meter.chunk)
        return run.run_id, {"results": run.result.response(), "run_id": run.run_id}

    state = tasks.submit(work, kind="credit_stress", user_id=user, label=pool_name,
                         message=f"{n} scenarios on {pool_name} queued")
    return StressTaskAccepted(
        task_id=state.task_id, message=state.message, pool_name=pool_name,
        scenario_count=n, websocket_url=websocket_url(user, state.task_id))


def scenario_catalogue(*, store: Store | None = None) -> dict[str, ScenarioInfo]:
    """Every library scenario as ``{key: {name, description, market_factors}}`` (the API's
    ``GET …/stress-testing/scenarios``): predefined, Federal Reserve, then stored custom."""
    return {k: ScenarioInfo(**sc.response_dict())
            for k, sc in scenario_library(store=store).items()}


def cache_health() -> dict[str, Any]:
    """The result cache in use: ``status`` ``not_configured`` (no ``REDIS_HOST``: the store's
    cache), ``ok`` or ``unavailable`` (runs go on uncached), with the Redis settings and a
    PING's latency (see :func:`engine.credit._redis.redis_health`). Never raises."""
    from engine.credit._redis import redis_health

    return redis_health().model_dump(mode="json")
