"""Credit tables of the store: pools and assets, custom scenarios, the result cache, and a credit
run's results, cashflows and loan-level rows (its row in ``runs`` goes through
:func:`engine.audit.runs.insert_run`).

Every function takes a DuckDB connection (a :class:`~engine.store.Store` session's cursor, or a
connection of one's own in tests). Functions that write run **inside the caller's transaction**
(``with transaction(con): ...``), so a workflow stores a pool, or a run with its results,
cashflows, loan rows and new cache entries, whole or not at all. SQL is parameterized
throughout; bulk rows go in through a registered DataFrame (DuckDB documentation, "Python: SQL on
Pandas").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel

from engine import __version__
from engine.audit.runs import RunRow, insert_run, utc_now
from engine.canonical import canonical_json
from engine.credit._scenarios import Scenario, builtin_scenarios, check_custom_key, make_scenario
from engine.credit.models import (
    ASSET_COLUMNS,
    CASHFLOW_COLUMNS,
    PoolData,
    ScenarioResult,
    StressTestResult,
)
from engine.errors import InputError, NotFoundError
from engine.ingest import ColumnMapping

__all__ = [
    "pool_exists", "count_pools", "save_pool", "load_pool", "list_pools", "delete_pool",
    "quarantined_rows", "quarantine_count",
    "save_mapping", "load_mapping", "list_mappings", "delete_mapping",
    "save_scenario", "custom_scenarios", "delete_scenario", "scenario_library",
    "cache_entries", "save_cache_entries",
    "run_status", "summary_line", "record_run", "record_failed_run", "load_result",
    "stored_configuration", "list_runs", "count_runs",
]


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, **frames: pd.DataFrame) -> Iterator[None]:
    """Register DataFrames as views for a bulk INSERT … SELECT; unregistered afterwards.

    Inside a transaction a failed statement aborts it and DuckDB refuses the unregister; the
    caller's ROLLBACK then drops the views with everything else.
    """
    frames = {name: f for name, f in frames.items() if len(f.columns)}
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        yield
    finally:
        for name in frames:
            try:
                con.unregister(name)
            except duckdb.TransactionException:
                pass


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    cur = con.execute(f"SELECT * FROM {table} LIMIT 0")  # table: a constant of this module
    return [d[0] for d in cur.description]


# --------------------------------------------------------------------------- pools

def pool_exists(con: duckdb.DuckDBPyConnection, pool_id: str) -> bool:
    """Whether a pool with this id is stored."""
    return con.execute("SELECT 1 FROM pools WHERE pool_id = ?", [pool_id]).fetchone() is not None


def count_pools(con: duckdb.DuckDBPyConnection) -> int:
    """How many pools the store holds."""
    return int(con.execute("SELECT count(*) FROM pools").fetchone()[0])


def save_pool(con: duckdb.DuckDBPyConnection, *, pool: PoolData, source_file: str | None = None,
              replace: bool = False) -> bool:
    """Store a validated pool, its assets and its quarantined rows (inside the caller's
    transaction).

    Storing the same content under the same id again is a no-op (the content hash covers the
    valid loans and the cutoff date, not the quarantined rows).

    Parameters
    ----------
    pool : PoolData
    source_file : str, optional
        Where the tape came from, for the record.
    replace : bool
        Replace a stored pool of the same id with other content.

    Returns
    -------
    bool
        True if rows were written, False if the same pool was already stored.

    Raises
    ------
    InputError
        If ``pool.pool_id`` is taken by a pool with other content and ``replace`` is False.
    """
    digest = pool.content_hash()
    row = con.execute("SELECT content_hash FROM pools WHERE pool_id = ?", [pool.pool_id]).fetchone()
    if row is not None and not replace:
        if row[0] == digest:
            return False
        raise InputError(
            f"a different pool is already stored as {pool.pool_id!r}; give this one another "
            "name, or delete the stored one first")
    assets = pool.frame[list(ASSET_COLUMNS)].copy()
    assets.insert(0, "row_number", np.arange(1, len(assets) + 1, dtype=np.int64))
    assets.insert(0, "pool_id", pool.pool_id)
    cols = ", ".join(["pool_id", "row_number", *ASSET_COLUMNS])
    if row is not None:
        con.execute("DELETE FROM assets WHERE pool_id = ?", [pool.pool_id])
        con.execute("DELETE FROM quarantined_rows WHERE pool_id = ?", [pool.pool_id])
        con.execute("DELETE FROM pools WHERE pool_id = ?", [pool.pool_id])
    con.execute(
        "INSERT INTO pools (pool_id, pool_name, source_format, source_file, content_hash,"
        " cutoff_date, n_assets, total_balance, metadata, assumptions, warnings, created_at,"
        " n_quarantined)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [pool.pool_id, pool.pool_name, pool.source_format, source_file, digest,
         pool.cutoff_date, pool.n_assets, pool.total_balance, canonical_json(pool.metadata),
         canonical_json(pool.assumptions), canonical_json(pool.warnings), utc_now(),
         pool.n_quarantined])
    with _registered(con, _stresslab_assets=assets):
        con.execute(f"INSERT INTO assets ({cols}) SELECT {cols} FROM _stresslab_assets")
    if pool.quarantine:
        bad = pd.DataFrame({
            "pool_id": pool.pool_id,
            "source_row": [int(q["source_row"]) for q in pool.quarantine],
            # the tape's column order kept (canonical_json would sort the columns)
            "source_values": [json.dumps(q["values"], ensure_ascii=False, allow_nan=False)
                              for q in pool.quarantine],
            "issues": [canonical_json(q["issues"]) for q in pool.quarantine],
        })
        with _registered(con, _stresslab_quarantine=bad):
            con.execute("INSERT INTO quarantined_rows (pool_id, source_row, source_values, issues)"
                        " SELECT pool_id, source_row, source_values, issues"
                        " FROM _stresslab_quarantine")
    return True


def _no_pool(pool_id: str) -> NotFoundError:
    return NotFoundError(f"no stored pool {pool_id!r}; `stresslab pools list` shows them")


def pool_name(con: duckdb.DuckDBPyConnection, pool_id: str) -> str:
    """A stored pool's name, without reading its loans.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    row = con.execute("SELECT pool_name FROM pools WHERE pool_id = ?", [pool_id]).fetchone()
    if row is None:
        raise _no_pool(pool_id)
    return row[0]


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
        raise _no_pool(pool_id)
    cols = ", ".join(ASSET_COLUMNS)
    frame = con.execute(f"SELECT {cols} FROM assets WHERE pool_id = ? ORDER BY row_number",
                        [pool_id]).df()
    frame = frame.astype({c: t for c, t in ASSET_COLUMNS.items()})
    return PoolData(pool_id=pool_id, pool_name=row[0], frame=frame, cutoff_date=row[2],
                    metadata=json.loads(row[3] or "{}"), assumptions=json.loads(row[4] or "[]"),
                    warnings=json.loads(row[5] or "[]"), source_format=row[1])


