"""The live desk's tables (migration 0007): every SQL statement of :mod:`engine.live` is here.

Functions run on the caller's session (:class:`engine.store.Store` read or write) and, for
writes, inside the caller's :func:`~engine.store.transaction`; none opens its own. The workflow
(:mod:`engine.live.workflow`) computes with the store released and calls these in short
sessions.

Audit trail (:mod:`engine.audit.chain`): each row below is written first, then the record that
covers it, in the same transaction.

- ``live_alerts`` (key ``alert_id``): one ``live_alerts`` record per replay batch, covering the
  alerts it raised or escalated; a ``live_alert_ack`` record for each acknowledgement;
- ``live_state_changes`` (``change_id``) and ``live_trading_state`` (``account_id``): one
  ``live_state_change`` record per change (kill switch, reduce-only, resume, circuit breaker),
  covering both rows;
- ``live_compliance_checks`` (``check_id``) and ``live_compliance_results`` (``check_id,
  rule_id``): one ``live_compliance_check`` record covering the check and its results.

Not covered (replay state, re-derivable by replaying the same inputs): sessions, positions,
marks, end-of-day rows, P&L history, risk snapshots, processed trades. A replay's ``runs`` row is
covered by :func:`engine.audit.runs.insert_run`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from engine.audit import chain
from engine.errors import InputError, NotFoundError
from engine.live._alerts import Alert
from engine.live._compliance import ComplianceReport
from engine.live._replay import Batch, StateChange, naive_utc
from engine.live._risk import AccountRisk, TradingState

__all__ = [
    "StoredBook",
    "acknowledge_alert",
    "acknowledged_ids",
    "active_alert_count",
    "alerts_frame",
    "compliance_frame",
    "compliance_run",
    "desk_frame",
    "history_frame",
    "insert_compliance",
    "insert_session",
    "insert_state_change",
    "latest_risk",
    "latest_session_id",
    "load_book",
    "pl_history_frame",
    "positions_frame",
    "risk_trend_frame",
    "session_for_account",
    "session_performance_frame",
    "session_row",
    "sessions_frame",
    "set_session_status",
    "trades_frame",
    "traded_totals",
    "trading_states",
    "write_batch",
]

_RATIOS = ("current_leverage", "margin_utilization")


def _frame(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return cur.df()


def _first(cur: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of a result, fetched whole (a half-read result blocks the cursor)."""
    rows = cur.fetchall()
    return rows[0] if rows else None


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, *,
                  replace: bool = False) -> None:
    """Insert a frame's rows (its columns named as the table's) in one statement."""
    if frame.empty:
        return
    name = f"_live_{table}"
    cols = ", ".join(frame.columns)
    con.register(name, frame)
    try:
        con.execute(f"INSERT {'OR REPLACE ' if replace else ''}INTO {table} ({cols}) "
                    f"SELECT {cols} FROM {name}")
    finally:
        con.unregister(name)


def _ts(ns: Sequence[int]) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(ns, dtype=np.int64), unit="ns"))


# --------------------------------------------------------------------------- sessions

def session_row(con: duckdb.DuckDBPyConnection, session_id: str) -> dict[str, Any] | None:
    """The session's row as a dict (JSON columns parsed), or None."""
    cur = con.execute("SELECT * FROM live_sessions WHERE session_id = ?", [session_id])
    row = _first(cur)
    if row is None:
        return None
    out = dict(zip([d[0] for d in cur.description], row))
    for key in ("accounts", "instruments", "config"):
        out[key] = json.loads(out[key])
    return out


def insert_session(con: duckdb.DuckDBPyConnection, row: Mapping[str, Any]) -> None:
    """Create a session (columns of ``live_sessions``; JSON columns given as objects) and one
    ``live_account_state`` row per account."""
    values = dict(row)
    for key in ("accounts", "instruments", "config"):
        values[key] = json.dumps(values[key], sort_keys=True)
    cols = list(values)
    con.execute(f"INSERT INTO live_sessions ({', '.join(cols)}) VALUES "
                f"({', '.join('?' for _ in cols)})", [values[c] for c in cols])
    ids = [a["account_id"] for a in row["accounts"]["accounts"]]
    con.executemany("INSERT INTO live_account_state VALUES (?, ?, ?, 0, NULL)",
                    [[row["session_id"], a, '{"active":[],"scores":[]}'] for a in ids])


