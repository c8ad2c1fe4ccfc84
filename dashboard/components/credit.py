"""UI pieces of the credit workflow: cached engine calls, the background stress run, Plotly charts,
number formats and downloads.

Every number comes from ``engine.credit`` / ``engine.store``; these functions fetch, cache and lay
it out. Cached calls take ids and plain values (the DuckDB connection is not hashable: each call
reads through :func:`dashboard.state.cursor`). Stored runs never change, so a run is cached by its
id; pools are cached by id and the cache is cleared whenever a pool is saved or deleted.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.state import connection, cursor
from engine.credit import (
    AnalysisRequest,
    PoolData,
    StressTestRequest,
    StressTestResult,
    pool_breakdown,
    pool_summary,
    run_stress_test,
)
from engine.credit._views import (
    assumption_changes,
    cashflow_chart_frame,
    keep_loan_columns,
    loan_path_frame,
)
from engine.errors import StressLabError, ValidationError
from engine.export import to_safe_csv
from engine.ingest import detect_format, load_assumptions, read_pool, read_table
from engine.ingest import VALUE_FIELDS
from engine.store.credit import (
    DuckDBCache,
    delete_pool,
    load_pool,
    load_run,
    record_failed_run,
    record_run,
    save_pool,
    scenario_library,
)

__all__ = [
    "PAGES", "UPLOAD_TYPES", "show_error", "money", "money_short", "pct", "cached_pool", "cached_summary",
    "cached_breakdown", "cached_run", "cached_assumptions", "detect_upload_format", "read_upload",
    "store_pool", "remove_pool", "RunJob", "start_run", "poll_run", "finish_run", "breakdown_chart",
    "npv_change_chart", "timeline_chart", "loss_bar_chart", "wal_duration_chart", "loan_path_chart",
    "grade_loss_chart", "metric_columns", "cashflows_parquet", "cashflows_csv", "metrics_csv",
    "loan_path", "ACCENT", "NEGATIVE",
]

#: The page scripts, for ``st.page_link`` (absolute paths are resolved against st.navigation).
PAGES = Path(__file__).resolve().parents[2] / "pages"
UPLOAD_TYPES = ["csv", "gz", "parquet", "json", "xlsx"]
ACCENT = "#1f4e79"
NEGATIVE = "#b23a3a"
_PALETTE = ["#1f4e79", "#c8702a", "#2e7d32", "#b23a3a", "#6a4c93", "#00838f", "#8d6e63", "#546e7a",
            "#ad1457", "#9e9d24"]


# --------------------------------------------------------------------------- messages and formats

def show_error(exc: StressLabError) -> None:
    """An engine error as a readable message; a validation error also as a table of issues."""
    if isinstance(exc, ValidationError):
        head = str(exc).split("\n", 1)[0]
        st.error(head)
        issues = pd.DataFrame(exc.to_records()).rename(columns={"column": "field"})
        issues["value"] = issues["value"].astype("string")
        st.dataframe(issues, hide_index=True, width="stretch",
                     column_config={"row": st.column_config.NumberColumn("row", format="%d")})
    else:
        st.error(str(exc))


def money(x: float | None) -> str:
    """USD with thousands separators, no cents ("$144,674,740")."""
    if x is None or pd.isna(x):
        return "–"
    return f"-${-x:,.0f}" if x < 0 else f"${x:,.0f}"


def money_short(x: float | None) -> str:
    """USD in thousands, millions or billions with 2 decimals ("$144.67M"), for headline figures."""
    if x is None or pd.isna(x):
        return "–"
    sign, v = ("-" if x < 0 else ""), abs(x)
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if v >= div:
            return f"{sign}${v / div:,.2f}{unit}"
    return f"{sign}${v:,.0f}"


def pct(x: float | None, *, decimal: bool = True, signed: bool = False) -> str:
    """A percentage with 2 decimals; ``decimal`` True means 0.05 is 5.00 %."""
    if x is None or pd.isna(x):
        return "–"
    v = x * 100.0 if decimal else x
    return f"{v:+.2f}%" if signed else f"{v:.2f}%"


#: Table format for currency: whole dollars with thousands separators.
USD = "$%,.0f"
#: A change in currency: signed whole dollars (the column label carries "USD").
USD_CHANGE = "%,.0f"

#: How each metric column is shown in tables (unit in the label).
_METRIC_FORMATS: dict[str, tuple[str, str]] = {
    "npv": ("NPV (USD)", USD),
    "npv_change": ("NPV change (USD)", USD_CHANGE),
    "npv_change_percent": ("NPV change (%)", "%.2f%%"),
    "irr": ("IRR (annual)", "percent"),
    "starting_balance": ("Starting balance (USD)", USD),
    "total_principal": ("Principal (USD)", USD),
    "total_principal_change": ("Principal change (USD)", USD_CHANGE),
    "total_interest": ("Interest (USD)", USD),
    "total_interest_change": ("Interest change (USD)", USD_CHANGE),
    "total_prepayment": ("Prepayment (USD)", USD),
    "total_scheduled_principal": ("Scheduled principal (USD)", USD),
    "total_default": ("Defaults (USD)", USD),
    "total_recovery": ("Recoveries (USD)", USD),
    "total_loss": ("Loss (USD)", USD),
    "total_loss_change": ("Loss change (USD)", USD_CHANGE),
    "loss_percent": ("Loss (% of balance)", "%.2f%%"),
    "loss_percent_change": ("Loss change (pp)", "%+.2f"),
    "residual_balance": ("Residual balance (USD)", USD),
    "duration": ("Duration (years)", "%.2f"),
    "duration_change": ("Duration change (years)", "%+.2f"),
    "modified_duration": ("Modified duration (years)", "%.2f"),
    "convexity": ("Convexity", "%.2f"),
    "weighted_average_life": ("WAL (years)", "%.2f"),
    "weighted_average_life_change": ("WAL change (years)", "%+.2f"),
    "discount_yield": ("Discount yield (annual)", "percent"),
    "irr_change": ("IRR change (annual)", "percent"),
    "npv_change_change": ("", USD),
    "execution_time": ("Time (s)", "%.3f"),
    "starting_balance_change": ("", USD),
    "n_assets": ("Loans", "%,d"),
    "balance": ("Balance (USD)", USD),
    "total_balance": ("Balance (USD)", USD),
    "balance_share": ("Share of balance", "percent"),
}


def metric_columns(columns: list[str] | pd.Index) -> dict[str, Any]:
    """``column_config`` for every known numeric column among ``columns``."""
    out: dict[str, Any] = {}
    for c in columns:
        if c in _METRIC_FORMATS:
            label, fmt = _METRIC_FORMATS[c]
            out[c] = st.column_config.NumberColumn(label or c, format=fmt)
        elif c == "npv_change" or c.endswith("_change"):
            out[c] = st.column_config.NumberColumn(c, format="%.2f")
    return out


# --------------------------------------------------------------------------- cached engine calls

@st.cache_data(max_entries=8, show_spinner=False)
def cached_pool(pool_id: str) -> PoolData:
    """A stored pool (cleared when any pool is saved or deleted)."""
    return load_pool(cursor(), pool_id)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_summary(pool_id: str) -> dict[str, Any]:
    return pool_summary(cached_pool(pool_id))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_breakdown(pool_id: str, by: str) -> pd.DataFrame:
    return pool_breakdown(cached_pool(pool_id), by)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_run(run_id: str) -> StressTestResult:
    """A stored run read back without recomputing (runs never change once stored)."""
    return load_run(cursor(), run_id)


@st.cache_data(max_entries=1, show_spinner=False)
def cached_assumptions() -> pd.DataFrame:
    """The packaged assumption table: asset_class, grade, the value fields and their sources."""
    return load_assumptions().to_frame()


@st.cache_data(max_entries=4, show_spinner=False)
def detect_upload_format(content: bytes, filename: str) -> str:
    """The tape layout recognised from an upload's header (raises InputError when none fits)."""
    return detect_format(read_table(content, filename=filename).columns)


