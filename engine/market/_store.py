"""Store limit evaluations, breaches, false positives and mode changes, each in the audit trail.

Every write runs in one transaction together with its audit-chain records
(:mod:`engine.audit.chain`): either the row and its audit records are stored, or nothing is.
Timestamps are supplied by the caller.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import duckdb
import pandas as pd

from engine.audit import chain
from engine.errors import InputError, NotFoundError
from engine.market.enforcement import Evaluation
from engine.market.limits import MODES, LimitsConfig
from engine.market.sensors import SENSORS, RiskSnapshot, SensorStatus, sensor_status
from engine.store import transaction

__all__ = [
    "breaches_frame",
    "current_mode",
    "evaluations_frame",
    "record_evaluation",
    "record_false_positive",
    "sensor_statuses",
    "set_mode",
    "utc_now",
]


def utc_now() -> datetime:
    """The wall clock as naive UTC: what the CLI and the page pass as the audit timestamp.

    Engine calculations never call it; only the callers at the edge (CLI handlers, pages) do.
    """
    return datetime.now(UTC).replace(tzinfo=None)


def current_mode(con: duckdb.DuckDBPyConnection, *, default: str = "monitoring") -> str:
    """The enforcement mode last set in the store, else ``default``."""
    row = con.execute("SELECT new_mode FROM market_mode_changes ORDER BY audit_seq DESC LIMIT 1"
                      ).fetchone()
    return str(row[0]) if row else default


def set_mode(con: duckdb.DuckDBPyConnection, *, mode: str, reason: str, timestamp: datetime,
             default: str = "monitoring") -> int:
    """Switch the enforcement mode; returns the audit sequence number of the change.

    Raises
    ------
    InputError
        Unknown mode or empty reason.
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if not reason or not reason.strip():
        raise InputError("state a reason for the mode change")
    old = current_mode(con, default=default)
    with transaction(con):
        rec = chain.append(con, event_type="mode_change",
                           payload={"old_mode": old, "new_mode": mode, "reason": reason.strip()},
                           timestamp=timestamp)
        con.execute("INSERT INTO market_mode_changes VALUES (?, ?, ?, ?, ?)",
                    [timestamp, old, mode, reason.strip(), rec.seq])
    return rec.seq


def record_evaluation(con: duckdb.DuckDBPyConnection, evaluation: Evaluation,
                      snapshot: RiskSnapshot, *, timestamp: datetime) -> str:
    """Store an evaluation, its breaches and actions, and their audit records; returns its id.

    Audit events: one ``evaluation``; one ``breach`` per breached rule; one ``action`` per
    decision whose action is not ``none``.
    """
    eval_id = uuid.uuid4().hex
    decisions = [d.model_dump() for d in evaluation.decisions]
    with transaction(con):
        rec = chain.append(con, event_type="evaluation", timestamp=timestamp, payload={
            "evaluation_id": eval_id, "as_of": evaluation.as_of, "mode": evaluation.mode,
            "action": evaluation.action, "sensor": evaluation.sensor, "reason": evaluation.reason,
            "snapshot": snapshot.model_dump(), "latency_us": evaluation.latency_us})
        con.execute("INSERT INTO market_evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [eval_id, timestamp, evaluation.mode, evaluation.action,
                     snapshot.model_dump_json(), json.dumps(decisions), evaluation.latency_us,
                     rec.seq])
        for d in evaluation.decisions:
            if d.breached:
                breach_id = f"{eval_id[:12]}-{d.rule}"
                chain.append(con, event_type="breach", timestamp=timestamp,
                             payload={"breach_id": breach_id, "evaluation_id": eval_id,
                                      **d.model_dump()})
                con.execute("INSERT INTO market_breaches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [breach_id, eval_id, timestamp, d.sensor, d.rule, d.metric,
                             d.threshold, d.configured_action, d.action, d.enforced, d.mode,
                             d.reason])
            if d.action != "none":
                chain.append(con, event_type="action", timestamp=timestamp,
                             payload={"evaluation_id": eval_id, "sensor": d.sensor,
                                      "rule": d.rule, "action": d.action, "enforced": d.enforced,
                                      "mode": d.mode, "reason": d.reason})
    return eval_id