def set_session_status(con: duckdb.DuckDBPyConnection, *, session_id: str, status: str,
                       at: datetime) -> None:
    con.execute("UPDATE live_sessions SET status = ?, updated_at = ? WHERE session_id = ?",
                [status, at, session_id])


def sessions_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every session, the latest first: id, source, progress, counts and status."""
    return _frame(con.execute(
        "SELECT session_id, source, synthetic_trades, trades_name, prices_name, accounts_name,"
        " events_total, cursor AS events_done, cursor_at AS as_of, trades_applied,"
        " trades_rejected, alerts_raised, status, created_at, updated_at"
        " FROM live_sessions ORDER BY updated_at DESC, session_id"))


def session_for_account(con: duckdb.DuckDBPyConnection, *, account_id: str,
                        session_id: str | None = None) -> dict[str, Any]:
    """The session to show ``account_id`` from: ``session_id``, else the latest updated one
    holding the account.

    Raises
    ------
    NotFoundError
        No such session, or no session holds the account.
    """
    if session_id is None:
        row = _first(con.execute(
            "SELECT s.session_id FROM live_sessions s JOIN live_account_state a"
            " USING (session_id) WHERE a.account_id = ?"
            " ORDER BY s.updated_at DESC, s.session_id LIMIT 1", [account_id]))
        if row is None:
            raise NotFoundError(f"no replay holds account {account_id!r}; run `stresslab live "
                                "replay` first (`--example` for the bundled desk)")
        session_id = str(row[0])
    session = session_row(con, session_id)
    if session is None:
        raise NotFoundError(f"no live session {session_id!r}")
    if account_id not in [a["account_id"] for a in session["accounts"]["accounts"]]:
        raise NotFoundError(f"account {account_id!r} is not in session {session_id}")
    return session


def latest_session_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The id of the latest updated session, or None when the store holds no replay."""
    row = _first(con.execute("SELECT session_id FROM live_sessions"
                             " ORDER BY updated_at DESC, session_id LIMIT 1"))
    return None if row is None else str(row[0])


# --------------------------------------------------------------------------- the book

@dataclass(frozen=True)
class StoredBook:
    """A session's stored replay state: what :meth:`engine.live.Book.restore` and the
    :class:`~engine.live._replay.Replayer` need to go on."""

    positions: pd.DataFrame       # account_id, instrument, quantity, avg_cost, realized_pl
    marks: pd.DataFrame           # instrument, price
    eod: pd.DataFrame             # day, account_id, total_pl, equity
    alert_states: dict[str, str]  # account_id -> alert state JSON
    updates: dict[str, int]
    last_update: dict[str, datetime | None]
    open_alerts: list[Alert]


def load_book(con: duckdb.DuckDBPyConnection, session_id: str) -> StoredBook:
    """Everything stored of a session's book, alert states and escalatable alerts."""
    positions = _frame(con.execute(
        "SELECT account_id, instrument, quantity, avg_cost, realized_pl FROM live_positions"
        " WHERE session_id = ?", [session_id]))
    marks = _frame(con.execute("SELECT instrument, price FROM live_marks WHERE session_id = ?",
                               [session_id]))
    eod = _frame(con.execute("SELECT day, account_id, total_pl, equity FROM live_eod"
                             " WHERE session_id = ? ORDER BY day", [session_id]))
    states, updates, last = {}, {}, {}
    for account, state, n, at in con.execute(
            "SELECT account_id, alert_state, updates, last_update FROM live_account_state"
            " WHERE session_id = ?", [session_id]).fetchall():
        states[str(account)], updates[str(account)], last[str(account)] = str(state), int(n), at
    cur = con.execute(
        "SELECT alert_id, account_id, alert_type, severity, title, message, risk_score,"
        " triggered_at, is_acknowledged, escalated_at, alert_key AS key FROM live_alerts"
        " WHERE session_id = ? AND NOT is_acknowledged AND escalated_at IS NULL"
        " AND severity <> 'info' ORDER BY triggered_at, alert_id", [session_id])
    names = [d[0] for d in cur.description]
    open_alerts = [Alert(**dict(zip(names, r))) for r in cur.fetchall()]
    return StoredBook(positions=positions, marks=marks, eod=eod, alert_states=states,
                      updates=updates, last_update=last, open_alerts=open_alerts)


