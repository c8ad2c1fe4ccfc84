"""The credit pages' engine calls: cached workflow reads, the upload preview, pool saves and
deletes, request building, and the downloads of a stored run.

Every number comes from :mod:`engine.credit.workflow`; these functions fetch and cache it.
Cached calls take ids and plain values (each call opens its own short session through
:func:`dashboard.state.store`). Stored runs never change, so a run and what is derived from it
are cached by run id; pools are cached by id and those caches are cleared whenever the app
saves or deletes a pool. Lists (pools, runs, scenarios) are never cached: another process may
add to them, and they are cheap to read.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from engine.credit import PoolData
from engine.credit._views import (
    loan_level_by,
    metrics_against_base,
    scenario_factor_table,
    scenarios_to_json,
    top_loans,
)
from engine.credit.workflow import (
    ImportPoolRequest,
    PoolImported,
    StressRun,
    StressRunRequest,
    assumption_table,
    delete_pool,
    detect_format,
    load_pool,
    load_run,
    pool_breakdown,
    pool_summary,
    read_pool,
    save_pool,
)
from engine.credit.workflow import loan_path as _loan_path
from engine.export import to_safe_csv
from engine.ingest import VALUE_FIELDS

__all__ = [
    "UPLOAD_TYPES", "VALUE_FIELDS", "cached_pool", "cached_summary", "cached_breakdown",
    "cached_run", "cached_assumptions", "results_table", "run_cashflows", "loan_path",
    "detect_upload_format", "read_upload", "store_pool", "remove_pool", "stress_request",
    "metrics_csv", "cashflows_csv", "cashflows_parquet", "response_json",
    "loan_level_by", "top_loans", "scenario_factor_table", "scenarios_to_json",
]

#: File types the pool upload accepts (".gz" for a gzip-compressed CSV).
UPLOAD_TYPES = ["csv", "gz", "parquet", "json", "xlsx"]


# --------------------------------------------------------------------------- pools

@st.cache_data(max_entries=8, show_spinner=False)
def cached_pool(pool_id: str) -> PoolData:
    """A stored pool (cleared when the app saves or deletes a pool).

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    return load_pool(pool_id, store=state.store())


@st.cache_data(max_entries=16, show_spinner=False)
def cached_summary(pool_id: str) -> dict[str, Any]:
    """:func:`engine.credit.workflow.pool_summary` of a stored pool."""
    return pool_summary(pool_id, store=state.store())


@st.cache_data(max_entries=64, show_spinner=False)
def cached_breakdown(pool_id: str, by: str) -> pd.DataFrame:
    """:func:`engine.credit.workflow.pool_breakdown` of a stored pool by ``by``."""
    return pool_breakdown(pool_id, by=by, store=state.store())


@st.cache_data(max_entries=1, show_spinner=False)
def cached_assumptions() -> pd.DataFrame:
    """The packaged assumption table: asset_class, grade, the value fields and their sources."""
    return assumption_table()


@st.cache_data(max_entries=4, show_spinner=False)
def detect_upload_format(content: bytes, filename: str) -> str:
    """The tape layout recognised from an upload's header.

    Raises
    ------
    InputError
        When no layout fits the header.
    """
    return detect_format(content, filename=filename)


