"""The token and user actions, called alike by ``stresslab tokens …``, ``stresslab users …``,
the app's sign-in and the HTTP API.

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

Users (issue 13), kept in the store with an Argon2id password hash (:mod:`engine.auth._passwords`):

* :func:`add_user`, :func:`list_users`, :func:`disable_user`, :func:`set_role` (each write
  audited: ``user_added``, ``user_disabled``, ``user_role_set``);
* :func:`sign_in`: a name and password to the :class:`Principal`, or an
  :class:`~engine.errors.AuthenticationError` whose message is the same for an unknown name, a
  wrong password, a locked and a disabled user (:data:`SIGN_IN_FAILED`); 5 wrong passwords in a
  row lock the user for 15 minutes (:mod:`engine.auth._policy`, audited ``user_locked``);
* :func:`users_exist` (no user: the app runs as the local single user) and :func:`check_user`
  (an app session's user, re-read: disabled users are signed out, role changes apply).

**Tokens and users.** With no user in the store, tokens work on their own (a token names any
user and a role). Once a user exists, :func:`create_token` needs an existing, enabled user and
gives the token that user's role, and :func:`authenticate` refuses (401) a token whose user is
unknown or disabled, and grants the user's *current* role, so ``users set-role`` and
``users disable`` apply to the user's tokens at once.

The token's format and why a fast hash is enough are in :mod:`engine.auth._tokens`.
"""

from __future__ import annotations

import getpass
import hmac
import logging
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from engine.auth import _last_used, _passwords, _policy, _store, _tokens
from engine.auth._last_used import LAST_USED_INTERVAL
from engine.auth._roles import ROLES, Principal, Role, authorize  # re-exported: one module
from engine.errors import AuthenticationError, InputError
from engine.requests import Request
from engine.store import Store, transaction

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LAST_USED_INTERVAL",
    "PASSWORD_TOKEN_ID",
    "ROLES",
    "SIGN_IN_FAILED",
    "Principal",
    "Role",
    "RoleRequest",
    "TokenCreated",
    "TokenInfo",
    "TokenList",
    "TokenRequest",
    "TokenRevoked",
    "UserAdded",
    "UserChanged",
    "UserInfo",
    "UserList",
    "UserRequest",
    "add_user",
    "authenticate",
    "authorize",
    "check_user",
    "create_token",
    "disable_user",
    "flush_last_used",
    "list_tokens",
    "list_users",
    "revoke_token",
    "set_role",
    "sign_in",
    "users_exist",
]

#: Messages of :class:`AuthenticationError` for a well-formed token; neither repeats it.
UNKNOWN_TOKEN = ("the bearer token is not known (mistyped, or made for another store); ask an "
                 "admin for one (`stresslab tokens create`)")
REVOKED_TOKEN = ("the bearer token was revoked; ask an admin for a new one "
                 "(`stresslab tokens create`)")
#: Message of :class:`AuthenticationError` for a token whose user is disabled or not a user.
TOKEN_USER_REFUSED = ("the bearer token's user is disabled or is not a user of this store; ask "
                      "an admin (`stresslab users list`)")
#: The one message of a refused sign-in, whatever the reason (unknown name, wrong password,
#: locked or disabled user), so that it does not tell whether the name exists (OWASP
#: Authentication Cheat Sheet, "Authentication Responses").
SIGN_IN_FAILED = (
    "Sign-in failed: the name or the password is wrong, or the account is locked or disabled. "
    f"After {_policy.MAX_FAILED_ATTEMPTS} wrong passwords in a row an account is locked for "
    f"{int(_policy.LOCKOUT.total_seconds() // 60)} minutes; an admin can tell you more.")
#: Message of :func:`check_user` for a session whose user was disabled since sign-in.
SESSION_ENDED = "Your account was disabled or removed since you signed in; ask an admin."
#: The ``token_id`` of a :class:`Principal` signed in with a password (no bearer token).
PASSWORD_TOKEN_ID = "password"
#: The longest user name (and ``created_by``/``revoked_by``).
MAX_NAME = 128

_LOG = logging.getLogger("engine.auth")


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
        Once users exist, an existing, enabled user.
    role : {"analyst", "validator", "leadership", "admin"}, optional
        Needed while no user exists. Once users exist the token takes its user's role (and
        follows it when it changes); a role given must then be that role.
    label : str, optional
        What the token is for ("nightly scheduler"), up to 200 characters; blank means none.
    """

    subject: ClassVar[str] = "token request"

    user: UserName
    role: Role | None = None
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


class _RowList(BaseModel):
    """Stored rows of :attr:`row_type` (no hash, no secret), oldest first, as the ``list``
    commands print them."""

    model_config = ConfigDict(frozen=True)

    row_type: ClassVar[type[BaseModel]]
    rows: tuple[BaseModel, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per stored row: the columns of :attr:`row_type`."""
        import pandas as pd

        return pd.DataFrame([r.model_dump() for r in self.rows],
                            columns=list(self.row_type.model_fields))

    def to_json_rows(self) -> list[dict[str, Any]]:
        """The rows as the ``list --json`` commands print them (times as ISO 8601)."""
        return [r.model_dump(mode="json") for r in self.rows]


