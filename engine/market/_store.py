"""The market-risk tables: limit evaluations, breaches, false positives and mode changes.

Every write goes into the audit trail (:mod:`engine.audit.chain`) in the caller's transaction,
and its audit record *covers* the row it wrote (the record carries the row's hash, so
``stresslab audit verify`` finds an edited or deleted evaluation, breach, false positive or mode
change). Each row is inserted first, then its record appended; rows that store their record's
``audit_seq`` take it from :func:`engine.audit.chain.next_seq`.
The workflow (:mod:`engine.market.workflow`) opens one write session and one
:func:`~engine.store.transaction` around an evaluation, its breaches, its audit records and its
``runs`` row, so that either all of them are stored or none is. Timestamps are supplied by the
caller. Reads return plain values (:class:`SensorHistory`, :class:`StoredFigures`, frames);
computing from them happens outside the store session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pandas as pd

from engine.audit import chain
from engine.errors import InputError, NotFoundError
from engine.market.enforcement import Evaluation
from engine.market.limits import MODES
from engine.market.sensors import RiskSnapshot

__all__ = [
    "SensorHistory",
    "StoredFigures",
    "breaches_frame",
    "current_mode",
    "evaluations_frame",
    "insert_evaluation",
    "insert_false_positive",
    "insert_mode_change",
    "recent_evaluations",
    "sensor_history",
    "stored_figures",
]


def current_mode(con: duckdb.DuckDBPyConnection, *, default: str = "monitoring") -> str:
    """The enforcement mode last set in the store, else ``default``."""
    row = con.execute("SELECT new_mode FROM market_mode_changes ORDER BY audit_seq DESC LIMIT 1"
                      ).fetchone()
    return str(row[0]) if row else default


def insert_mode_change(con: duckdb.DuckDBPyConnection, *, mode: str, reason: str,
                       timestamp: datetime, default: str = "monitoring",
                       by: str | None = None) -> tuple[str, int]:
    """Record a switch of the enforcement mode (in the caller's transaction); ``by`` (who
    switched it) goes into the signed audit record.

    Returns
    -------
    (previous mode, audit sequence number of the change)

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
    seq = chain.next_seq(con)
    con.execute("INSERT INTO market_mode_changes VALUES (?, ?, ?, ?, ?)",
                [timestamp, old, mode, reason.strip(), seq])
    chain.append(con, event_type="mode_change",
                 payload={"old_mode": old, "new_mode": mode, "reason": reason.strip(),
                          **({"by": by} if by else {})},
                 timestamp=timestamp, covers=[("market_mode_changes", {"audit_seq": seq})])
    return old, seq


def insert_evaluation(con: duckdb.DuckDBPyConnection, *, evaluation_id: str,
                      evaluation: Evaluation, snapshot: RiskSnapshot,
                      timestamp: datetime) -> int:
    """Store an evaluation, its breaches and actions, and their audit records.

    Runs in the caller's transaction. Audit events: one ``evaluation``; one ``breach`` per
    breached rule; one ``action`` per decision whose action is not ``none``.

    Returns
    -------
    int
        The audit sequence number of the ``evaluation`` record.
    """
    decisions = [d.model_dump() for d in evaluation.decisions]
    seq = chain.next_seq(con)
    con.execute("INSERT INTO market_evaluations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [evaluation_id, timestamp, evaluation.mode, evaluation.action,
                 snapshot.model_dump_json(), json.dumps(decisions), evaluation.latency_us, seq])
    chain.append(con, event_type="evaluation", timestamp=timestamp, payload={
        "evaluation_id": evaluation_id, "as_of": evaluation.as_of, "mode": evaluation.mode,
        "action": evaluation.action, "sensor": evaluation.sensor, "reason": evaluation.reason,
        "snapshot": snapshot.model_dump(), "latency_us": evaluation.latency_us},
        covers=[("market_evaluations", {"evaluation_id": evaluation_id})])
    for d in evaluation.decisions:
        if d.breached:
            breach_id = f"{evaluation_id[:12]}-{d.rule}"
            con.execute("INSERT INTO market_breaches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [breach_id, evaluation_id, timestamp, d.sensor, d.rule, d.metric,
                         d.threshold, d.configured_action, d.action, d.enforced, d.mode,
                         d.reason])
            chain.append(con, event_type="breach", timestamp=timestamp,
                         payload={"breach_id": breach_id, "evaluation_id": evaluation_id,
                                  **d.model_dump()},
                         covers=[("market_breaches", {"breach_id": breach_id})])
        if d.action != "none":
            chain.append(con, event_type="action", timestamp=timestamp,
                         payload={"evaluation_id": evaluation_id, "sensor": d.sensor,
                                  "rule": d.rule, "action": d.action, "enforced": d.enforced,
                                  "mode": d.mode, "reason": d.reason})
    return seq