# --------------------------------------------------------------------------- trading states

def trading_states(con: duckdb.DuckDBPyConnection,
                   account_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """Each account's trading state and the id of its last change (ACTIVE, None without one)."""
    found = {str(a): (str(s), str(c)) for a, s, c in con.execute(
        "SELECT account_id, state, change_id FROM live_trading_state"
        " WHERE list_contains(?, account_id)", [list(account_ids)]).fetchall()}
    return {a: found.get(a, (TradingState.ACTIVE.value, None)) for a in account_ids}


def insert_state_change(con: duckdb.DuckDBPyConnection, *, change_id: str, account_id: str,
                        old_state: str, new_state: str, action: str, by: str, reason: str,
                        at: datetime, session_id: str | None = None,
                        event_at: datetime | None = None) -> int:
    """Record a trading-state change and the account's new state, and its audit record.

    Returns
    -------
    int
        The audit record's seq.
    """
    con.execute("INSERT INTO live_state_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [change_id, account_id, old_state, new_state, action, at, by, reason,
                 session_id, event_at])
    con.execute("INSERT OR REPLACE INTO live_trading_state VALUES (?, ?, ?, ?, ?, ?)",
                [account_id, new_state, change_id, at, by, reason])
    rec = chain.append(con, event_type="live_state_change", timestamp=at, payload={
        "change_id": change_id, "account_id": account_id, "old_state": old_state,
        "new_state": new_state, "action": action, "by": by, "reason": reason,
        "session_id": session_id, "event_at": event_at},
        covers=[("live_state_changes", {"change_id": change_id}),
                ("live_trading_state", {"account_id": account_id})])
    return rec.seq


# --------------------------------------------------------------------------- a replay batch

_TRADE_COLS = ("trade_id", "account_id", "traded_at", "instrument", "side", "quantity", "price",
               "fees", "status", "realized_pl", "trading_state", "reason", "event_index")
_PL_COLS = ("account_id", "event_index", "event_at", "total_pl", "unrealized_pl", "realized_pl",
            "daily_pl", "market_value", "total_exposure", "equity", "position_count")
_RISK_COLS = ("account_id", "event_index", "event_at", "risk_score", "risk_level",
              "trading_state", "risk")


def _rows_frame(session_id: str, rows: list[tuple], cols: tuple[str, ...],
                time_col: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(cols))
    frame[time_col] = _ts(frame[time_col].to_numpy(dtype=np.int64))
    frame.insert(0, "session_id", session_id)
    return frame