class TokenList(_RowList):
    """Stored tokens, oldest first."""

    row_type: ClassVar[type[BaseModel]] = TokenInfo
    rows: tuple[TokenInfo, ...]


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


def _token_role(con: Any, request: TokenRequest) -> Role:
    """The role a new token gets: the request's while no user exists, else its user's."""
    if _store.count_users(con) == 0:
        if request.role is None:
            raise InputError("give the token's role (--role): no users are defined, so the "
                             "token carries its own role")
        return request.role
    user = _store.user_row(con, request.user)
    if user is None or user["disabled"]:
        state = "not a user" if user is None else "disabled"
        raise InputError(f"{request.user!r} is {state}: once users exist, a token must name an "
                         "existing, enabled user (`stresslab users list`, `stresslab users "
                         "add`); nothing was stored")
    if request.role is not None and request.role != user["role"]:
        raise InputError(f"user {request.user!r} has the role {user['role']}, and a token takes "
                         f"its user's role; leave out --role (or `stresslab users set-role`); "
                         "nothing was stored")
    return user["role"]


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
        If ``by`` is blank, longer than 128 characters or holds control characters; if no user
        exists and ``request.role`` is not given; if users exist and ``request.user`` is not
        one of them, is disabled, or has another role than ``request.role``.
    StoreBusyError
        If the store stays busy longer than its timeout.
    """
    creator = _actor(by)
    at = now or _utc_now()
    made = _tokens.new_token()
    label = request.label or None
    with (store or Store()).write() as con, transaction(con):
        role = _token_role(con, request)
        seq = _store.insert_token(con, token_id=made.token_id, user=request.user,
                                  role=role, token_hash=made.hash, label=label,
                                  created_at=at, created_by=creator)
    return TokenCreated(token_id=made.token_id, user=request.user, role=role,
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
        secret does not match) or revoked; or, once users exist, if its user is disabled or
        not a user (:data:`TOKEN_USER_REFUSED`). No message repeats any part of the token.
    StoreBusyError
        If a writer holds the store longer than its timeout.
    """
    token_id = _tokens.parse_token(token)
    presented = _tokens.token_hash(token.strip())  # parse_token has checked it is a str
    store = store or Store()
    with store.read() as con:
        row = _store.token_row(con, token_id)
        user = _store.user_row(con, str(row["user_name"])) if row is not None else None
        # a found user means users exist; only a token naming no user needs the count
        users = user is not None or (row is not None and _store.count_users(con) > 0)
    if row is None or not hmac.compare_digest(str(row["token_hash"]), presented):
        raise AuthenticationError(UNKNOWN_TOKEN)
    if row["revoked_at"] is not None:
        raise AuthenticationError(REVOKED_TOKEN)
    role = row["role"]
    if users:
        if user is None or user["disabled"]:
            raise AuthenticationError(TOKEN_USER_REFUSED)
        role = user["role"]
    _last_used.note_use(store, token_id=token_id, stored=row["last_used_at"],
                        now=now or _utc_now())
    return Principal(user=str(row["user_name"]), role=role, token_id=token_id)


def flush_last_used(timeout: float | None = None) -> None:
    """Wait until the ``last_used_at`` writes queued by :func:`authenticate` are stored.

    For tests and for a server shutting down; requests never need it.

    Raises
    ------
    TimeoutError
        If they are not done within ``timeout`` seconds.
    """
    _last_used.flush(timeout)



# --------------------------------------------------------------------------- users

class UserRequest(Request):
    """A new user: a name and a role (the password goes separately, never into a model that
    could echo it in an error).

    Attributes
    ----------
    name : str
        1 to 128 characters, stripped, no control characters; case-sensitive at sign-in.
    role : {"analyst", "validator", "leadership", "admin"}
    """

    subject: ClassVar[str] = "user"

    name: UserName
    role: Role


class RoleRequest(Request):
    """Another role for an existing user (``stresslab users set-role NAME ROLE``)."""

    subject: ClassVar[str] = "role change"

    name: UserName
    role: Role