def _edits(edited: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """The edited assumption rows as plain records (a missing grade or an emptied cell as None)."""
    if edited is None:
        return None
    rows = edited[["asset_class", "grade", *VALUE_FIELDS]].astype(object)
    return rows.where(rows.notna(), None).to_dict("records")


@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(content: bytes, filename: str, *, fmt: str, pool_id: str | None,
                pool_name: str | None, cutoff_date: date | None,
                edited_assumptions: pd.DataFrame | None) -> PoolData:
    """Read, map and validate an upload with the (possibly edited) assumption table; store nothing.

    Parameters
    ----------
    content, filename : bytes, str
        The uploaded file and its name (the name's suffix tells the reader).
    fmt : {"auto", "native", "lendingclub", "loan-record"}
        The tape layout.
    pool_id, pool_name : str or None
        Empty means the reader's default.
    cutoff_date : date or None
        The date balances and ages refer to.
    edited_assumptions : DataFrame or None
        The assumption table as edited in the app (asset_class, grade and the value fields);
        values that differ from the packaged table override it for this upload.

    Raises
    ------
    ValidationError, InputError
        As :func:`engine.credit.workflow.read_pool`, an edited assumption out of range, or a
        setting the request refuses.
    """
    request = ImportPoolRequest.build(
        content=content, filename=filename, format=fmt, pool_id=pool_id or None, pool_name=pool_name or None, cutoff_date=cutoff_date,
        assumption_edits=_edits(edited_assumptions))
    return read_pool(request)


def _clear_pool_caches() -> None:
    cached_pool.clear()
    cached_summary.clear()
    cached_breakdown.clear()
    loan_path.clear()


def store_pool(pool: PoolData, *, source_file: str | None) -> PoolImported:
    """Save a validated pool (the upload preview) and forget the cached pools.

    Raises
    ------
    InputError
        If another pool with other content is stored under the same id.
    """
    try:
        return save_pool(pool, source_file=source_file, store=state.store())
    finally:
        _clear_pool_caches()


def remove_pool(pool_id: str) -> None:
    """Delete a stored pool (its runs stay readable) and forget the cached pools.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    try:
        delete_pool(pool_id, store=state.store())
    finally:
        _clear_pool_caches()


# --------------------------------------------------------------------------- runs

def stress_request(**fields: Any) -> StressRunRequest:
    """A :class:`StressRunRequest` from the page's settings (``source="app"`` unless given).

    Raises
    ------
    ValidationError
        If a setting is outside what the request accepts (every offending field listed).
    """
    fields.setdefault("source", "app")
    return StressRunRequest.build(**fields)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_run(run_id: str) -> StressRun:
    """A stored run read back without recomputing (runs never change once stored).

    Raises
    ------
    NotFoundError
        If no credit run has this id, or it failed and stored no results.
    """
    return load_run(run_id, store=state.store())


@st.cache_data(max_entries=16, show_spinner=False)
def results_table(run_id: str) -> pd.DataFrame:
    """A stored run's metrics per scenario and their change from the base case, base first."""
    return metrics_against_base(cached_run(run_id).result.metrics_frame())


@st.cache_data(max_entries=8, show_spinner=False)
def run_cashflows(run_id: str) -> pd.DataFrame:
    """A stored run's pool cashflows, long form (scenario, period, cashflow columns; USD/month)."""
    return cached_run(run_id).result.cashflows_frame()


@st.cache_data(max_entries=32, show_spinner=False)
def loan_path(run_id: str, asset_id: str, scenario_key: str) -> pd.DataFrame:
    """One loan's monthly path under a stored run's scenario (closed form, no stress rerun).

    Raises
    ------
    NotFoundError
        If the run's pool is no longer stored, or the loan is not in it.
    """
    return _loan_path(run_id, asset_id=asset_id, scenario_key=scenario_key, store=state.store())


# --------------------------------------------------------------------------- downloads

@st.cache_data(max_entries=8, show_spinner=False)
def metrics_csv(run_id: str) -> bytes:
    """A stored run's metrics per scenario as CSV (cells that could run as formulas escaped)."""
    return to_safe_csv(cached_run(run_id).result.metrics_frame())


@st.cache_data(max_entries=4, show_spinner=False)
def cashflows_csv(run_id: str) -> bytes:
    """A stored run's cashflows as CSV."""
    return to_safe_csv(run_cashflows(run_id))


@st.cache_data(max_entries=4, show_spinner=False)
def cashflows_parquet(run_id: str) -> bytes:
    """A stored run's cashflows as Parquet."""
    buf = io.BytesIO()
    run_cashflows(run_id).to_parquet(buf, index=False)
    return buf.getvalue()


@st.cache_data(max_entries=8, show_spinner=False)
def response_json(run_id: str) -> bytes:
    """The response JSON of ARCHITECTURE.md: scenario key → {pool_name, analysis_date, status,
    execution_time, metrics, analytics, cache_hit}."""
    return cached_run(run_id).result.response_json(indent=2).encode("utf-8")