def _alerts_record(con: duckdb.DuckDBPyConnection, batch: Batch, *, session_id: str,
                   now: datetime) -> None:
    """Insert the batch's alerts, escalate the still unacknowledged ones it escalates, and
    append one ``live_alerts`` record covering every alert row it wrote."""
    if batch.alerts:
        frame = pd.DataFrame([{
            "alert_id": a.alert_id, "session_id": session_id, "account_id": a.account_id,
            "alert_type": a.alert_type, "severity": a.severity, "title": a.title,
            "message": a.message, "risk_score": a.risk_score, "triggered_at": a.triggered_at,
            "alert_key": a.key, "is_acknowledged": False} for a in batch.alerts])
        _insert_frame(con, "live_alerts", frame)
    escalated: list[Alert] = []
    if batch.escalations:
        frame = pd.DataFrame({"alert_id": [a.alert_id for a in batch.escalations],
                              "severity": [a.severity for a in batch.escalations],
                              "escalated_at": [a.escalated_at for a in batch.escalations]})
        con.register("_live_escalations", frame)
        try:
            done = {str(r[0]) for r in con.execute(
                "UPDATE live_alerts SET severity = e.severity, escalated_at = e.escalated_at"
                " FROM _live_escalations e WHERE live_alerts.alert_id = e.alert_id"
                " AND NOT live_alerts.is_acknowledged AND live_alerts.escalated_at IS NULL"
                " RETURNING live_alerts.alert_id").fetchall()}
        finally:
            con.unregister("_live_escalations")
        # an alert acknowledged while the batch computed does not escalate
        escalated = [a for a in batch.escalations if a.alert_id in done]
    if not batch.alerts and not escalated:
        return
    ids = list(dict.fromkeys([a.alert_id for a in batch.alerts] + [a.alert_id for a in escalated]))
    chain.append(con, event_type="live_alerts", timestamp=now, payload={
        "session_id": session_id,
        "raised": [{"alert_id": a.alert_id, "account_id": a.account_id,
                    "alert_type": a.alert_type, "severity": a.severity, "title": a.title,
                    "triggered_at": a.triggered_at} for a in batch.alerts],
        "escalated": [{"alert_id": a.alert_id, "account_id": a.account_id,
                       "severity": a.severity, "escalated_at": a.escalated_at}
                      for a in escalated]},
        covers=[("live_alerts", {"alert_id": i}) for i in ids])


def write_batch(con: duckdb.DuckDBPyConnection, *, batch: Batch, session_id: str,
                now: datetime, status: str, change_ids: Sequence[str]) -> int:
    """Store one replay batch in the caller's transaction: processed trades, positions, marks,
    end-of-day rows, P&L history, risk snapshots, alert states, alerts and escalations (with
    their audit records), circuit-breaker state changes, and the session's cursor.

    Parameters
    ----------
    change_ids : sequence of str
        An id for each of ``batch.state_changes``.

    Returns
    -------
    int
        Alerts stored (raised).

    Raises
    ------
    InputError
        The session's stored cursor is not where the batch starts (another replay of this
        session is running).
    """
    row = _first(con.execute("SELECT cursor FROM live_sessions WHERE session_id = ?",
                             [session_id]))
    if row is None or int(row[0]) != batch.start:
        raise InputError(f"session {session_id} moved on while this replay computed (stored "
                         f"cursor {None if row is None else row[0]}, expected {batch.start}): "
                         "another replay of the same inputs is running; let it finish")
    if batch.trades:
        _insert_frame(con, "live_trades", _rows_frame(session_id, batch.trades, _TRADE_COLS,
                                                      "traded_at"))
    if batch.positions:
        frame = pd.DataFrame(batch.positions, columns=["account_id", "instrument", "quantity",
                                                       "avg_cost", "realized_pl"])
        frame.insert(0, "session_id", session_id)
        _insert_frame(con, "live_positions", frame, replace=True)
    if batch.marks:
        frame = pd.DataFrame(batch.marks, columns=["instrument", "price"])
        frame.insert(0, "session_id", session_id)
        _insert_frame(con, "live_marks", frame, replace=True)
    if batch.eod:
        frame = pd.DataFrame(batch.eod, columns=["day", "account_id", "total_pl", "equity"])
        frame.insert(0, "session_id", session_id)
        _insert_frame(con, "live_eod", frame)
    if batch.pl:
        _insert_frame(con, "live_pl_history", _rows_frame(session_id, batch.pl, _PL_COLS,
                                                          "event_at"))
    if batch.risk:
        _insert_frame(con, "live_risk_snapshots", _rows_frame(session_id, batch.risk,
                                                              _RISK_COLS, "event_at"))
    if batch.account_state:
        con.executemany("UPDATE live_account_state SET alert_state = ?, updates = ?,"
                        " last_update = ? WHERE session_id = ? AND account_id = ?",
                        [[state, n, None if at is None else naive_utc(at), session_id, a]
                         for a, state, n, at in batch.account_state])
    _alerts_record(con, batch, session_id=session_id, now=now)
    for change, change_id in zip(batch.state_changes, change_ids, strict=True):
        _circuit_breaker(con, change, change_id=change_id, session_id=session_id, now=now)
    con.execute(
        "UPDATE live_sessions SET cursor = ?, cursor_ns = ?, cursor_at = ?,"
        " trades_applied = trades_applied + ?, trades_rejected = trades_rejected + ?,"
        " alerts_raised = alerts_raised + ?, updates = updates + ?, status = ?, updated_at = ?"
        " WHERE session_id = ?",
        [batch.end, batch.cursor_ns,
         None if batch.cursor_ns is None else naive_utc(batch.cursor_ns),
         batch.applied, batch.rejected, len(batch.alerts), len(batch.pl), status, now,
         session_id])
    return len(batch.alerts)