def record_false_positive(con: duckdb.DuckDBPyConnection, *, breach_id: str, reason: str,
                          confidence: float, timestamp: datetime) -> str:
    """Record that a past breach was a false positive; returns the record's id.

    Parameters
    ----------
    confidence : float
        How sure the reviewer is that it was a false positive, in [0, 1].

    Raises
    ------
    NotFoundError
        No such breach.
    InputError
        Empty reason, confidence outside [0, 1], or the breach already marked.
    """
    if not reason or not reason.strip():
        raise InputError("state why the breach was a false positive")
    try:
        conf = float(confidence)
    except (TypeError, ValueError):
        raise InputError(f"confidence {confidence!r} must be a number in [0, 1]") from None
    if not 0.0 <= conf <= 1.0:
        raise InputError(f"confidence {confidence!r} must lie in [0, 1]")
    row = con.execute("SELECT sensor FROM market_breaches WHERE breach_id = ?", [breach_id]
                      ).fetchone()
    if row is None:
        raise NotFoundError(f"no breach {breach_id!r} in the store")
    if con.execute("SELECT 1 FROM market_false_positives WHERE breach_id = ?", [breach_id]
                   ).fetchone():
        raise InputError(f"breach {breach_id!r} is already marked as a false positive")
    fp_id = uuid.uuid4().hex
    with transaction(con):
        chain.append(con, event_type="false_positive", timestamp=timestamp,
                     payload={"fp_id": fp_id, "breach_id": breach_id, "sensor": row[0],
                              "reason": reason.strip(), "confidence": conf})
        con.execute("INSERT INTO market_false_positives VALUES (?, ?, ?, ?, ?, ?)",
                    [fp_id, breach_id, row[0], timestamp, reason.strip(), conf])
    return fp_id


def sensor_statuses(con: duckdb.DuckDBPyConnection, config: LimitsConfig, *,
                    as_of: datetime) -> list[SensorStatus]:
    """Every sensor's false-positive rate per week and status on ``as_of``, from the store."""
    # Every evaluation covers every sensor, so each was first seen at the first evaluation.
    first_seen = con.execute("SELECT min(evaluated_at) FROM market_evaluations"
                             " WHERE evaluated_at <= ?", [as_of]).fetchone()[0]
    n_breaches = dict(con.execute(
        "SELECT sensor, count(*) FROM market_breaches WHERE evaluated_at <= ? GROUP BY sensor",
        [as_of]).fetchall())
    fps: dict[str, list[datetime]] = {}
    for sensor, t in con.execute("SELECT sensor, recorded_at FROM market_false_positives"
                                 " WHERE recorded_at <= ?", [as_of]).fetchall():
        fps.setdefault(sensor, []).append(t)
    return [sensor_status(s, as_of=as_of, first_seen=first_seen,
                          false_positive_times=fps.get(s, []), breaches=int(n_breaches.get(s, 0)),
                          threshold_per_week=config.false_positive_threshold_per_week,
                          window_days=config.false_positive_window_days,
                          min_observation_days=config.min_observation_days)
            for s in SENSORS]


def breaches_frame(con: duckdb.DuckDBPyConnection, *, limit: int = 500) -> pd.DataFrame:
    """Stored breaches, newest first, with their false-positive mark."""
    return con.execute(
        "SELECT b.breach_id, b.evaluated_at, b.sensor, b.rule, b.metric, b.threshold,"
        " b.configured_action, b.action, b.enforced, b.mode, b.reason,"
        " f.fp_id IS NOT NULL AS false_positive, f.reason AS fp_reason,"
        " f.confidence AS fp_confidence"
        " FROM market_breaches b LEFT JOIN market_false_positives f USING (breach_id)"
        " ORDER BY b.evaluated_at DESC, b.breach_id LIMIT ?", [limit]).df()


def evaluations_frame(con: duckdb.DuckDBPyConnection, *, limit: int = 200) -> pd.DataFrame:
    """Stored evaluations, newest first (id, time, mode, action, latency)."""
    return con.execute(
        "SELECT evaluation_id, evaluated_at, mode, action, latency_us, audit_seq"
        " FROM market_evaluations ORDER BY evaluated_at DESC, audit_seq DESC LIMIT ?",
        [limit]).df()
