"""The token actions, called alike by ``stresslab tokens …`` and the HTTP API.

* :func:`create_token`: a new bearer token for a user and a role, shown once; only its SHA-256 is
  stored (audited, ``token_created``);
* :func:`list_tokens`: the tokens, without hashes;
* :func:`revoke_token`: a token stops working (audited, ``token_revoked``); revoking a revoked
  token is an :class:`~engine.errors.InputError` saying by whom and when, as acknowledging an
  acknowledged alert is;
* :func:`authenticate`: a bearer token's text to the :class:`Principal` it names, in one read
  session (``last_used_at`` is written at most once a minute per token, in the background:
  :mod:`engine.auth._last_used`);
* :func:`authorize`: whether the principal's role may do an action (``admin`` may do anything).

The token's format and why a fast hash is enough are in :mod:`engine.auth._tokens`.
"""

from __future__ import annotations

import getpass
import hmac
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from engine.auth import _last_used, _store, _tokens
from engine.auth._last_used import LAST_USED_INTERVAL
from engine.auth._roles import ROLES, Principal, Role, authorize  # re-exported: one module
from engine.errors import AuthenticationError, InputError
from engine.requests import Request
from engine.store import Store, transaction

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LAST_USED_INTERVAL",
    "ROLES",
    "Principal",
    "Role",
    "TokenCreated",
    "TokenInfo",
    "TokenList",
    "TokenRequest",
    "TokenRevoked",
    "authenticate",
    "authorize",
    "create_token",
    "flush_last_used",
    "list_tokens",
    "revoke_token",
]

#: Messages of :class:`AuthenticationError` for a well-formed token; neither repeats it.
UNKNOWN_TOKEN = ("the bearer token is not known (mistyped, or made for another store); ask an "
                 "admin for one (`stresslab tokens create`)")
REVOKED_TOKEN = ("the bearer token was revoked; ask an admin for a new one "
                 "(`stresslab tokens create`)")
#: The longest user name (and ``created_by``/``revoked_by``).
MAX_NAME = 128


def _utc_now() -> datetime:
    """The wall clock as naive UTC, the store's convention for timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


def _no_control_characters(value: str) -> str:
    bad = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c) == "Cc"})
    if bad:
        raise ValueError(f"must not contain control characters (found {', '.join(bad)})")
    return value


#: A user's name: 1 to 128 characters after stripping, no control characters (Unicode Cc).
UserName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=MAX_NAME),
                     AfterValidator(_no_control_characters)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200),
                  AfterValidator(_no_control_characters)]


class TokenRequest(Request):
    """A new bearer token: for whom, with which role, and what it is for.

    Attributes
    ----------
    user : str
        The user the token acts as (1 to 128 characters, stripped, no control characters).
    role : {"analyst", "validator", "leadership", "admin"}
    label : str, optional
        What the token is for ("nightly scheduler"), up to 200 characters; blank means none.
    """

    subject: ClassVar[str] = "token request"

    user: UserName
    role: Role
    label: Label | None = None


class TokenCreated(BaseModel):
    """A token just created. ``token`` is its text, shown this once and stored nowhere.

    Attributes
    ----------
    token_id : str
        16 hex digits; not secret (``tokens list`` shows it, ``tokens revoke`` takes it).
    user, role, label, created_by : str
    created_at : datetime
        Naive UTC.
    token : str
        ``slk_<token_id>_<secret>``, to send as ``Authorization: Bearer <token>``. Left out of
        ``repr`` so that it does not land in a log by accident.
    audit_seq : int
        The ``token_created`` audit record.
    """

    model_config = ConfigDict(frozen=True)

    token_id: str
    user: str
    role: Role
    label: str | None
    created_at: datetime
    created_by: str
    token: str = Field(repr=False)
    audit_seq: int


class TokenInfo(BaseModel):
    """A stored token as lists show it: never its text nor its hash. Times are naive UTC."""

    model_config = ConfigDict(frozen=True)

    token_id: str
    user: str
    role: Role
    label: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def to_json_row(self) -> dict[str, Any]:
        """The row as ``stresslab tokens list --json`` prints it (times as ISO 8601)."""
        return self.model_dump(mode="json")


class TokenList(BaseModel):
    """Stored tokens, oldest first."""

    model_config = ConfigDict(frozen=True)

    rows: tuple[TokenInfo, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per token: the columns of :class:`TokenInfo` (no hash)."""
        import pandas as pd

        return pd.DataFrame([r.model_dump() for r in self.rows],
                            columns=list(TokenInfo.model_fields))

    def to_json_rows(self) -> list[dict[str, Any]]:
        """The rows as ``stresslab tokens list --json`` prints them."""
        return [r.to_json_row() for r in self.rows]


class TokenRevoked(BaseModel):
    """A token revoked: whose it was, who revoked it and when (naive UTC), the audit record."""

    model_config = ConfigDict(frozen=True)

    token_id: str
    user: str
    role: Role
    revoked_at: datetime
    revoked_by: str
    audit_seq: int


def _actor(by: str | None) -> str:
    """Who acts: ``by`` if given, else the login running this process (``"unknown"`` if none)."""
    if by is None:
        try:
            by = getpass.getuser()
        except (KeyError, OSError):  # no login name in the environment nor the password database
            by = "unknown"
    name = by.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InputError(f"who acts must be 1 to {MAX_NAME} characters, got {len(name)}")
    try:
        return _no_control_characters(name)
    except ValueError as exc:
        raise InputError(f"who acts ({name!r}) {exc}") from None