def _circuit_breaker(con: duckdb.DuckDBPyConnection, change: StateChange, *, change_id: str,
                     session_id: str, now: datetime) -> None:
    insert_state_change(con, change_id=change_id, account_id=change.account_id,
                        old_state=change.old_state, new_state=change.new_state,
                        action="circuit_breaker", by="circuit breaker", reason=change.reason,
                        at=now, session_id=session_id, event_at=naive_utc(change.event_ns))


# --------------------------------------------------------------------------- alerts

_ALERT_COLS = ("alert_id, session_id, account_id, alert_type, severity, title, message,"
               " risk_score, triggered_at, is_acknowledged, acknowledged_by, acknowledged_at,"
               " ack_note, escalated_at")


def acknowledged_ids(con: duckdb.DuckDBPyConnection, session_id: str) -> set[str]:
    """Ids of the session's acknowledged alerts."""
    return {str(r[0]) for r in con.execute(
        "SELECT alert_id FROM live_alerts WHERE session_id = ? AND is_acknowledged",
        [session_id]).fetchall()}


def alerts_frame(con: duckdb.DuckDBPyConnection, *, account_id: str | None = None,
                 include_acknowledged: bool = False, session_id: str | None = None,
                 limit: int = 500) -> pd.DataFrame:
    """Alerts, newest first (by event time): unacknowledged only unless asked."""
    where, params = [], []
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    if session_id is not None:
        where.append("session_id = ?")
        params.append(session_id)
    if not include_acknowledged:
        where.append("NOT is_acknowledged")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return _frame(con.execute(f"SELECT {_ALERT_COLS} FROM live_alerts{clause}"
                              " ORDER BY triggered_at DESC, alert_id LIMIT ?",
                              [*params, int(limit)]))


def acknowledge_alert(con: duckdb.DuckDBPyConnection, *, alert_id: str, by: str,
                      note: str | None, at: datetime) -> dict[str, Any]:
    """Acknowledge an alert (in the caller's transaction) and record it in the audit trail.

    Returns
    -------
    dict
        The alert's row after the acknowledgement, with ``audit_seq``.

    Raises
    ------
    NotFoundError
        No such alert.
    InputError
        The alert is already acknowledged (by whom and when).
    """
    cur = con.execute(f"SELECT {_ALERT_COLS} FROM live_alerts WHERE alert_id = ?", [alert_id])
    row = _first(cur)
    if row is None:
        raise NotFoundError(f"no alert {alert_id!r}; `stresslab live alerts --all` lists them")
    alert = dict(zip([d[0] for d in cur.description], row))
    if alert["is_acknowledged"]:
        raise InputError(f"alert {alert_id} was already acknowledged by "
                         f"{alert['acknowledged_by']} at {alert['acknowledged_at']}")
    con.execute("UPDATE live_alerts SET is_acknowledged = true, acknowledged_by = ?,"
                " acknowledged_at = ?, ack_note = ? WHERE alert_id = ?",
                [by, at, note, alert_id])
    rec = chain.append(con, event_type="live_alert_ack", timestamp=at, payload={
        "alert_id": alert_id, "account_id": alert["account_id"], "by": by, "note": note,
        "acknowledged_at": at, "severity": alert["severity"], "title": alert["title"]},
        covers=[("live_alerts", {"alert_id": alert_id})])
    alert.update(is_acknowledged=True, acknowledged_by=by, acknowledged_at=at, ack_note=note,
                 audit_seq=rec.seq)
    return alert


