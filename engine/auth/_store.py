"""The bearer tokens' table (migration 0009, ``api_tokens``) and the users' table (migration
0010, ``users``): every SQL statement of :mod:`engine.auth` is here.

Functions run on the caller's session (:class:`engine.store.Store` read or write) and, for
writes, inside the caller's :func:`~engine.store.transaction`; none opens its own.

Audit trail (:mod:`engine.audit.chain`): creating a token appends a ``token_created`` record and
revoking one a ``token_revoked`` record, in the same transaction as the row's write. The payloads
name the token's id, user, role, label and who acted, never the token or its hash. The records do
not *cover* the row (``covers=``): ``last_used_at`` changes as the token is used, and a covered
row that changes fails ``stresslab audit verify``.

Users likewise: adding one appends ``user_added``, disabling one ``user_disabled``, changing a
role ``user_role_set`` and a lock after failed sign-ins ``user_locked``; never the password nor
its hash, and no covering (the failed-attempt count changes at every sign-in).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from engine.audit import chain
from engine.errors import InputError, NotFoundError

__all__ = ["count_users", "disable_user", "insert_token", "insert_user", "record_attempt",
           "revoke_token", "set_role", "token_row", "token_rows", "touch_last_used", "user_row",
           "user_rows"]

#: The columns lists and results show: every column but the hash.
_PUBLIC = ("token_id", "user_name", "role", "label", "created_at", "created_by", "revoked_at",
           "revoked_by", "last_used_at")
_COLS = ", ".join(_PUBLIC)


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def insert_token(con: duckdb.DuckDBPyConnection, *, token_id: str, user: str, role: str,
                 token_hash: str, label: str | None, created_at: datetime,
                 created_by: str) -> int:
    """Store a new token's row and its ``token_created`` audit record.

    Returns
    -------
    int
        The audit record's seq.
    """
    con.execute(
        "INSERT INTO api_tokens (token_id, user_name, role, token_hash, label, created_at,"
        " created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [token_id, user, role, token_hash, label, created_at, created_by])
    rec = chain.append(con, event_type="token_created", timestamp=created_at, payload={
        "token_id": token_id, "user": user, "role": role, "label": label,
        "created_by": created_by, "created_at": created_at})
    return rec.seq


def token_row(con: duckdb.DuckDBPyConnection, token_id: str) -> dict[str, Any] | None:
    """One token's row, with its ``token_hash`` (for authentication), or None."""
    rows = _dicts(con.execute(f"SELECT {_COLS}, token_hash FROM api_tokens WHERE token_id = ?",
                              [token_id]))
    return rows[0] if rows else None


def token_rows(con: duckdb.DuckDBPyConnection, *,
               include_revoked: bool = False) -> list[dict[str, Any]]:
    """Every token's row without its hash, oldest first (active ones only, unless asked)."""
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    return _dicts(con.execute(f"SELECT {_COLS} FROM api_tokens{where}"
                              " ORDER BY created_at, token_id"))


def revoke_token(con: duckdb.DuckDBPyConnection, *, token_id: str, by: str,
                 at: datetime) -> dict[str, Any]:
    """Revoke a token and append its ``token_revoked`` audit record.

    Returns
    -------
    dict
        The row after revocation (no hash), with ``audit_seq``.

    Raises
    ------
    NotFoundError
        No token has this id.
    InputError
        The token is already revoked (the message says by whom and when).
    """
    rows = _dicts(con.execute(f"SELECT {_COLS} FROM api_tokens WHERE token_id = ?", [token_id]))
    if not rows:
        shown = repr(token_id) if len(token_id) <= 32 else "with that id (this looks like a whole token, not shown here; give its id, the 16 hex digits after 'slk_')"
        raise NotFoundError(f"no token {shown}; `stresslab tokens list --all` lists them")
    row = rows[0]
    if row["revoked_at"] is not None:
        raise InputError(f"token {token_id} was already revoked by {row['revoked_by']} at "
                         f"{row['revoked_at']:%Y-%m-%d %H:%M:%S} UTC")
    con.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                [at, by, token_id])
    rec = chain.append(con, event_type="token_revoked", timestamp=at, payload={
        "token_id": token_id, "user": row["user_name"], "role": row["role"],
        "revoked_by": by, "revoked_at": at})
    row.update(revoked_at=at, revoked_by=by, audit_seq=rec.seq)
    return row


def touch_last_used(con: duckdb.DuckDBPyConnection, *, token_id: str, at: datetime) -> bool:
    """Set ``last_used_at`` to ``at`` unless it is already later, on an active token.

    Returns
    -------
    bool
        Whether a row changed.
    """
    changed = con.execute(
        "UPDATE api_tokens SET last_used_at = ? WHERE token_id = ? AND revoked_at IS NULL"
        " AND (last_used_at IS NULL OR last_used_at < ?) RETURNING token_id",
        [at, token_id, at]).fetchall()
    return bool(changed)


# --------------------------------------------------------------------------- users

