"""What the reports read that no capability's workflow returns: a run's own row in ``runs`` (its
input hash, engine version, requester and times) and one stored limit evaluation.

Read-only; every query is parameterized and runs in the caller's read session.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from engine.errors import NotFoundError

__all__ = ["run_row", "evaluation_row"]


def run_row(con: duckdb.DuckDBPyConnection, *, run_id: str, kind: str) -> dict[str, Any]:
    """The ``runs`` row of a run of ``kind``: run_id, kind, subject_id, subject_name,
    inputs_hash, engine_version, status, started_at, finished_at (naive UTC), requested_by
    (None when the request named no user) and configuration (dict).

    Raises
    ------
    NotFoundError
        If no run of ``kind`` has this id.
    """
    row = con.execute(
        "SELECT run_id, kind, pool_id, pool_name, inputs_hash, engine_version, status,"
        " started_at, finished_at, json_extract_string(configuration, '$.requested_by'),"
        " configuration FROM runs WHERE run_id = ? AND kind = ?", [run_id, kind]).fetchone()
    if row is None:
        raise NotFoundError(f"no stored {kind} run {run_id!r}; `stresslab runs list` shows them")
    keys = ("run_id", "kind", "subject_id", "subject_name", "inputs_hash", "engine_version",
            "status", "started_at", "finished_at", "requested_by", "configuration")
    out = dict(zip(keys, row, strict=True))
    out["configuration"] = json.loads(out["configuration"] or "{}")
    return out


def evaluation_row(con: duckdb.DuckDBPyConnection, evaluation_id: str) -> dict[str, Any]:
    """A stored limit evaluation: evaluation_id, evaluated_at (naive UTC), mode, action,
    snapshot (dict, :class:`~engine.market.sensors.RiskSnapshot`'s fields), decisions (list of
    dict, :class:`~engine.market.enforcement.Decision`'s fields), latency_us, audit_seq.

    Raises
    ------
    NotFoundError
        If no evaluation has this id.
    """
    row = con.execute(
        "SELECT evaluation_id, evaluated_at, mode, action, snapshot, decisions, latency_us,"
        " audit_seq FROM market_evaluations WHERE evaluation_id = ?", [evaluation_id]).fetchone()
    if row is None:
        raise NotFoundError(f"no stored limit evaluation {evaluation_id!r}; the Market risk page "
                            "lists them")
    keys = ("evaluation_id", "evaluated_at", "mode", "action", "snapshot", "decisions",
            "latency_us", "audit_seq")
    out = dict(zip(keys, row, strict=True))
    out["snapshot"] = json.loads(out["snapshot"])
    out["decisions"] = json.loads(out["decisions"])
    return out