# --------------------------------------------------------------------------- reads for panels

def latest_risk(con: duckdb.DuckDBPyConnection, *, session_id: str,
                account_id: str) -> AccountRisk | None:
    """The account's last stored risk panel (its trading state as it was then), or None."""
    row = _first(con.execute("SELECT risk FROM live_risk_snapshots WHERE session_id = ? AND"
                             " account_id = ? ORDER BY event_index DESC LIMIT 1",
                             [session_id, account_id]))
    return None if row is None else _risk(str(row[0]))


def _risk(text: str) -> AccountRisk:
    """A stored risk panel; a ratio stored as null is infinite (equity <= 0 with exposure)."""
    data = json.loads(text)
    for key in _RATIOS:
        if data.get(key) is None:
            data[key] = math.inf
    return AccountRisk.model_validate(data)


def desk_frame(con: duckdb.DuckDBPyConnection, session_id: str) -> pd.DataFrame:
    """One row per account of the session: its last P&L and risk update and its state now."""
    return _frame(con.execute(
        "WITH p AS (SELECT * FROM live_pl_history WHERE session_id = ?"
        "   QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY event_index DESC) = 1),"
        " r AS (SELECT * FROM live_risk_snapshots WHERE session_id = ?"
        "   QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY event_index DESC) = 1)"
        " SELECT a.account_id, r.risk_score, r.risk_level, p.total_exposure,"
        " CAST(json_extract(r.risk, '$.current_leverage') AS DOUBLE) AS current_leverage,"
        " CAST(json_extract(r.risk, '$.margin_utilization') AS DOUBLE) AS margin_utilization,"
        " CAST(json_extract(r.risk, '$.var_95') AS DOUBLE) AS var_95,"
        " p.total_pl, p.daily_pl, p.equity,"
        " coalesce(t.state, 'ACTIVE') AS trading_state, p.event_at AS as_of,"
        " (SELECT count(*) FROM live_alerts l WHERE l.session_id = a.session_id"
        "  AND l.account_id = a.account_id AND NOT l.is_acknowledged) AS open_alerts"
        " FROM live_account_state a LEFT JOIN p USING (account_id)"
        " LEFT JOIN r USING (account_id) LEFT JOIN live_trading_state t USING (account_id)"
        " WHERE a.session_id = ? ORDER BY a.account_id", [session_id, session_id, session_id]))


def history_frame(con: duckdb.DuckDBPyConnection, *, session_id: str, account_id: str,
                  limit: int | None = None) -> pd.DataFrame:
    """The account's updates in time order: P&L, equity, exposure, risk score and level."""
    tail = "" if limit is None else f" LIMIT {int(limit)}"
    return _frame(con.execute(
        "SELECT * FROM (SELECT p.event_index, p.event_at, p.total_pl, p.daily_pl, p.equity,"
        " p.total_exposure, r.risk_score, r.risk_level, r.trading_state"
        " FROM live_pl_history p JOIN live_risk_snapshots r USING (session_id, account_id,"
        " event_index) WHERE p.session_id = ? AND p.account_id = ?"
        f" ORDER BY p.event_index DESC{tail}) ORDER BY event_index",
        [session_id, account_id]))


def positions_frame(con: duckdb.DuckDBPyConnection, *, session_id: str,
                    account_id: str) -> pd.DataFrame:
    """The account's stored positions with their marks."""
    return _frame(con.execute(
        "SELECT p.instrument, p.quantity, p.avg_cost, m.price AS mark, p.realized_pl"
        " FROM live_positions p LEFT JOIN live_marks m USING (session_id, instrument)"
        " WHERE p.session_id = ? AND p.account_id = ? ORDER BY p.instrument",
        [session_id, account_id]))


def trades_frame(con: duckdb.DuckDBPyConnection, *, session_id: str,
                 account_id: str | None = None, status: str | None = None,
                 limit: int = 1000) -> pd.DataFrame:
    """Processed trades, latest first (optionally of one account, one status)."""
    where, params = ["session_id = ?"], [session_id]
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    if status is not None:
        where.append("status = ?")
        params.append(status)
    return _frame(con.execute(
        "SELECT trade_id, account_id, traded_at, instrument, side, quantity, price, fees,"
        " status, realized_pl, trading_state, reason FROM live_trades"
        f" WHERE {' AND '.join(where)} ORDER BY event_index DESC LIMIT ?", [*params, int(limit)]))