def list_pools(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Stored pools, newest first: pool_id, pool_name, source_format, n_assets, total_balance
    (currency units), cutoff_date, created_at, n_quarantined (rows of the tape quarantined on
    import)."""
    return con.execute(
        "SELECT pool_id, pool_name, source_format, n_assets, total_balance, cutoff_date,"
        " created_at, coalesce(n_quarantined, 0) AS n_quarantined"
        " FROM pools ORDER BY created_at DESC, pool_id").df()


def quarantine_count(con: duckdb.DuckDBPyConnection, pool_id: str) -> int:
    """How many rows of a stored pool's tape were quarantined on import.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    row = con.execute("SELECT coalesce(n_quarantined, 0) FROM pools WHERE pool_id = ?",
                      [pool_id]).fetchone()
    if row is None:
        raise _no_pool(pool_id)
    return int(row[0])


def quarantined_rows(con: duckdb.DuckDBPyConnection, pool_id: str) -> list[dict[str, Any]]:
    """A stored pool's quarantined rows in source order: {source_row, values, issues}.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    if not pool_exists(con, pool_id):
        raise _no_pool(pool_id)
    rows = con.execute("SELECT source_row, source_values, issues FROM quarantined_rows"
                       " WHERE pool_id = ? ORDER BY source_row", [pool_id]).fetchall()
    return [{"source_row": int(r), "values": json.loads(v), "issues": json.loads(i)}
            for r, v, i in rows]


def delete_pool(con: duckdb.DuckDBPyConnection, pool_id: str) -> None:
    """Delete a pool and its assets (inside the caller's transaction; past runs stay readable).

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    if not pool_exists(con, pool_id):
        raise NotFoundError(f"no stored pool {pool_id!r}")
    con.execute("DELETE FROM assets WHERE pool_id = ?", [pool_id])
    con.execute("DELETE FROM quarantined_rows WHERE pool_id = ?", [pool_id])
    con.execute("DELETE FROM pools WHERE pool_id = ?", [pool_id])


# --------------------------------------------------------------------------- column mappings

def _no_mapping(name: str) -> NotFoundError:
    return NotFoundError(f"no saved column mapping {name!r}; `stresslab pools mappings list` "
                         "shows them")


def save_mapping(con: duckdb.DuckDBPyConnection, *, mapping: ColumnMapping) -> bool:
    """Insert or replace the column mapping named ``mapping.name`` (inside the caller's
    transaction).

    Returns
    -------
    bool
        True if it was new, False if it replaced one of the same name.
    """
    now = utc_now()
    body = canonical_json(mapping.model_dump(mode="json"))
    row = con.execute("SELECT 1 FROM column_mappings WHERE name = ?", [mapping.name]).fetchone()
    if row is None:
        con.execute("INSERT INTO column_mappings (name, mapping, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?)", [mapping.name, body, now, now])
        return True
    con.execute("UPDATE column_mappings SET mapping = ?, updated_at = ? WHERE name = ?",
                [body, now, mapping.name])
    return False


def load_mapping(con: duckdb.DuckDBPyConnection, name: str) -> ColumnMapping:
    """A saved column mapping.

    Raises
    ------
    NotFoundError
        If none is saved under ``name``.
    """
    row = con.execute("SELECT mapping FROM column_mappings WHERE name = ?", [name]).fetchone()
    if row is None:
        raise _no_mapping(name)
    return ColumnMapping.model_validate_json(row[0])


def list_mappings(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Saved column mappings by name: name, n_fields (fields mapped), derives_dates (bool),
    created_at, updated_at (UTC)."""
    rows = con.execute("SELECT name, mapping, created_at, updated_at FROM column_mappings"
                       " ORDER BY name").fetchall()
    out = []
    for name, body, created, updated in rows:
        m = json.loads(body)
        out.append({"name": name, "n_fields": len(m.get("fields") or {}),
                    "derives_dates": m.get("dates") is not None,
                    "created_at": created, "updated_at": updated})
    return pd.DataFrame(out, columns=["name", "n_fields", "derives_dates", "created_at",
                                      "updated_at"])


def delete_mapping(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Delete a saved column mapping (inside the caller's transaction).

    Raises
    ------
    NotFoundError
        If none is saved under ``name``.
    """
    if con.execute("SELECT 1 FROM column_mappings WHERE name = ?", [name]).fetchone() is None:
        raise _no_mapping(name)
    con.execute("DELETE FROM column_mappings WHERE name = ?", [name])


# --------------------------------------------------------------------------- scenarios

def save_scenario(con: duckdb.DuckDBPyConnection, *, key: str, scenario: Scenario) -> str:
    """Insert or update a custom scenario under ``key`` (inside the caller's transaction).

    Its ``source`` is kept (``custom``, or ``federal_reserve`` for an imported Board table), and
    its factors are stored with their path, if any, in the ``market_factors`` JSON.

    Returns
    -------
    str
        The key, stripped of surrounding blanks.

    Raises
    ------
    ScenarioError
        If ``key`` breaks a rule of :func:`engine.credit._scenarios.custom_key_problem`: empty,
        or reads as a built-in key or ``all`` (``Base``, ``credit-crisis``).
    """
    key = check_custom_key(key)
    now = utc_now()
    created = con.execute("SELECT created_at FROM scenarios WHERE scenario_key = ?",
                          [key]).fetchone()
    con.execute("DELETE FROM scenarios WHERE scenario_key = ?", [key])
    con.execute(
        "INSERT INTO scenarios (scenario_key, name, description, market_factors, source,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [key, scenario.name, scenario.description,
         canonical_json(scenario.market_factors.model_dump()), scenario.source,
         created[0] if created else now, now])
    return key


def custom_scenarios(con: duckdb.DuckDBPyConnection) -> dict[str, Scenario]:
    """The stored custom scenarios by key, oldest first (imported Federal Reserve scenarios
    keep their source)."""
    rows = con.execute("SELECT scenario_key, name, description, market_factors, source"
                       " FROM scenarios ORDER BY created_at, scenario_key").fetchall()
    return {k: make_scenario(n, description=d or "", market_factors=json.loads(f),
                             source=src if src == "federal_reserve" else "custom")
            for k, n, d, f, src in rows}


def delete_scenario(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Delete a custom scenario (inside the caller's transaction).

    Raises
    ------
    NotFoundError
        If no custom scenario has this key.
    """
    if con.execute("SELECT 1 FROM scenarios WHERE scenario_key = ?", [key]).fetchone() is None:
        raise NotFoundError(f"no custom scenario {key!r}")
    con.execute("DELETE FROM scenarios WHERE scenario_key = ?", [key])


def scenario_library(con: duckdb.DuckDBPyConnection) -> dict[str, Scenario]:
    """Predefined, then Federal Reserve, then the stored custom scenarios, by key."""
    return {**builtin_scenarios(), **custom_scenarios(con)}


# --------------------------------------------------------------------------- result cache

def cache_entries(con: duckdb.DuckDBPyConnection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The cached scenario results stored under ``keys`` by this engine version.

    Returns
    -------
    dict of key to payload
        ``{"metrics": dict (None read back as NaN), "pool": ndarray of shape (n_periods,
        len(POOL_FIELDS))}`` for each key found.
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    marks = ", ".join("?" for _ in keys)
    rows = con.execute(
        f"SELECT cache_key, metrics, pool_cashflows FROM result_cache WHERE cache_key IN ({marks})"
        " AND engine_version = ?", [*keys, __version__]).fetchall()
    out = {}
    for key, metrics_json, pool_json in rows:
        metrics = {k: (math.nan if v is None else v) for k, v in json.loads(metrics_json).items()}
        out[key] = {"metrics": metrics,
                    "pool": np.asarray(json.loads(pool_json), dtype=np.float64)}
    return out


def save_cache_entries(con: duckdb.DuckDBPyConnection, entries: Mapping[str, dict[str, Any]]) -> None:
    """Store scenario results in the cache table (inside the caller's transaction)."""
    for key, payload in entries.items():
        con.execute(
            "INSERT OR REPLACE INTO result_cache (cache_key, engine_version, metrics,"
            " pool_cashflows) VALUES (?, ?, ?, ?)",
            [key, __version__, canonical_json(payload["metrics"]),
             canonical_json(np.asarray(payload["pool"]))])


# --------------------------------------------------------------------------- runs

def run_status(result: StressTestResult) -> str:
    """``success`` when every scenario succeeded, ``error`` when none did, else ``partial``."""
    states = {r.status for r in result.scenarios.values()}
    if states == {"success"}:
        return "success"
    if "success" in states:
        return "partial"
    return "error"


def summary_line(result: StressTestResult) -> str:
    """One line for run lists, e.g. ``Credit Crisis −18.18 % NPV (worst of 4 scenarios)``."""
    failed = sum(r.status != "success" for r in result.scenarios.values())
    tail = f"; {failed} failed" if failed else ""
    worst = result.worst_scenario()
    if worst is not None:
        n = sum(1 for k, r in result.scenarios.items() if k != "base" and r.status == "success")
        pct = worst.metrics.get("npv_change_percent")
        if pct is not None and math.isfinite(pct):
            change = f"{pct:+.2f} % NPV".replace("-", "−")
        else:
            change = f"{worst.metrics['npv_change']:+,.0f} NPV".replace("-", "−")
        return (f"{worst.scenario.name} {change} (worst of {n} scenario"
                f"{'s' if n != 1 else ''}){tail}")
    base = result.scenarios.get("base")
    if base is not None and base.status == "success":
        return f"{base.scenario.name} NPV {base.metrics['npv']:,.0f} (base case only){tail}"
    first_error = next((r.error for r in result.scenarios.values() if r.error), "failed")
    return f"error: {first_error}"


def record_run(con: duckdb.DuckDBPyConnection, *, run_id: str, request: BaseModel,
               result: StressTestResult, started_at: datetime,
               finished_at: datetime | None = None) -> str:
    """Store a finished run: its ``runs`` row, results, cashflows and loan-level rows.

    Runs inside the caller's transaction. Loan-level rows keep only the columns the
    ``loan_results`` table has.

    Parameters
    ----------
    run_id : str
        From :func:`engine.audit.runs.new_run_id`.
    request : pydantic model
        The workflow request the run was made from (stored as its configuration).
    result : StressTestResult
    started_at, finished_at : datetime
        Naive UTC; ``finished_at`` defaults to now.

    Returns
    -------
    str
        ``run_id`` (also set on ``result``).
    """
    cashflows = result.cashflows_frame()
    cashflows.insert(0, "run_id", run_id)
    cashflows = cashflows.rename(columns={"scenario": "scenario_key"})
    loans = result.loan_level_frame()
    timings = {k: r.execution_time for k, r in result.scenarios.items()}
    response = result.response()
    for entry in response.values():
        entry.pop("cashflows", None)
    if len(loans):
        loans = loans.rename(columns={"scenario": "scenario_key"})
        loans.insert(0, "run_id", run_id)
        stored = _table_columns(con, "loan_results")
        loans = loans[[c for c in loans.columns if c in stored]]
    insert_run(con, RunRow(
        run_id=run_id, kind="credit", request=request, status=run_status(result),
        summary=summary_line(result), started_at=started_at,
        finished_at=finished_at or utc_now(), inputs_hash=result.inputs_hash,
        subject_id=result.pool_id, subject_name=result.pool_name,
        execution_time=result.execution_time_total, timings=timings, response=response,
        engine_version=result.engine_version))
    for r in result.scenarios.values():
        con.execute(
            "INSERT INTO results (run_id, scenario_key, scenario_name, status, error,"
            " cache_hit, execution_time, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, r.key, r.scenario.name, r.status, r.error, r.cache_hit,
             r.execution_time, canonical_json(r.metrics)])
    with _registered(con, _stresslab_cf=cashflows, _stresslab_loans=loans):
        if len(cashflows):
            cols = ", ".join(["run_id", "scenario_key", *CASHFLOW_COLUMNS])
            con.execute(f"INSERT INTO cashflows ({cols}) SELECT {cols} FROM _stresslab_cf")
        if len(loans):
            cols = ", ".join(loans.columns)
            con.execute(f"INSERT INTO loan_results ({cols}) SELECT {cols} FROM _stresslab_loans")
    result.with_run_id(run_id)
    return run_id


def record_failed_run(con: duckdb.DuckDBPyConnection, *, run_id: str, request: BaseModel,
                      error: str, started_at: datetime, pool_id: str | None = None,
                      pool_name: str | None = None, inputs_hash: str = "",
                      execution_time: float | None = None) -> str:
    """Record a run that failed as a whole: status ``error``, its message, and no results.

    Runs inside the caller's transaction; returns ``run_id``.
    """
    insert_run(con, RunRow(
        run_id=run_id, kind="credit", request=request, status="error",
        summary=f"error: {error}"[:300], started_at=started_at, finished_at=utc_now(),
        inputs_hash=inputs_hash, subject_id=pool_id, subject_name=pool_name, error=error,
        execution_time=execution_time))
    return run_id


def stored_configuration(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """The raw stored configuration of a credit run (for runs stored by older versions).

    Raises
    ------
    NotFoundError
        If no credit run has this id.
    """
    row = con.execute("SELECT configuration, pool_id FROM runs WHERE run_id = ? AND kind = 'credit'",
                      [run_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no stored credit run {run_id!r}")
    config = json.loads(row[0] or "{}")
    config.setdefault("pool_id", row[1])
    return config


def load_result(con: duckdb.DuckDBPyConnection, run_id: str) -> StressTestResult:
    """Reopen a stored credit run's result without recomputing anything.

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
    config = json.loads(config_json or "{}")
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
            metrics={k: (math.nan if v is None else v) for k, v in entry["metrics"].items()},
            cashflows=(mine[list(CASHFLOW_COLUMNS)].reset_index(drop=True) if len(mine) else None),
            loan_level=(ll.drop(columns=["run_id", "scenario_key"]).reset_index(drop=True)
                        if len(ll) else None),
        )
    first = next(iter(response.values()))
    report = (response.get("base") or {}).get("analytics", {}).get("stress_test_report", {})

    def fact(name: str, legacy: str, default: Any) -> Any:
        """A run fact from the stored report, else from an older version's configuration."""
        value = report.get(name)
        return config.get(legacy, default) if value is None else value

    result = StressTestResult(
        pool_id=pool_id or report.get("pool_id") or "",
        pool_name=pool_name or first["pool_name"],
        analysis_date=date.fromisoformat(first["analysis_date"]),
        discount_rate=fact("discount_rate", "discount_rate", math.nan),
        projection_periods=int(fact("projection_periods", "projection_periods_used", 0) or 0),
        n_assets=int(fact("n_assets", "n_assets", 0) or 0),
        inputs_hash=inputs_hash, engine_version=version, execution_time_total=total or 0.0,
        include_cashflows=bool(config.get("include_cashflows")),
        generate_report=True, scenarios=scenarios,
        valuation=(response.get("base") or {}).get("valuation") or report.get("valuation")
        or {"discounting": "flat"})
    return result.with_run_id(run_id)


def count_runs(con: duckdb.DuckDBPyConnection) -> int:
    """How many credit runs the store holds (failed ones included)."""
    return int(con.execute("SELECT count(*) FROM runs WHERE kind = 'credit'").fetchone()[0])


def list_runs(con: duckdb.DuckDBPyConnection, *, limit: int = 200) -> pd.DataFrame:
    """Credit runs, newest first, with the worst scenario by NPV change and that change.

    Returns
    -------
    DataFrame
        run_id, pool_id, pool_name, status, error, started_at, execution_time (s),
        engine_version, worst_scenario, worst_scenario_name, npv_change_percent (percent),
        npv_change (currency), n_scenarios.
    """
    runs = con.execute(
        "SELECT run_id, pool_id, pool_name, status, error, started_at, execution_time,"
        " engine_version FROM runs WHERE kind = 'credit' ORDER BY started_at DESC, run_id DESC"
        " LIMIT ?", [int(limit)]).df()
    worst = con.execute(
        "SELECT run_id, scenario_key, scenario_name,"
        " CAST(json_extract(metrics, '$.npv_change_percent') AS DOUBLE) AS npv_change_percent,"
        " CAST(json_extract(metrics, '$.npv_change') AS DOUBLE) AS npv_change"
        " FROM results WHERE status = 'success' AND scenario_key <> 'base'"
        " QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY"
        " CAST(json_extract(metrics, '$.npv_change') AS DOUBLE) ASC, scenario_key) = 1").df()
    worst = worst.rename(columns={"scenario_key": "worst_scenario",
                                  "scenario_name": "worst_scenario_name"})
    n_scen = con.execute("SELECT run_id, count(*) AS n_scenarios FROM results GROUP BY run_id").df()
    return runs.merge(worst, on="run_id", how="left").merge(n_scen, on="run_id", how="left")