@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(content: bytes, filename: str, *, fmt: str, pool_id: str | None,
                pool_name: str | None, cutoff_date: date | None,
                edited_assumptions: pd.DataFrame | None) -> PoolData:
    """Read, map and validate an upload with the (possibly edited) assumption table.

    Raises
    ------
    ValidationError, InputError
        As :func:`engine.ingest.read_pool`, or an edited assumption out of range.
    """
    table = load_assumptions()
    if edited_assumptions is not None:
        changes = assumption_changes(table.to_frame(), edited_assumptions, VALUE_FIELDS)
        if len(changes):
            table = table.override(changes, source="edited in the app")
    return read_pool(content, filename=filename, format=fmt, pool_id=pool_id or None,
                     pool_name=pool_name or None, cutoff_date=cutoff_date, assumptions=table)


def _clear_pool_caches() -> None:
    cached_pool.clear()
    cached_summary.clear()
    cached_breakdown.clear()


def store_pool(pool: PoolData, *, source_file: str | None) -> str:
    """Save a validated pool; returns its id."""
    pool_id = save_pool(cursor(), pool, source_file=source_file)
    _clear_pool_caches()
    return pool_id


def remove_pool(pool_id: str) -> None:
    delete_pool(cursor(), pool_id)
    _clear_pool_caches()