def traded_totals(con: duckdb.DuckDBPyConnection, *, session_id: str, account_id: str,
                  day: tuple[datetime, datetime],
                  month: tuple[datetime, datetime]) -> dict[str, float]:
    """Notional (``quantity x price``) and units of the account's applied trades in a UTC day
    and a calendar month (half-open ranges)."""
    row = _first(con.execute(
        "SELECT coalesce(sum(quantity * price) FILTER (WHERE traded_at >= ? AND traded_at < ?), 0),"
        " coalesce(sum(quantity) FILTER (WHERE traded_at >= ? AND traded_at < ?), 0),"
        " coalesce(sum(quantity * price) FILTER (WHERE traded_at >= ? AND traded_at < ?), 0),"
        " coalesce(sum(quantity) FILTER (WHERE traded_at >= ? AND traded_at < ?), 0)"
        " FROM live_trades WHERE session_id = ? AND account_id = ? AND status = 'applied'",
        [*day, *day, *month, *month, session_id, account_id]))
    return {"traded_notional_day": float(row[0]), "traded_quantity_day": float(row[1]),
            "traded_notional_month": float(row[2]), "traded_quantity_month": float(row[3])}


# --------------------------------------------------------------------------- compliance

def insert_compliance(con: duckdb.DuckDBPyConnection, *, report: ComplianceReport,
                      check_id: str, session_id: str, rules_hash: str,
                      checked_at: datetime) -> int:
    """Store a compliance check and each rule's outcome, and their audit record.

    Returns
    -------
    int
        The audit record's seq.
    """
    as_of = report.as_of
    if as_of is not None and as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    con.execute("INSERT INTO live_compliance_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [check_id, report.account_id, session_id, checked_at, as_of,
                 json.dumps(list(report.regulations)), rules_hash, report.compliant,
                 len(report.results), report.non_compliant])
    con.executemany("INSERT INTO live_compliance_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?, ?)",
                    [[check_id, r.rule_id, r.regulation, r.title, r.metric, r.comparison,
                      r.threshold, r.unit, r.value, r.instrument, r.status, r.detail, r.action,
                      r.source] for r in report.results])
    rec = chain.append(con, event_type="live_compliance_check", timestamp=checked_at, payload={
        "check_id": check_id, "account_id": report.account_id, "session_id": session_id,
        "as_of": as_of, "regulations": list(report.regulations),
        "compliant": report.compliant, "non_compliant": report.non_compliant,
        "rules_hash": rules_hash},
        covers=[("live_compliance_checks", {"check_id": check_id}),
                *[("live_compliance_results", {"check_id": check_id, "rule_id": r.rule_id})
                  for r in report.results]])
    return rec.seq


def compliance_frame(con: duckdb.DuckDBPyConnection, *, account_id: str,
                     check_id: str | None = None) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """A stored check of the account (the latest unless ``check_id``) and its results."""
    where, params = ("check_id = ?", [check_id]) if check_id else ("account_id = ?", [account_id])
    cur = con.execute(f"SELECT * FROM live_compliance_checks WHERE {where}"
                      " ORDER BY checked_at DESC, check_id LIMIT 1", params)
    row = _first(cur)
    if row is None:
        return None, pd.DataFrame()
    check = dict(zip([d[0] for d in cur.description], row))
    results = _frame(con.execute("SELECT * EXCLUDE (check_id) FROM live_compliance_results"
                                 " WHERE check_id = ? ORDER BY rowid", [check["check_id"]]))
    return check, results


# --------------------------------------------------------------------------- reads for the API