def insert_false_positive(con: duckdb.DuckDBPyConnection, *, fp_id: str, breach_id: str,
                          reason: str, confidence: float, timestamp: datetime,
                          by: str | None = None) -> tuple[str, int]:
    """Record that a past breach was a false positive (in the caller's transaction); ``by``
    (who marked it) goes into the signed audit record.

    Parameters
    ----------
    confidence : float
        How sure the reviewer is that it was a false positive, in [0, 1].

    Returns
    -------
    (sensor of the breach, audit sequence number of the record)

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
    sensor = str(row[0])
    con.execute("INSERT INTO market_false_positives VALUES (?, ?, ?, ?, ?, ?)",
                [fp_id, breach_id, sensor, timestamp, reason.strip(), conf])
    rec = chain.append(con, event_type="false_positive", timestamp=timestamp,
                       payload={"fp_id": fp_id, "breach_id": breach_id, "sensor": sensor,
                                "reason": reason.strip(), "confidence": conf,
                                **({"by": by} if by else {})},
                       covers=[("market_false_positives", {"fp_id": fp_id})])
    return sensor, rec.seq


@dataclass(frozen=True)
class SensorHistory:
    """What the store says about the sensors up to a date: the inputs of their readiness.

    Every evaluation covers every sensor, so each sensor was first seen at the first evaluation.
    """

    as_of: datetime
    first_seen: datetime | None
    breaches: dict[str, int] = field(default_factory=dict)
    false_positive_times: dict[str, list[datetime]] = field(default_factory=dict)


def sensor_history(con: duckdb.DuckDBPyConnection, *, as_of: datetime) -> SensorHistory:
    """First evaluation, breach counts and false-positive times per sensor, up to ``as_of``."""
    first_seen = con.execute("SELECT min(evaluated_at) FROM market_evaluations"
                             " WHERE evaluated_at <= ?", [as_of]).fetchone()[0]
    n_breaches = {str(s): int(n) for s, n in con.execute(
        "SELECT sensor, count(*) FROM market_breaches WHERE evaluated_at <= ? GROUP BY sensor",
        [as_of]).fetchall()}
    fps: dict[str, list[datetime]] = {}
    for sensor, t in con.execute("SELECT sensor, recorded_at FROM market_false_positives"
                                 " WHERE recorded_at <= ?", [as_of]).fetchall():
        fps.setdefault(str(sensor), []).append(t)
    return SensorHistory(as_of=as_of, first_seen=first_seen, breaches=n_breaches,
                         false_positive_times=fps)


@dataclass(frozen=True)
class StoredFigures:
    """The stored values the Prometheus figures are built from (:mod:`engine.market.metrics`).

    Attributes
    ----------
    latest_snapshot : dict or None
        The risk snapshot of the latest evaluation (``RiskSnapshot`` as JSON), None if none.
    latest_decisions : list of dict
        That evaluation's decisions.
    breaches_by_sensor : tuple of (sensor, count)
        Stored breaches per sensor, in sensor name order.
    actions : tuple of (action, count)
        Stored breaches whose action is not ``none``, per action.
    evaluations : int
        Stored evaluations.
    latencies_us : tuple of float
        Every stored evaluation's latency, microseconds.
    sensors : SensorHistory
        The inputs of the sensors' readiness.
    """

    latest_snapshot: dict | None
    latest_decisions: list[dict]
    breaches_by_sensor: tuple[tuple[str, int], ...]
    actions: tuple[tuple[str, int], ...]
    evaluations: int
    latencies_us: tuple[float, ...]
    sensors: SensorHistory


def stored_figures(con: duckdb.DuckDBPyConnection, *, as_of: datetime) -> StoredFigures:
    """Read everything the exposition needs in one go (one read session)."""
    row = con.execute("SELECT snapshot, decisions FROM market_evaluations"
                      " ORDER BY evaluated_at DESC, audit_seq DESC LIMIT 1").fetchone()
    snap, decisions = (None, []) if row is None else (json.loads(row[0]), json.loads(row[1]))
    by_sensor = tuple((str(s), int(n)) for s, n in con.execute(
        "SELECT sensor, count(*) FROM market_breaches GROUP BY sensor ORDER BY sensor"
    ).fetchall())
    actions = tuple((str(a), int(n)) for a, n in con.execute(
        "SELECT action, count(*) FROM market_breaches WHERE action <> 'none'"
        " GROUP BY action ORDER BY action").fetchall())
    latencies = tuple(float(r[0]) for r in con.execute(
        "SELECT latency_us FROM market_evaluations").fetchall())
    return StoredFigures(latest_snapshot=snap, latest_decisions=decisions,
                         breaches_by_sensor=by_sensor, actions=actions,
                         evaluations=len(latencies), latencies_us=latencies,
                         sensors=sensor_history(con, as_of=as_of))


def breaches_frame(con: duckdb.DuckDBPyConnection, *, limit: int = 500) -> pd.DataFrame:
    """Stored breaches, newest first, with their false-positive mark."""
    return con.execute(
        "SELECT b.breach_id, b.evaluated_at, b.sensor, b.rule, b.metric, b.threshold,"
        " b.configured_action, b.action, b.enforced, b.mode, b.reason,"
        " f.fp_id IS NOT NULL AS false_positive, f.reason AS fp_reason,"
        " f.confidence AS fp_confidence"
        " FROM market_breaches b LEFT JOIN market_false_positives f USING (breach_id)"
        " ORDER BY b.evaluated_at DESC, b.breach_id LIMIT ?", [int(limit)]).df()


def evaluations_frame(con: duckdb.DuckDBPyConnection, *, limit: int = 200) -> pd.DataFrame:
    """Stored evaluations, newest first (id, time, mode, action, latency)."""
    return con.execute(
        "SELECT evaluation_id, evaluated_at, mode, action, latency_us, audit_seq"
        " FROM market_evaluations ORDER BY evaluated_at DESC, audit_seq DESC LIMIT ?",
        [int(limit)]).df()


def recent_evaluations(con: duckdb.DuckDBPyConnection, *, limit: int = 2) -> list[dict]:
    """The latest ``limit`` evaluations, newest first, each read back whole.

    Returns
    -------
    list of dict
        ``evaluation_id``, ``evaluated_at`` (naive UTC), ``mode``, ``action``, ``snapshot``
        (``RiskSnapshot`` as JSON, parsed), ``decisions`` (list of dict, the rules in sensor
        order) and ``breaches``: a frame of the evaluation's breaches (breach_id, sensor, rule,
        metric, threshold, action, false_positive), by breach id.
    """
    rows = con.execute(
        "SELECT evaluation_id, evaluated_at, mode, action, snapshot, decisions"
        " FROM market_evaluations ORDER BY evaluated_at DESC, audit_seq DESC LIMIT ?",
        [int(limit)]).fetchall()
    ids = [str(r[0]) for r in rows]
    found = con.execute(
        "SELECT b.evaluation_id, b.breach_id, b.sensor, b.rule, b.metric, b.threshold, b.action,"
        " f.fp_id IS NOT NULL AS false_positive"
        " FROM market_breaches b LEFT JOIN market_false_positives f USING (breach_id)"
        " WHERE list_contains(?, b.evaluation_id) ORDER BY b.breach_id", [ids]).df()
    return [{"evaluation_id": eid, "evaluated_at": at, "mode": str(mode), "action": str(action),
             "snapshot": json.loads(snap), "decisions": json.loads(decisions),
             "breaches": found[found["evaluation_id"] == eid].drop(columns="evaluation_id")
             .reset_index(drop=True)}
            for eid, at, mode, action, snap, decisions in rows]
