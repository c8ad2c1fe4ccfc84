"""Credit tables of the store: pools and assets, custom scenarios, runs, results, cashflows.

Every write runs in one transaction: a pool is stored whole or not at all, and a run's results,
cashflows and loan-level rows land together or not at all. SQL is parameterized throughout; bulk
rows go in through DuckDB's replacement scan of a registered DataFrame (DuckDB documentation,
"Python: SQL on Pandas").
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from engine import __version__
from engine.credit._runner import CASHFLOW_COLUMNS, ScenarioResult, StressTestResult
from engine.credit._scenarios import Scenario, builtin_scenarios, make_scenario
from engine.credit.models import ASSET_COLUMNS, PoolData
from engine.errors import InputError, NotFoundError
from engine.store._connection import transaction

__all__ = [
    "save_pool", "load_pool", "list_pools", "delete_pool", "pool_exists",
    "save_scenario", "custom_scenarios", "delete_scenario", "scenario_library",
    "DuckDBCache", "record_run", "record_failed_run", "load_run", "list_runs", "count_runs",
    "new_run_id",
]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _dumps(obj: Any) -> str:
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if isinstance(x, (date, datetime)):
            return x.isoformat()
        if isinstance(x, np.generic):
            return clean(x.item())
        return x
    return json.dumps(clean(obj), sort_keys=True, allow_nan=False)


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, **frames: pd.DataFrame) -> Iterator[None]:
    """Register DataFrames as views for a bulk INSERT … SELECT, outside the transaction."""
    frames = {name: f for name, f in frames.items() if len(f.columns)}
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        yield
    finally:
        for name in frames:
            con.unregister(name)


# --------------------------------------------------------------------------- pools

def pool_exists(con: duckdb.DuckDBPyConnection, pool_id: str) -> bool:
    return con.execute("SELECT 1 FROM pools WHERE pool_id = ?", [pool_id]).fetchone() is not None


def save_pool(con: duckdb.DuckDBPyConnection, pool: PoolData, *, source_file: str | None = None,
              replace: bool = False) -> str:
    """Store a validated pool and its assets in one transaction; returns its pool_id.

    Storing the same content under the same id again is a no-op.

    Raises
    ------
    InputError
        If ``pool.pool_id`` is taken by a pool with other content and ``replace`` is False.
    """
    digest = pool.content_hash()
    row = con.execute("SELECT content_hash FROM pools WHERE pool_id = ?", [pool.pool_id]).fetchone()
    if row is not None and not replace:
        if row[0] == digest:
            return pool.pool_id
        raise InputError(
            f"a different pool is already stored as {pool.pool_id!r}; give this one another "
            "name, or delete the stored one first")
    assets = pool.frame[list(ASSET_COLUMNS)].copy()
    assets.insert(0, "row_number", np.arange(1, len(assets) + 1, dtype=np.int64))
    assets.insert(0, "pool_id", pool.pool_id)
    cols = ", ".join(["pool_id", "row_number", *ASSET_COLUMNS])
    with _registered(con, _stresslab_assets=assets), transaction(con):
        if row is not None:
            con.execute("DELETE FROM assets WHERE pool_id = ?", [pool.pool_id])
            con.execute("DELETE FROM pools WHERE pool_id = ?", [pool.pool_id])
        con.execute(
            "INSERT INTO pools (pool_id, pool_name, source_format, source_file, content_hash,"
            " cutoff_date, n_assets, total_balance, metadata, assumptions, warnings, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [pool.pool_id, pool.pool_name, pool.source_format, source_file, digest,
             pool.cutoff_date, pool.n_assets, pool.total_balance, _dumps(pool.metadata),
             _dumps(pool.assumptions), _dumps(pool.warnings), _now()])
        con.execute(f"INSERT INTO assets ({cols}) SELECT {cols} FROM _stresslab_assets")
    return pool.pool_id


def load_pool(con: duckdb.DuckDBPyConnection, pool_id: str) -> PoolData:
    """Read a stored pool back as :class:`PoolData`.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    row = con.execute(
        "SELECT pool_name, source_format, cutoff_date, metadata, assumptions, warnings"
        " FROM pools WHERE pool_id = ?", [pool_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no stored pool {pool_id!r}; `stresslab pools list` shows them")
    cols = ", ".join(ASSET_COLUMNS)
    frame = con.execute(f"SELECT {cols} FROM assets WHERE pool_id = ? ORDER BY row_number",
                        [pool_id]).df()
    frame = frame.astype({c: t for c, t in ASSET_COLUMNS.items()})
    return PoolData(pool_id=pool_id, pool_name=row[0], frame=frame, cutoff_date=row[2],
                    metadata=json.loads(row[3] or "{}"), assumptions=json.loads(row[4] or "[]"),
                    warnings=json.loads(row[5] or "[]"), source_format=row[1])


def list_pools(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Stored pools, newest first: id, name, format, loans, balance, cutoff date, stored at."""
    return con.execute(
        "SELECT pool_id, pool_name, source_format, n_assets, total_balance, cutoff_date,"
        " created_at FROM pools ORDER BY created_at DESC, pool_id").df()


def delete_pool(con: duckdb.DuckDBPyConnection, pool_id: str) -> None:
    """Delete a pool and its assets (its past runs stay readable)."""
    if not pool_exists(con, pool_id):
        raise NotFoundError(f"no stored pool {pool_id!r}")
    with transaction(con):
        con.execute("DELETE FROM assets WHERE pool_id = ?", [pool_id])
        con.execute("DELETE FROM pools WHERE pool_id = ?", [pool_id])


# --------------------------------------------------------------------------- scenarios

def save_scenario(con: duckdb.DuckDBPyConnection, key: str, scenario: Scenario) -> None:
    """Insert or update a custom scenario under ``key``.

    Raises
    ------
    InputError
        If ``key`` is empty or names a built-in scenario.
    """
    key = key.strip()
    if not key:
        raise InputError("a scenario needs a key")
    if key in builtin_scenarios() or key == "all":
        raise InputError(f"{key!r} is a built-in scenario; choose another key")
    now = _now()
    with transaction(con):
        con.execute("DELETE FROM scenarios WHERE scenario_key = ?", [key])
        con.execute(
            "INSERT INTO scenarios (scenario_key, name, description, market_factors, source,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 'custom', ?, ?)",
            [key, scenario.name, scenario.description,
             _dumps(scenario.market_factors.model_dump()), now, now])


def custom_scenarios(con: duckdb.DuckDBPyConnection) -> dict[str, Scenario]:
    rows = con.execute("SELECT scenario_key, name, description, market_factors FROM scenarios"
                       " ORDER BY created_at, scenario_key").fetchall()
    return {k: make_scenario(n, description=d or "", market_factors=json.loads(f))
            for k, n, d, f in rows}


def delete_scenario(con: duckdb.DuckDBPyConnection, key: str) -> None:
    if con.execute("SELECT 1 FROM scenarios WHERE scenario_key = ?", [key]).fetchone() is None:
        raise NotFoundError(f"no custom scenario {key!r}")
    with transaction(con):
        con.execute("DELETE FROM scenarios WHERE scenario_key = ?", [key])


def scenario_library(con: duckdb.DuckDBPyConnection) -> dict[str, Scenario]:
    """Predefined, then Federal Reserve, then the stored custom scenarios, by key."""
    return {**builtin_scenarios(), **custom_scenarios(con)}


# --------------------------------------------------------------------------- cache

class DuckDBCache:
    """Scenario-result cache kept in the store, so it survives between processes.

    Called from the runner's worker threads: each call takes its own cursor under a lock
    (a DuckDB connection refuses a second concurrent call).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._con.cursor().execute(
                "SELECT metrics, pool_cashflows FROM result_cache WHERE cache_key = ?"
                " AND engine_version = ?", [key, __version__]).fetchone()
        if row is None:
            return None
        metrics = {k: (float("nan") if v is None else v) for k, v in json.loads(row[0]).items()}
        return {"metrics": metrics, "pool": np.asarray(json.loads(row[1]), dtype=np.float64)}

    def put(self, key: str, payload: dict[str, Any]) -> None:
        with self._lock:
            cur = self._con.cursor()
            cur.execute(
                "INSERT OR REPLACE INTO result_cache (cache_key, engine_version, metrics,"
                " pool_cashflows) VALUES (?, ?, ?, ?)",
                [key, __version__, _dumps(payload["metrics"]),
                 json.dumps(np.asarray(payload["pool"]).tolist())])


# --------------------------------------------------------------------------- runs

def new_run_id() -> str:
    return f"run-{_now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def _run_status(result: StressTestResult) -> str:
    states = {r.status for r in result.scenarios.values()}
    if states == {"success"}:
        return "success"
    if "success" in states:
        return "partial"
    return "error"


def record_run(con: duckdb.DuckDBPyConnection, result: StressTestResult, *,
               configuration: dict[str, Any], started_at: datetime | None = None) -> str:
    """Store a finished run with its results, cashflows and loan-level rows in one transaction.

    Returns
    -------
    str
        The new run_id (also set on ``result``).
    """
    run_id = new_run_id()
    finished = _now()
    started = started_at or finished
    configuration = {
        **configuration,
        "pool_id": result.pool_id,
        "n_assets": result.n_assets,
        "analysis_date": result.analysis_date,
        "discount_rate": result.discount_rate,
        "projection_periods_used": result.projection_periods,
        "include_cashflows": result.include_cashflows,
        "scenarios": {k: r.scenario.response_dict() for k, r in result.scenarios.items()},
    }
    metrics = result.metrics_frame()
    cashflows = result.cashflows_frame()
    cashflows.insert(0, "run_id", run_id)
    cashflows = cashflows.rename(columns={"scenario": "scenario_key"})
    loans = result.loan_level_frame()
    timings = {k: r.execution_time for k, r in result.scenarios.items()}
    response = result.response()
    for entry in response.values():
        entry.pop("cashflows", None)
    if len(loans):
        loans = loans.rename(columns={"scenario": "scenario_key"}).drop(columns=["status"])
        loans.insert(0, "run_id", run_id)
    with _registered(con, _stresslab_cf=cashflows, _stresslab_loans=loans), transaction(con):
        con.execute(
            "INSERT INTO runs (run_id, kind, pool_id, pool_name, inputs_hash, configuration,"
            " engine_version, status, error, started_at, finished_at, execution_time, timings,"
            " response) VALUES (?, 'credit', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, result.pool_id, result.pool_name, result.inputs_hash, _dumps(configuration),
             result.engine_version, _run_status(result), None, started, finished,
             result.execution_time_total, _dumps(timings), _dumps(response)])
        for _, row in metrics.iterrows():
            r = result.scenarios[row["scenario"]]
            con.execute(
                "INSERT INTO results (run_id, scenario_key, scenario_name, status, error,"
                " cache_hit, execution_time, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, r.key, r.scenario.name, r.status, r.error, r.cache_hit,
                 r.execution_time, _dumps(r.metrics)])
        if len(cashflows):
            cols = ", ".join(["run_id", "scenario_key", *CASHFLOW_COLUMNS])
            con.execute(f"INSERT INTO cashflows ({cols}) SELECT {cols} FROM _stresslab_cf")
        if len(loans):
            cols = ", ".join(loans.columns)
            con.execute(f"INSERT INTO loan_results ({cols}) SELECT {cols} FROM _stresslab_loans")
    result.with_run_id(run_id)
    return run_id


def record_failed_run(con: duckdb.DuckDBPyConnection, *, configuration: dict[str, Any],
                      error: str, pool_id: str | None = None, pool_name: str | None = None,
                      inputs_hash: str = "", started_at: datetime | None = None) -> str:
    """Record a run that failed as a whole: status ``error``, its message, and no results."""
    run_id = new_run_id()
    now = _now()
    with transaction(con):
        con.execute(
            "INSERT INTO runs (run_id, kind, pool_id, pool_name, inputs_hash, configuration,"
            " engine_version, status, error, started_at, finished_at)"
            " VALUES (?, 'credit', ?, ?, ?, ?, ?, 'error', ?, ?, ?)",
            [run_id, pool_id, pool_name, inputs_hash, _dumps(configuration), __version__, error,
             started_at or now, now])
    return run_id


def load_run(con: duckdb.DuckDBPyConnection, run_id: str) -> StressTestResult:
    """Reopen a stored credit run without recomputing anything.

    Raises
    ------
    NotFoundError
        If no credit run has this id, or the run failed and stored no results.
    """
    row = con.execute(
        "SELECT pool_id, pool_name, inputs_hash, configuration, engine_version, status, error,"
        " execution_time, response FROM runs WHERE run_id = ? AND kind = 'credit'",
        [run_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no stored credit run {run_id!r}")
    pool_id, pool_name, inputs_hash, config_json, version, status, error, total, resp = row
    if resp is None:
        raise NotFoundError(f"run {run_id!r} failed ({error}) and has no results to show")
    config = json.loads(config_json)
    response = json.loads(resp)
    cf = con.execute("SELECT * FROM cashflows WHERE run_id = ? ORDER BY scenario_key, period",
                     [run_id]).df()
    loans = con.execute("SELECT * FROM loan_results WHERE run_id = ?", [run_id]).df()
    scenarios: dict[str, ScenarioResult] = {}
    for key, entry in response.items():
        sc = entry["analytics"]["scenario"]
        scenario = Scenario(name=sc["name"], description=sc.get("description", ""),
                            market_factors=sc["market_factors"])
        mine = cf[cf["scenario_key"] == key]
        ll = loans[loans["scenario_key"] == key]
        scenarios[key] = ScenarioResult(
            key=key, scenario=scenario, status=entry["status"], error=entry.get("error"),
            execution_time=entry["execution_time"], cache_hit=entry["cache_hit"],
            metrics={k: (float("nan") if v is None else v) for k, v in entry["metrics"].items()},
            cashflows=(mine[list(CASHFLOW_COLUMNS)].reset_index(drop=True) if len(mine) else None),
            loan_level=(ll.drop(columns=["run_id", "scenario_key"]).reset_index(drop=True)
                        if len(ll) else None),
        )
    first = next(iter(response.values()))
    result = StressTestResult(
        pool_id=pool_id or "", pool_name=pool_name or first["pool_name"],
        analysis_date=date.fromisoformat(first["analysis_date"]),
        discount_rate=config.get("discount_rate", float("nan")),
        projection_periods=int(config.get("projection_periods_used") or 0),
        n_assets=int(config.get("n_assets") or 0),
        inputs_hash=inputs_hash, engine_version=version, execution_time_total=total or 0.0,
        include_cashflows=bool(config.get("include_cashflows")),
        generate_report=True, scenarios=scenarios)
    return result.with_run_id(run_id)


def count_runs(con: duckdb.DuckDBPyConnection) -> int:
    """How many credit runs the store holds (failed ones included)."""
    return int(con.execute("SELECT count(*) FROM runs WHERE kind = 'credit'").fetchone()[0])


def list_runs(con: duckdb.DuckDBPyConnection, *, limit: int = 50) -> pd.DataFrame:
    """Credit runs, newest first, with the worst scenario by NPV change and that change."""
    runs = con.execute(
        "SELECT run_id, pool_id, pool_name, status, error, started_at, execution_time,"
        " engine_version FROM runs WHERE kind = 'credit' ORDER BY started_at DESC LIMIT ?",
        [limit]).df()
    worst = con.execute(
        "SELECT run_id, scenario_key, scenario_name,"
        " CAST(json_extract(metrics, '$.npv_change_percent') AS DOUBLE) AS npv_change_percent,"
        " CAST(json_extract(metrics, '$.npv_change') AS DOUBLE) AS npv_change"
        " FROM results WHERE status = 'success' AND scenario_key <> 'base'"
        " QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY"
        " CAST(json_extract(metrics, '$.npv_change') AS DOUBLE) ASC) = 1").df()
    worst = worst.rename(columns={"scenario_key": "worst_scenario",
                                  "scenario_name": "worst_scenario_name"})
    n_scen = con.execute("SELECT run_id, count(*) AS n_scenarios FROM results GROUP BY run_id").df()
    out = runs.merge(worst, on="run_id", how="left").merge(n_scen, on="run_id", how="left")
    return out