def risk_trend_frame(con: duckdb.DuckDBPyConnection, *, session_id: str, account_id: str,
                     limit: int) -> pd.DataFrame:
    """The account's last ``limit`` risk updates in time order: score, level, state then, and
    exposure, VaR and ratios from the stored panel (a ratio stored as null is infinite)."""
    return _frame(con.execute(
        "SELECT * FROM (SELECT event_index, event_at, risk_score, risk_level, trading_state,"
        " CAST(json_extract(risk, '$.total_exposure') AS DOUBLE) AS total_exposure,"
        " CAST(json_extract(risk, '$.var_95') AS DOUBLE) AS var_95,"
        " CAST(json_extract(risk, '$.current_leverage') AS DOUBLE) AS current_leverage,"
        " CAST(json_extract(risk, '$.margin_utilization') AS DOUBLE) AS margin_utilization"
        " FROM live_risk_snapshots WHERE session_id = ? AND account_id = ?"
        " ORDER BY event_index DESC LIMIT ?) ORDER BY event_index",
        [session_id, account_id, int(limit)]))


def pl_history_frame(con: duckdb.DuckDBPyConnection, *, session_id: str, account_id: str,
                     since: datetime, until: datetime) -> pd.DataFrame:
    """The account's P&L updates with ``since <= event_at <= until`` (event times), in order."""
    return _frame(con.execute(
        "SELECT event_index, event_at, total_pl, unrealized_pl, realized_pl, daily_pl,"
        " market_value, total_exposure, equity, position_count FROM live_pl_history"
        " WHERE session_id = ? AND account_id = ? AND event_at >= ? AND event_at <= ?"
        " ORDER BY event_index", [session_id, account_id, since, until]))


def active_alert_count(con: duckdb.DuckDBPyConnection, *, account_id: str | None = None) -> int:
    """How many alerts are unacknowledged (of one account, or of all)."""
    where, params = ("AND account_id = ?", [account_id]) if account_id is not None else ("", [])
    row = _first(con.execute(f"SELECT count(*) FROM live_alerts WHERE NOT is_acknowledged {where}",
                             params))
    return int(row[0])


def compliance_run(con: duckdb.DuckDBPyConnection, *, account_id: str,
                   check_id: str) -> tuple[str, str | None] | None:
    """The run recorded with a compliance check: its id and who requested it (None from the
    command line), or None."""
    row = _first(con.execute(
        "SELECT run_id, json_extract_string(configuration, '$.requested_by') FROM runs"
        " WHERE kind = 'live' AND pool_id = ? AND pool_name = 'compliance check'"
        " AND json_extract_string(response, '$.check_id') = ?"
        " ORDER BY started_at DESC LIMIT 1", [account_id, check_id]))
    return None if row is None else (str(row[0]), None if row[1] is None else str(row[1]))


def session_performance_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every session, the latest first: progress and counts, its finished replay runs (how many,
    events they processed, their wall-clock seconds) and its unacknowledged alerts."""
    return _frame(con.execute(
        "WITH r AS (SELECT pool_id AS session_id, count(*) AS replay_runs,"
        "   sum(CAST(json_extract(response, '$.events_processed') AS BIGINT)) AS replay_events,"
        "   sum(execution_time) AS replay_seconds FROM runs"
        "   WHERE kind = 'live' AND pool_name = 'live replay' GROUP BY pool_id),"
        " a AS (SELECT session_id, count(*) AS active_alerts FROM live_alerts"
        "   WHERE NOT is_acknowledged GROUP BY session_id)"
        " SELECT s.session_id, s.source, s.status, s.synthetic_trades, s.events_total,"
        " s.cursor AS events_done, s.cursor_at AS as_of, s.trades_applied, s.trades_rejected,"
        " s.alerts_raised, s.updates AS risk_updates,"
        " coalesce(a.active_alerts, 0) AS active_alerts,"
        " coalesce(r.replay_runs, 0) AS replay_runs,"
        " coalesce(r.replay_events, 0) AS replay_events,"
        " coalesce(r.replay_seconds, 0.0) AS replay_seconds, s.created_at, s.updated_at"
        " FROM live_sessions s LEFT JOIN r USING (session_id) LEFT JOIN a USING (session_id)"
        " ORDER BY s.updated_at DESC, s.session_id"))