@st.cache_data(max_entries=32, show_spinner=False)
def loan_path(pool_id: str, asset_id: str, run_id: str, scenario_key: str) -> pd.DataFrame:
    """One loan's monthly path under a stored run's scenario (closed form, no stress rerun)."""
    run = cached_run(run_id)
    return loan_path_frame(cached_pool(pool_id), asset_id, run.scenarios[scenario_key].scenario,
                           horizon=run.projection_periods)


# --------------------------------------------------------------------------- the stress run

@dataclass
class RunJob:
    """A stress run on a background thread; the page polls ``events`` from the script thread.

    The engine calls ``progress`` from its worker threads, where Streamlit elements must not be
    touched: each call only puts ``(key, name, status, n_done, n_total)`` on ``events``. The page
    reads the queue and updates ``st.progress`` / ``st.status``. Setting ``cancel`` makes the
    scenarios not yet finished end with status ``error`` ("cancelled by the user"); finished
    scenarios are kept and the run is stored as ``partial``.
    """

    configuration: dict[str, Any]
    n_total: int
    started_at: datetime
    cancel: threading.Event = field(default_factory=threading.Event)
    events: queue.Queue = field(default_factory=queue.Queue)
    done: list[tuple[str, str, str]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def start_run(*, pool_id: str, scenario_keys: list[str], discount_rate: float,
              analysis_date: date, projection_periods: int | None,
              include_loan_level: bool) -> RunJob:
    """Start a stress run of stored pool ``pool_id`` on a background thread.

    Raises
    ------
    StressLabError
        If the pool is missing or the request is invalid (before anything starts).
    """
    pool = cached_pool(pool_id)
    library = scenario_library(cursor())
    keys = list(dict.fromkeys(["base", *scenario_keys]))
    try:
        request = StressTestRequest(
            request=AnalysisRequest(analysis_date=analysis_date, discount_rate=discount_rate,
                                    projection_periods=projection_periods,
                                    include_cashflows=True),
            scenario_names=keys, include_cashflows=True, include_loan_level=include_loan_level)
    except ValueError as exc:  # pydantic: a value outside its bounds
        from engine.errors import InputError
        raise InputError(f"invalid run settings: {exc}") from None
    configuration = {"pool_id": pool_id, "scenario_names": keys, "discount_rate": discount_rate,
                     "analysis_date": analysis_date.isoformat(),
                     "projection_periods": projection_periods,
                     "include_loan_level": include_loan_level, "source": "dashboard"}
    job = RunJob(configuration=configuration, n_total=len(keys),
                 started_at=datetime.now(timezone.utc).replace(tzinfo=None))
    cache = DuckDBCache(connection())

    def progress(key: str, result: Any, n_done: int, n_total: int) -> None:
        job.events.put((key, result.scenario.name, result.status, n_done, n_total))

    def work() -> None:
        try:
            job.outcome["result"] = run_stress_test(
                request, pool=pool, library=library, cache=cache, progress=progress,
                cancel=job.cancel)
        except StressLabError as exc:
            job.outcome["error"] = exc
        except Exception as exc:  # noqa: BLE001 - shown as a message, never a traceback
            job.outcome["error"] = StressLabError(f"the stress run failed: {type(exc).__name__}: {exc}")

    job.thread = threading.Thread(target=work, name="stresslab-run", daemon=True)
    job.thread.start()
    return job


def poll_run(job: RunJob, on_event: Callable[[str, str, str, int, int], None], *,
             on_tick: Callable[[float], None] | None = None, interval: float = 0.05,
             tick_every: float = 0.25) -> None:
    """On the script thread: pass each progress event to ``on_event`` until the run ends.

    ``on_tick(seconds_elapsed)`` is called every ``tick_every`` seconds; updating an element
    there lets Streamlit stop this script promptly when the user presses a button (Cancel).
    """
    t0 = last_tick = time.perf_counter()
    while True:
        alive = job.running
        try:
            while True:
                ev = job.events.get_nowait()
                job.done.append((ev[0], ev[1], ev[2]))
                on_event(*ev)
        except queue.Empty:
            pass
        if not alive:
            return
        now = time.perf_counter()
        if on_tick is not None and now - last_tick >= tick_every:
            on_tick(now - t0)
            last_tick = now
        time.sleep(interval)


def finish_run(job: RunJob) -> str:
    """Store a finished run (or its failure) and return the run id.

    Raises
    ------
    StressLabError
        The run's own error, after it is recorded as a failed run.
    """
    cur = cursor()
    if "error" in job.outcome:
        exc = job.outcome["error"]
        record_failed_run(cur, configuration=job.configuration, error=str(exc),
                          pool_id=job.configuration["pool_id"], started_at=job.started_at)
        raise exc
    result: StressTestResult = job.outcome["result"]
    if job.configuration.get("include_loan_level"):
        stored = tuple(cur.execute("SELECT * FROM loan_results LIMIT 0").df().columns)
        result = keep_loan_columns(result, (*stored, "scenario", "status"))
    return record_run(cur, result, configuration=job.configuration, started_at=job.started_at)


# --------------------------------------------------------------------------- downloads

def metrics_csv(result: StressTestResult) -> bytes:
    return to_safe_csv(result.metrics_frame())


def cashflows_csv(result: StressTestResult) -> bytes:
    return to_safe_csv(result.cashflows_frame())


def cashflows_parquet(result: StressTestResult) -> bytes:
    buf = io.BytesIO()
    result.cashflows_frame().to_parquet(buf, index=False)
    return buf.getvalue()


def response_json(result: StressTestResult) -> bytes:
    """The response JSON of ARCHITECTURE.md: scenario key → {pool_name, analysis_date, status,
    execution_time, metrics, analytics, cache_hit}."""
    return result.response_json(indent=2).encode("utf-8")


# --------------------------------------------------------------------------- charts

def _layout(fig: go.Figure, *, title: str, x: str, y: str, height: int = 380,
            yformat: str | None = None, legend: bool = True) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}}, height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10}, template="plotly_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": -0.32, "x": 0} if legend else None,
        showlegend=legend, font={"size": 12},
    )
    fig.update_xaxes(title_text=x, automargin=True)
    fig.update_yaxes(title_text=y, automargin=True, tickformat=yformat)
    return fig