def _info(row: dict[str, Any]) -> TokenInfo:
    return TokenInfo(token_id=row["token_id"], user=row["user_name"], role=row["role"],
                     label=row["label"], created_at=row["created_at"],
                     created_by=row["created_by"], revoked_at=row["revoked_at"],
                     revoked_by=row["revoked_by"], last_used_at=row["last_used_at"])


def create_token(request: TokenRequest, *, by: str | None = None, store: Store | None = None,
                 now: datetime | None = None) -> TokenCreated:
    """Create a bearer token for ``request.user`` with ``request.role``.

    The token's text is returned once and never stored: the store keeps its SHA-256
    (:func:`engine.auth._tokens.token_hash`). The row and a ``token_created`` audit record
    (token id, user, role, label, who and when; not the token, not its hash) are written in one
    transaction.

    Parameters
    ----------
    request : TokenRequest
    by : str, optional
        Who creates it; default the login running this process.
    store : Store, optional
        Default: the configured store.
    now : datetime, optional
        The creation time, naive UTC; default the clock.

    Raises
    ------
    InputError
        If ``by`` is blank, longer than 128 characters or holds control characters.
    StoreBusyError
        If the store stays busy longer than its timeout.
    """
    creator = _actor(by)
    at = now or _utc_now()
    made = _tokens.new_token()
    label = request.label or None
    with (store or Store()).write() as con, transaction(con):
        seq = _store.insert_token(con, token_id=made.token_id, user=request.user,
                                  role=request.role, token_hash=made.hash, label=label,
                                  created_at=at, created_by=creator)
    return TokenCreated(token_id=made.token_id, user=request.user, role=request.role,
                        label=label, created_at=at, created_by=creator, token=made.text,
                        audit_seq=seq)


def list_tokens(*, store: Store | None = None, include_revoked: bool = False) -> TokenList:
    """The stored tokens, oldest first, without their hashes.

    Parameters
    ----------
    store : Store, optional
        Default: the configured store.
    include_revoked : bool
        Also the revoked tokens (default: active ones only).
    """
    with (store or Store()).read() as con:
        rows = _store.token_rows(con, include_revoked=include_revoked)
    return TokenList(rows=tuple(_info(r) for r in rows))


def revoke_token(token_id: str, *, by: str | None = None, store: Store | None = None,
                 now: datetime | None = None) -> TokenRevoked:
    """Revoke a token: from now on it authenticates no one. Written with a ``token_revoked``
    audit record in one transaction.

    Parameters
    ----------
    token_id : str
        The token's id (``tokens list`` shows it; it is also the 16 hex digits after ``slk_``).
    by : str, optional
        Who revokes it; default the login running this process.
    store : Store, optional
    now : datetime, optional
        The revocation time, naive UTC; default the clock.

    Raises
    ------
    NotFoundError
        No token has this id.
    InputError
        The token is already revoked (not idempotent: the message says by whom and when, so
        that a second revocation of a token thought active is noticed), or ``by`` is invalid.
    """
    revoker = _actor(by)
    at = now or _utc_now()
    with (store or Store()).write() as con, transaction(con):
        row = _store.revoke_token(con, token_id=str(token_id).strip(), by=revoker, at=at)
    return TokenRevoked(token_id=row["token_id"], user=row["user_name"], role=row["role"],
                        revoked_at=at, revoked_by=revoker, audit_seq=row["audit_seq"])


def authenticate(token: str | None, *, store: Store | None = None,
                 now: datetime | None = None) -> Principal:
    """The principal a bearer token names: its user, role and token id.

    One read session: the row is found by the id inside the token, then the SHA-256 of the
    presented text is compared with the stored one by :func:`hmac.compare_digest` (constant
    time). The token id is not secret, so that finding a row or not may take different times.

    ``last_used_at`` is written when it is older than :data:`LAST_USED_INTERVAL` (1 minute), by
    a background thread, never on the caller's path (:mod:`engine.auth._last_used`).

    Parameters
    ----------
    token : str or None
        What the client sent after ``Authorization: Bearer`` (surrounding whitespace ignored).
    store : Store, optional
        Default: the configured store.
    now : datetime, optional
        The time of this use for ``last_used_at``, naive UTC; default the clock.

    Returns
    -------
    Principal

    Raises
    ------
    AuthenticationError
        If the token is missing or blank, not in the token format, unknown (no such id, or the
        secret does not match) or revoked. No message repeats any part of the token.
    StoreBusyError
        If a writer holds the store longer than its timeout.
    """
    token_id = _tokens.parse_token(token)
    presented = _tokens.token_hash(token.strip())  # parse_token has checked it is a str
    store = store or Store()
    with store.read() as con:
        row = _store.token_row(con, token_id)
    if row is None or not hmac.compare_digest(str(row["token_hash"]), presented):
        raise AuthenticationError(UNKNOWN_TOKEN)
    if row["revoked_at"] is not None:
        raise AuthenticationError(REVOKED_TOKEN)
    _last_used.note_use(store, token_id=token_id, stored=row["last_used_at"],
                        now=now or _utc_now())
    return Principal(user=str(row["user_name"]), role=row["role"], token_id=token_id)


def flush_last_used(timeout: float | None = None) -> None:
    """Wait until the ``last_used_at`` writes queued by :func:`authenticate` are stored.

    For tests and for a server shutting down; requests never need it.

    Raises
    ------
    TimeoutError
        If they are not done within ``timeout`` seconds.
    """
    _last_used.flush(timeout)

