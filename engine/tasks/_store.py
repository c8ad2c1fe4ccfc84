"""The task tables (``api_tasks``, ``api_task_events``): SQL only, inside the caller's session."""

from __future__ import annotations

import json
from typing import Any

import duckdb

__all__ = ["insert_task", "add_events", "last_seq", "get_task", "events_after", "open_tasks"]

_TASK_COLUMNS = ("task_id, kind, user_id, label, status, message, progress, run_id, owner_pid,"
                 " owner_started, seq, created_at, updated_at")


def _row(cur: duckdb.DuckDBPyConnection, row: tuple | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def insert_task(con: duckdb.DuckDBPyConnection, *, task: dict[str, Any]) -> None:
    """Insert a new task row (every column of ``api_tasks``)."""
    con.execute(
        f"INSERT INTO api_tasks ({_TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [task["task_id"], task["kind"], task["user_id"], task["label"], task["status"],
         task["message"], task["progress"], task["run_id"], task["owner_pid"],
         task["owner_started"], task["seq"], task["created_at"], task["updated_at"]])


def add_events(con: duckdb.DuckDBPyConnection, events: list[dict[str, Any]]) -> None:
    """Append messages (task_id, seq, status, message, data, at, progress, run_id) in order and
    set each task's row to its last message (never to an older one)."""
    for e in events:
        con.execute(
            "INSERT INTO api_task_events (task_id, seq, status, message, data, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [e["task_id"], e["seq"], e["status"], e["message"],
             None if e["data"] is None else json.dumps(e["data"], allow_nan=False), e["at"]])
        con.execute(
            "UPDATE api_tasks SET status = ?, message = ?, progress = coalesce(?, progress),"
            " run_id = coalesce(?, run_id), seq = ?, updated_at = ? WHERE task_id = ? AND seq < ?",
            [e["status"], e["message"], e.get("progress"), e.get("run_id"), e["seq"], e["at"],
             e["task_id"], e["seq"]])


def last_seq(con: duckdb.DuckDBPyConnection, task_id: str) -> int:
    """The number of the task's last stored message (0 if none)."""
    return int(con.execute("SELECT coalesce(max(seq), 0) FROM api_task_events WHERE task_id = ?",
                           [task_id]).fetchone()[0])


def get_task(con: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, Any] | None:
    """The task's row, or None."""
    cur = con.execute(f"SELECT {_TASK_COLUMNS} FROM api_tasks WHERE task_id = ?", [task_id])
    return _row(cur, cur.fetchone())


def events_after(con: duckdb.DuckDBPyConnection, *, task_id: str,
                 seq: int) -> list[dict[str, Any]]:
    """The task's messages numbered above ``seq``, in order (``data`` parsed)."""
    cur = con.execute("SELECT seq, status, message, data, sent_at AS at FROM api_task_events"
                      " WHERE task_id = ? AND seq > ? ORDER BY seq", [task_id, int(seq)])
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        e = dict(zip(names, row))
        e["data"] = None if e["data"] is None else json.loads(e["data"])
        out.append(e)
    return out


def open_tasks(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Tasks still queued or running (some may have lost their process)."""
    cur = con.execute(f"SELECT {_TASK_COLUMNS} FROM api_tasks"
                      " WHERE status IN ('queued', 'running') ORDER BY created_at")
    return [_row(cur, r) for r in cur.fetchall()]