#: The columns lists show: every column but the password hash.
_USER_PUBLIC = ("user_name", "role", "disabled", "created_at", "created_by", "failed_attempts",
                "locked_until", "last_sign_in_at", "changed_at", "changed_by")
_USER_COLS = ", ".join(_USER_PUBLIC)


def count_users(con: duckdb.DuckDBPyConnection) -> int:
    """How many users the store holds (disabled ones included)."""
    return int(con.execute("SELECT count(*) FROM users").fetchone()[0])


def user_row(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    """One user's row with its ``password_hash``, or None."""
    rows = _dicts(con.execute(f"SELECT {_USER_COLS}, password_hash FROM users WHERE user_name = ?",
                              [name]))
    return rows[0] if rows else None


def user_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every user's row without the hash, oldest first."""
    return _dicts(con.execute(f"SELECT {_USER_COLS} FROM users ORDER BY created_at, user_name"))


def insert_user(con: duckdb.DuckDBPyConnection, *, name: str, role: str, password_hash: str,
                created_at: datetime, created_by: str) -> int:
    """Store a new user and its ``user_added`` audit record.

    Returns
    -------
    int
        The audit record's seq.

    Raises
    ------
    InputError
        A user of that name exists already.
    """
    if user_row(con, name) is not None:
        raise InputError(f"a user {name!r} exists already; `stresslab users list` lists them "
                         "(`users set-role` changes a role)")
    con.execute(
        "INSERT INTO users (user_name, role, password_hash, created_at, created_by)"
        " VALUES (?, ?, ?, ?, ?)", [name, role, password_hash, created_at, created_by])
    rec = chain.append(con, event_type="user_added", timestamp=created_at, payload={
        "user": name, "role": role, "created_by": created_by, "created_at": created_at})
    return rec.seq


def _existing(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any]:
    row = user_row(con, name)
    if row is None:
        raise NotFoundError(f"no user {name!r}; `stresslab users list` lists them")
    return row


def disable_user(con: duckdb.DuckDBPyConnection, *, name: str, by: str,
                 at: datetime) -> dict[str, Any]:
    """Disable a user (sign-in and the user's tokens stop working) with a ``user_disabled``
    audit record.

    Returns
    -------
    dict
        The row after the change (no hash), with ``audit_seq``.

    Raises
    ------
    NotFoundError
        No user of that name.
    InputError
        The user is disabled already (the message says by whom and when).
    """
    row = _existing(con, name)
    if row["disabled"]:
        raise InputError(f"user {name!r} is disabled already (by {row['changed_by']} at "
                         f"{row['changed_at']:%Y-%m-%d %H:%M:%S} UTC)")
    con.execute("UPDATE users SET disabled = true, changed_at = ?, changed_by = ?"
                " WHERE user_name = ?", [at, by, name])
    rec = chain.append(con, event_type="user_disabled", timestamp=at, payload={
        "user": name, "role": row["role"], "disabled_by": by, "disabled_at": at})
    row.pop("password_hash", None)
    row.update(disabled=True, changed_at=at, changed_by=by, audit_seq=rec.seq)
    return row


def set_role(con: duckdb.DuckDBPyConnection, *, name: str, role: str, by: str,
             at: datetime) -> dict[str, Any]:
    """Give a user another role, with a ``user_role_set`` audit record (old and new role).

    Returns
    -------
    dict
        The row after the change (no hash), with ``old_role`` and ``audit_seq``.

    Raises
    ------
    NotFoundError
        No user of that name.
    InputError
        The user has that role already (nothing changed).
    """
    row = _existing(con, name)
    old = row["role"]
    if old == role:
        raise InputError(f"user {name!r} has the role {role} already; nothing changed")
    con.execute("UPDATE users SET role = ?, changed_at = ?, changed_by = ? WHERE user_name = ?",
                [role, at, by, name])
    rec = chain.append(con, event_type="user_role_set", timestamp=at, payload={
        "user": name, "old_role": old, "role": role, "set_by": by, "set_at": at})
    row.pop("password_hash", None)
    row.update(role=role, old_role=old, changed_at=at, changed_by=by, audit_seq=rec.seq)
    return row


def record_attempt(con: duckdb.DuckDBPyConnection, *, name: str, failed_attempts: int,
                   locked_until: datetime | None, at: datetime, success: bool,
                   locked_now: bool, password_hash: str | None = None) -> None:
    """Store a sign-in attempt's outcome: the failed-attempt count and lock, the time of a
    success, a new hash (parameters upgraded), and a ``user_locked`` record when a lock starts."""
    con.execute(
        "UPDATE users SET failed_attempts = ?, locked_until = ?,"
        " last_sign_in_at = CASE WHEN ? THEN ? ELSE last_sign_in_at END,"
        " password_hash = coalesce(?, password_hash) WHERE user_name = ?",
        [failed_attempts, locked_until, success, at, password_hash, name])
    if locked_now:
        chain.append(con, event_type="user_locked", timestamp=at, payload={
            "user": name, "failed_attempts": failed_attempts, "locked_until": locked_until})