def breakdown_chart(frame: pd.DataFrame, by: str, *, label: str) -> go.Figure:
    """Balance by category (one bar per category, never per loan)."""
    fig = go.Figure(go.Bar(
        x=frame[by].astype(str), y=frame["balance"], marker_color=ACCENT,
        customdata=frame[["n_assets", "balance_share"]].to_numpy(),
        hovertemplate="%{x}<br>balance $%{y:,.0f}<br>%{customdata[0]:,} loans"
                      "<br>%{customdata[1]:.2%} of balance<extra></extra>"))
    return _layout(fig, title=f"Balance by {label}", x=label.capitalize(), y="Balance (USD)",
                   yformat="$~s", height=320, legend=False)


def npv_change_chart(table: pd.DataFrame) -> go.Figure:
    """NPV change against base per scenario, in percent (from ``metrics_against_base``)."""
    df = table[table["scenario"] != "base"]
    pct_change = df["npv_change_percent"]
    colors = [NEGATIVE if v < 0 else ACCENT for v in df["npv_change"].fillna(0)]
    fig = go.Figure(go.Bar(
        x=df["name"], y=pct_change, marker_color=colors,
        text=[pct(v, decimal=False, signed=True) for v in pct_change], textposition="outside",
        customdata=df["npv_change"].to_numpy(),
        hovertemplate="%{x}<br>%{y:+.2f}% of base NPV<br>$%{customdata:,.0f}<extra></extra>"))
    fig.add_hline(y=0, line_color="#888", line_width=1)
    top = float(pct_change.abs().max()) if len(pct_change) and pct_change.notna().any() else 1.0
    fig.update_yaxes(range=[-top * 1.25 if (pct_change < 0).any() else 0,
                            top * 1.25 if (pct_change > 0).any() else top * 0.1])
    return _layout(fig, title="NPV change against the base case", x="Scenario",
                   y="NPV change (% of base)", yformat=".1f", legend=False, height=400)