class UserInfo(BaseModel):
    """A stored user as lists show it: never the password's hash. Times are naive UTC.

    Attributes
    ----------
    name, role : str
    disabled : bool
        Sign-in and the user's bearer tokens are refused.
    created_at, created_by
    failed_attempts : int
        Wrong passwords in a row since the last success (or the end of the last lock).
    locked_until : datetime or None
        Sign-in is refused until then (the lock may be over already: compare with the clock).
    last_sign_in_at, changed_at, changed_by
        The last successful sign-in; the last disable or role change and who made it.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    disabled: bool
    created_at: datetime
    created_by: str
    failed_attempts: int
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    changed_at: datetime | None
    changed_by: str | None

    def locked(self, now: datetime) -> bool:
        """Whether sign-in is locked at ``now`` (naive UTC)."""
        return _policy.is_locked(self.locked_until, now)


class UserList(_RowList):
    """Stored users, oldest first."""

    row_type: ClassVar[type[BaseModel]] = UserInfo
    rows: tuple[UserInfo, ...]


class UserAdded(BaseModel):
    """A user just added (no password, no hash), and its ``user_added`` audit record."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    created_at: datetime
    created_by: str
    audit_seq: int


class UserChanged(BaseModel):
    """A user disabled or given another role: who, what, by whom, when, and the audit record."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: Role
    old_role: Role
    disabled: bool
    changed_at: datetime
    changed_by: str
    audit_seq: int


def _user_info(row: dict[str, Any]) -> UserInfo:
    return UserInfo(name=row["user_name"], role=row["role"], disabled=bool(row["disabled"]),
                    created_at=row["created_at"], created_by=row["created_by"],
                    failed_attempts=int(row["failed_attempts"]), locked_until=row["locked_until"],
                    last_sign_in_at=row["last_sign_in_at"], changed_at=row["changed_at"],
                    changed_by=row["changed_by"])


def _check_password(password: object) -> str:
    """The password if acceptable; the error never repeats it."""
    if not isinstance(password, str):
        raise InputError("the password must be text")
    n = len(password)
    if not _passwords.MIN_PASSWORD <= n <= _passwords.MAX_PASSWORD:
        raise InputError(f"the password must be {_passwords.MIN_PASSWORD} to "
                         f"{_passwords.MAX_PASSWORD} characters long; it has {n}. Nothing was "
                         "stored")
    if any(unicodedata.category(c) == "Cc" for c in password):
        raise InputError("the password must not contain control characters (a line break or a "
                         "tab pasted with it?); nothing was stored")
    return password


def add_user(request: UserRequest, *, password: str, by: str | None = None,
             store: Store | None = None, now: datetime | None = None) -> UserAdded:
    """Add a user who signs in with ``password``.

    The password is hashed with Argon2id (:func:`engine.auth._passwords.hash_password`, before
    the store is opened: hashing takes a large part of a second); the row and a ``user_added``
    audit record (name, role, who, when; never the password nor its hash) are written in one
    transaction. Once the first user exists, the app asks everyone to sign in and tokens follow
    their users (see the module's docstring).

    Parameters
    ----------
    request : UserRequest
    password : str
        8 to 1024 characters, no control characters (NIST SP 800-63B, section 5.1.1.2: at least
        8 characters, every printable character and space allowed).
    by : str, optional
        Who adds the user; default the login running this process.
    store : Store, optional
    now : datetime, optional
        The creation time, naive UTC; default the clock.

    Raises
    ------
    InputError
        The password is too short, too long or holds control characters (the message does not
        repeat it); a user of that name exists; ``by`` is invalid. Nothing is stored.
    """
    creator = _actor(by)
    digest = _passwords.hash_password(_check_password(password))
    at = now or _utc_now()
    with (store or Store()).write() as con, transaction(con):
        seq = _store.insert_user(con, name=request.name, role=request.role, password_hash=digest,
                                 created_at=at, created_by=creator)
    return UserAdded(name=request.name, role=request.role, created_at=at, created_by=creator,
                     audit_seq=seq)


def list_users(*, store: Store | None = None) -> UserList:
    """The stored users, oldest first, without their password hashes."""
    with (store or Store()).read() as con:
        rows = _store.user_rows(con)
    return UserList(rows=tuple(_user_info(r) for r in rows))


def users_exist(*, store: Store | None = None) -> bool:
    """Whether the store holds any user (disabled ones count): if not, the app runs as the
    local single user and tokens carry their own roles."""
    with (store or Store()).read() as con:
        return _store.count_users(con) > 0


def _changed(row: dict[str, Any], *, old_role: str) -> UserChanged:
    return UserChanged(name=row["user_name"], role=row["role"], old_role=old_role,
                       disabled=bool(row["disabled"]), changed_at=row["changed_at"],
                       changed_by=row["changed_by"], audit_seq=row["audit_seq"])


def disable_user(name: str, *, by: str | None = None, store: Store | None = None,
                 now: datetime | None = None) -> UserChanged:
    """Disable a user: sign-in is refused, open app sessions end within a minute
    (:data:`engine.auth._policy.RECHECK_INTERVAL`) and the user's tokens stop at once. Written
    with a ``user_disabled`` audit record in one transaction.

    Raises
    ------
    NotFoundError
        No user of that name.
    InputError
        The user is disabled already (by whom and when), or ``by`` is invalid.
    """
    actor = _actor(by)
    at = now or _utc_now()
    with (store or Store()).write() as con, transaction(con):
        row = _store.disable_user(con, name=str(name).strip(), by=actor, at=at)
    return _changed(row, old_role=row["role"])


def set_role(request: RoleRequest, *, by: str | None = None, store: Store | None = None,
             now: datetime | None = None) -> UserChanged:
    """Give a user another role, for the app and for the user's tokens alike; written with a
    ``user_role_set`` audit record (old and new role) in one transaction.

    Raises
    ------
    NotFoundError
        No user of that name.
    InputError
        The user has that role already (nothing changed), or ``by`` is invalid.
    """
    actor = _actor(by)
    at = now or _utc_now()
    with (store or Store()).write() as con, transaction(con):
        row = _store.set_role(con, name=request.name, role=request.role, by=actor, at=at)
    return _changed(row, old_role=row["old_role"])


def sign_in(name: str, *, password: str, store: Store | None = None,
            now: datetime | None = None) -> Principal:
    """The principal a name and password sign in as, or a refusal that tells nothing more.

    The password is checked against the stored Argon2id hash outside any store session (it takes
    a large part of a second); an unknown name is checked against a dummy hash, so that it takes
    as long. Then one write transaction re-reads the user and stores the outcome: a success
    resets the failed-attempt count (and replaces a hash made with older parameters); a wrong
    password adds one, and the fifth in a row locks the user for 15 minutes (audited
    ``user_locked``; :mod:`engine.auth._policy`). While locked, or once disabled, every attempt is
    refused and nothing is written.

    Parameters
    ----------
    name : str
        The user's name as added (surrounding whitespace ignored; case-sensitive).
    password : str
    store : Store, optional
    now : datetime, optional
        The attempt's time, naive UTC; default the clock (tests pass it to step past a lock).

    Returns
    -------
    Principal
        The user, the role stored now, and ``token_id`` :data:`PASSWORD_TOKEN_ID`.

    Raises
    ------
    AuthenticationError
        :data:`SIGN_IN_FAILED` for an unknown name, a wrong password, a locked or a disabled
        user alike (OWASP Authentication Cheat Sheet, "Authentication Responses").
    StoreBusyError
        If the store stays busy longer than its timeout.
    """
    at = now or _utc_now()
    store = store or Store()
    who = name.strip() if isinstance(name, str) else ""
    if not who or len(who) > MAX_NAME or not isinstance(password, str) or not password \
            or len(password) > _passwords.MAX_PASSWORD:
        raise AuthenticationError(SIGN_IN_FAILED)
    with store.read() as con:
        row = _store.user_row(con, who)
    if row is None:
        _passwords.verify_unknown(password)
        _LOG.info("sign-in refused: no user of the name given")
        raise AuthenticationError(SIGN_IN_FAILED)
    right = _passwords.verify_password(row["password_hash"], password)
    rehash = (_passwords.hash_password(password)
              if right and _passwords.needs_rehash(row["password_hash"]) else None)
    with store.write() as con, transaction(con):
        row = _store.user_row(con, who)  # again: another attempt may have counted meanwhile
        refused = row is None or row["disabled"] or _policy.is_locked(row["locked_until"], at)
        if not refused:
            outcome = _policy.after_attempt(failed_attempts=int(row["failed_attempts"]),
                                            locked_until=row["locked_until"], success=right,
                                            now=at)
            _store.record_attempt(con, name=who, failed_attempts=outcome.failed_attempts,
                                  locked_until=outcome.locked_until, at=at, success=right,
                                  locked_now=outcome.locked_now, password_hash=rehash)
    if refused or not right:
        _LOG.info("sign-in refused for user %r (%s)", who,
                  "disabled or locked" if refused else "wrong password")
        raise AuthenticationError(SIGN_IN_FAILED)
    return Principal(user=who, role=row["role"], token_id=PASSWORD_TOKEN_ID)


def check_user(name: str, *, store: Store | None = None) -> Principal:
    """An app session's user read again: still enabled, with the role stored now.

    Raises
    ------
    AuthenticationError
        :data:`SESSION_ENDED` if the user is disabled or no longer in the store.
    """
    with (store or Store()).read() as con:
        row = _store.user_row(con, str(name))
    if row is None or row["disabled"]:
        raise AuthenticationError(SESSION_ENDED)
    return Principal(user=str(row["user_name"]), role=row["role"], token_id=PASSWORD_TOKEN_ID)
