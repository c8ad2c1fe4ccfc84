"""The workbench's tables: validation runs (the ``runs`` row, kind='mlrisk', plus ``ml_runs``),
their artifacts and degradation rows, validator sign-offs and saved handbooks.

Parameterized SQL only. These functions take a DuckDB connection or cursor (a :class:`~engine.store.Store`
session, or :func:`engine.store.connect` in tests); :mod:`engine.mlrisk.workflow` opens the sessions.
Every write is one transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
from pydantic import BaseModel

from engine.audit.manifest import sha256_hex
from engine.audit.runs import RunRow, insert_run
from engine.canonical import canonical_bytes
from engine.errors import InputError, NotFoundError
from engine.mlrisk._models import Handbook, parse_handbook
from engine.store import transaction

if TYPE_CHECKING:
    from engine.mlrisk._runner import ValidationRun

__all__ = [
    "save_run", "list_runs", "load_run_row", "load_artifacts", "load_results",
    "add_signoff", "list_signoffs", "save_handbook", "load_handbook", "list_handbooks",
]


def save_run(con: duckdb.DuckDBPyConnection, *, run: ValidationRun, request: BaseModel, summary: str,
             started_at: datetime, finished_at: datetime) -> None:
    """Store a finished validation in one transaction: its ``runs`` row, ``ml_runs``, the five
    artifacts and the degradation rows. Everything is stored, or nothing.

    Parameters
    ----------
    run : ValidationRun
        The finished validation.
    request : pydantic model
        The workflow request that made it; stored as the run's configuration.
    summary : str
        One line for lists ("REDESIGN: 3 failing scenarios").
    started_at, finished_at : datetime
        Naive UTC.

    Raises
    ------
    StoreError
        If a run with this id is already stored.
    """
    r = run.results
    response = {"decision": r["decision"]["decision"], "baseline": r["baseline"]["metrics"],
                "failing_scenarios": r["decision"]["failing_scenarios"]}
    with transaction(con):
        insert_run(con, RunRow(
            run_id=run.run_id, kind="mlrisk", request=request, status="success", summary=summary,
            started_at=started_at, finished_at=finished_at,
            inputs_hash=sha256_hex(canonical_bytes(run.inputs_hash)), subject_name=r["data"]["name"],
            execution_time=run.timings.get("total"), timings=run.timings, response=response))
        con.execute(
            "INSERT INTO ml_runs (run_id, dataset_name, dataset_sha256, task, model_kind, target, n_rows,"
            " decision, validator, generated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run.run_id, r["data"]["name"], r["data"]["sha256"], r["task"], r["model"]["kind"], r["target"],
             r["data"]["n_rows"], r["decision"]["decision"], run.user, run.generated_at],
        )
        con.executemany(
            "INSERT INTO ml_artifacts (run_id, name, sha256, content) VALUES (?, ?, ?, ?)",
            [[run.run_id, name, sha256_hex(b), b] for name, b in sorted(run.artifacts.items())],
        )
        con.executemany(
            "INSERT INTO ml_degradation (run_id, scenario_id, stress_type, severity_level, metric_name,"
            " baseline_value, stressed_value, degradation_pct, threshold, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[run.run_id, x["scenario_id"], x["stress_type"], x["severity_level"], x["metric_name"],
              x["baseline_value"], x["stressed_value"], x["degradation_pct"], x["threshold"], x["status"]]
             for x in run.rows],
        )


def list_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Stored validations, newest first: run_id, generated_at, dataset_name, task, model_kind,
    target, n_rows, decision, validator, summary, execution_time, signoffs."""
    return con.execute(
        "SELECT m.run_id, m.generated_at, m.dataset_name, m.task, m.model_kind, m.target, m.n_rows,"
        " m.decision, m.validator, r.summary, r.execution_time,"
        " (SELECT count(*) FROM ml_signoffs s WHERE s.run_id = m.run_id) AS signoffs"
        " FROM ml_runs m JOIN runs r USING (run_id) ORDER BY m.generated_at DESC, m.run_id"
    ).df()


def load_run_row(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """A stored run's ``ml_runs`` row with its ``runs`` summary and execution time.

    Raises
    ------
    NotFoundError
        If no validation run has this id.
    """
    cur = con.execute(
        "SELECT m.run_id, m.generated_at, m.dataset_name, m.dataset_sha256, m.task, m.model_kind, m.target,"
        " m.n_rows, m.decision, m.validator, r.summary, r.execution_time"
        " FROM ml_runs m JOIN runs r USING (run_id) WHERE m.run_id = ?", [run_id])
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"no model validation run {run_id!r} in the store")
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def load_artifacts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, bytes]:
    """The stored artifacts of a run, name -> bytes.

    Raises
    ------
    NotFoundError
        If no run has this id.
    """
    rows = con.execute("SELECT name, content FROM ml_artifacts WHERE run_id = ? ORDER BY name", [run_id]).fetchall()
    if not rows:
        raise NotFoundError(f"no model validation run {run_id!r} in the store")
    return {name: bytes(content) for name, content in rows}


def load_results(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[dict, list[dict]]:
    """The stored robustness results and degradation rows of a run (parsed JSON).

    Raises
    ------
    NotFoundError
        If no run has this id.
    """
    a = load_artifacts(con, run_id)
    return json.loads(a["robustness_results.json"]), json.loads(a["performance_degradation_report.json"])


def add_signoff(con: duckdb.DuckDBPyConnection, *, run_id: str, name: str, comment: str,
                signed_at: datetime) -> str:
    """Record a validator's sign-off on a stored run; returns the run's decision.

    Raises
    ------
    InputError
        If the name is blank.
    NotFoundError
        If the run is not stored.
    """
    if not name.strip():
        raise InputError("a sign-off needs the validator's name")
    row = con.execute("SELECT decision FROM ml_runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no model validation run {run_id!r} in the store")
    with transaction(con):
        con.execute("INSERT INTO ml_signoffs (run_id, signed_at, name, comment, decision) VALUES (?, ?, ?, ?, ?)",
                    [run_id, signed_at, name.strip(), comment.strip(), row[0]])
    return str(row[0])


def list_signoffs(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """A run's sign-offs in the order they were made: signed_at (naive UTC), name, comment, decision."""
    return con.execute("SELECT signed_at, name, comment, decision FROM ml_signoffs WHERE run_id = ?"
                       " ORDER BY signed_at, name", [run_id]).df()


def save_handbook(con: duckdb.DuckDBPyConnection, *, name: str, handbook: Handbook, updated_at: datetime) -> None:
    """Save (or replace) a named handbook.

    Raises
    ------
    InputError
        If the name is blank.
    """
    if not name.strip():
        raise InputError("a saved handbook needs a name")
    with transaction(con):
        con.execute("DELETE FROM ml_handbooks WHERE name = ?", [name.strip()])
        con.execute("INSERT INTO ml_handbooks (name, content, updated_at) VALUES (?, ?, ?)",
                    [name.strip(), handbook.to_json(), updated_at])


def load_handbook(con: duckdb.DuckDBPyConnection, name: str) -> Handbook:
    """A saved handbook.

    Raises
    ------
    NotFoundError
        If no handbook is saved under ``name``.
    """
    row = con.execute("SELECT content FROM ml_handbooks WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFoundError(f"no saved handbook {name!r}")
    return parse_handbook(row[0], subject=f"saved handbook {name!r}")


def list_handbooks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the saved handbooks, in alphabetical order."""
    return [r[0] for r in con.execute("SELECT name FROM ml_handbooks ORDER BY name").fetchall()]