def timeline_chart(cashflows: pd.DataFrame, names: dict[str, str], *, column: str, title: str,
                   y: str) -> go.Figure:
    """One line per scenario over months (thinned to at most 400 points per scenario)."""
    df = cashflow_chart_frame(cashflows, names=names)
    fig = go.Figure()
    for i, (key, part) in enumerate(df.groupby("scenario", sort=False)):
        fig.add_trace(go.Scatter(
            x=part["period"], y=part[column], mode="lines", name=names.get(key, key),
            line={"color": _PALETTE[i % len(_PALETTE)], "width": 2 if key == "base" else 1.6,
                  "dash": "dash" if key == "base" else "solid"},
            hovertemplate="month %{x}<br>$%{y:,.0f}<extra>" + names.get(key, key) + "</extra>"))
    return _layout(fig, title=title, x="Months from the analysis date", y=y, yformat="$~s",
                   height=420)


def loss_bar_chart(table: pd.DataFrame) -> go.Figure:
    """Total loss per scenario (USD) with loss as % of balance in the label."""
    fig = go.Figure(go.Bar(
        x=table["name"], y=table["total_loss"], marker_color=NEGATIVE,
        text=[pct(v, decimal=False) for v in table["loss_percent"]], textposition="outside",
        hovertemplate="%{x}<br>loss $%{y:,.0f}<extra></extra>"))
    top = float(table["total_loss"].max()) if table["total_loss"].notna().any() else 1.0
    fig.update_yaxes(range=[0, top * 1.2])
    return _layout(fig, title="Credit loss over the horizon", x="Scenario", y="Loss (USD)",
                   yformat="$~s", legend=False)


def wal_duration_chart(table: pd.DataFrame) -> go.Figure:
    """WAL and duration per scenario, side by side (years)."""
    fig = go.Figure([
        go.Bar(x=table["name"], y=table["weighted_average_life"], name="WAL",
               marker_color=ACCENT, hovertemplate="%{x}<br>WAL %{y:.2f} years<extra></extra>"),
        go.Bar(x=table["name"], y=table["duration"], name="Duration", marker_color="#c8702a",
               hovertemplate="%{x}<br>duration %{y:.2f} years<extra></extra>"),
    ])
    fig.update_layout(barmode="group")
    return _layout(fig, title="WAL and duration", x="Scenario", y="Years", yformat=".2f")


def grade_loss_chart(frame: pd.DataFrame, by: str) -> go.Figure:
    """Loss as % of starting balance by grade or asset class (aggregated loan-level rows)."""
    fig = go.Figure(go.Bar(
        x=frame[by].astype(str), y=frame["loss_percent"], marker_color=NEGATIVE,
        customdata=frame[["total_loss", "n_assets"]].to_numpy(),
        hovertemplate="%{x}<br>%{y:.2f}% of balance<br>loss $%{customdata[0]:,.0f}"
                      "<br>%{customdata[1]:,} loans<extra></extra>"))
    return _layout(fig, title=f"Loss by {by.replace('_', ' ')}", x=by.replace("_", " ").capitalize(),
                   y="Loss (% of starting balance)", yformat=".1f", legend=False, height=340)


def loan_path_chart(path: pd.DataFrame, asset_id: str) -> go.Figure:
    """One loan's balance and cumulative loss by month."""
    fig = go.Figure([
        go.Scatter(x=path["period"], y=path["balance"], name="Expected balance",
                   line={"color": ACCENT}, hovertemplate="month %{x}<br>$%{y:,.2f}<extra></extra>"),
        go.Scatter(x=path["period"], y=path["cumulative_loss"], name="Cumulative expected loss",
                   line={"color": NEGATIVE}, hovertemplate="month %{x}<br>$%{y:,.2f}<extra></extra>"),
    ])
    return _layout(fig, title=f"Loan {asset_id}: expected path", x="Months from the analysis date",
                   y="USD", yformat="$,.0f", height=340)
