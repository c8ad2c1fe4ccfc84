"""The bearer tokens' table (migration 0009, ``api_tokens``): every SQL statement of
:mod:`engine.auth` is here.

Functions run on the caller's session (:class:`engine.store.Store` read or write) and, for
writes, inside the caller's :func:`~engine.store.transaction`; none opens its own.

Audit trail (:mod:`engine.audit.chain`): creating a token appends a ``token_created`` record and
revoking one a ``token_revoked`` record, in the same transaction as the row's write. The payloads
name the token's id, user, role, label and who acted, never the token or its hash. The records do
not *cover* the row (``covers=``): ``last_used_at`` changes as the token is used, and a covered
row that changes fails ``stresslab audit verify``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from engine.audit import chain
from engine.errors import InputError, NotFoundError

__all__ = ["insert_token", "revoke_token", "token_row", "token_rows", "touch_last_used"]

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
