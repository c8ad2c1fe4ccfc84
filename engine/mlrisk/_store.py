"""Store queries of the workbench: runs (``runs`` kind='mlrisk' plus ml_* tables), artifacts,
sign-offs and saved handbooks. Parameterized SQL only; every write is one transaction."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pandas as pd

from engine import __version__
from engine.audit.manifest import sha256_hex
from engine.errors import InputError, NotFoundError
from engine.mlrisk._models import Handbook, parse_handbook
from engine.mlrisk._runner import ValidationRun
from engine.store import transaction

__all__ = [
    "save_run", "list_runs", "load_artifacts", "load_results",
    "add_signoff", "list_signoffs", "save_handbook", "load_handbook", "list_handbooks",
]


def save_run(con: duckdb.DuckDBPyConnection, run: ValidationRun) -> None:
    """Store a finished validation (runs row, ml_runs, artifacts, degradation rows) in one transaction."""
    r = run.results
    config = run.config.model_dump(mode="json")
    response = {"decision": r["decision"]["decision"], "baseline": r["baseline"]["metrics"],
                "failing_scenarios": r["decision"]["failing_scenarios"]}
    started = datetime.fromisoformat(run.generated_at).replace(tzinfo=None)
    inputs_hash = sha256_hex(json.dumps(run.inputs_hash, sort_keys=True).encode())
    with transaction(con):
        con.execute(
            "INSERT INTO runs (run_id, kind, pool_id, pool_name, inputs_hash, configuration, engine_version,"
            " status, error, started_at, finished_at, execution_time, timings, response)"
            " VALUES (?, 'mlrisk', NULL, ?, ?, ?, ?, 'success', NULL, ?, ?, ?, ?, ?)",
            [run.run_id, r["data"]["name"], inputs_hash, json.dumps(config, sort_keys=True), __version__,
             started, started, run.timings.get("total"), json.dumps(run.timings, sort_keys=True),
             json.dumps(response, sort_keys=True)],
        )
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
    """Stored validations, newest first: run_id, generated_at, dataset, task, model, decision, validator,
    sign-offs."""
    return con.execute(
        "SELECT m.run_id, m.generated_at, m.dataset_name, m.task, m.model_kind, m.target, m.n_rows,"
        " m.decision, m.validator, r.execution_time,"
        " (SELECT count(*) FROM ml_signoffs s WHERE s.run_id = m.run_id) AS signoffs"
        " FROM ml_runs m JOIN runs r USING (run_id) ORDER BY m.generated_at DESC, m.run_id"
    ).df()


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
    """The stored robustness results and degradation rows of a run (parsed JSON)."""
    a = load_artifacts(con, run_id)
    return json.loads(a["robustness_results.json"]), json.loads(a["performance_degradation_report.json"])


def add_signoff(con: duckdb.DuckDBPyConnection, run_id: str, *, name: str, comment: str,
                signed_at: datetime) -> None:
    """Record a validator's sign-off on a stored run.

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


def list_signoffs(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    return con.execute("SELECT signed_at, name, comment, decision FROM ml_signoffs WHERE run_id = ?"
                       " ORDER BY signed_at, name", [run_id]).df()


def save_handbook(con: duckdb.DuckDBPyConnection, name: str, handbook: Handbook, *, updated_at: datetime) -> None:
    """Save (or replace) a named handbook."""
    if not name.strip():
        raise InputError("a saved handbook needs a name")
    with transaction(con):
        con.execute("DELETE FROM ml_handbooks WHERE name = ?", [name.strip()])
        con.execute("INSERT INTO ml_handbooks (name, content, updated_at) VALUES (?, ?, ?)",
                    [name.strip(), handbook.to_json(), updated_at])


def load_handbook(con: duckdb.DuckDBPyConnection, name: str) -> Handbook:
    row = con.execute("SELECT content FROM ml_handbooks WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFoundError(f"no saved handbook {name!r}")
    return parse_handbook(row[0], subject=f"saved handbook {name!r}")


def list_handbooks(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM ml_handbooks ORDER BY name").fetchall()]
