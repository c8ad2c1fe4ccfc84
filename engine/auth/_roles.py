"""Roles, the authenticated principal, and the role check (pure: no store, no clock).

Four roles, the same for the HTTP API's tokens and for the users of issue 13:

- ``analyst``: runs stress tests and reads results;
- ``validator``: validates models and signs off;
- ``leadership``: reads dashboards, reports and the desk;
- ``admin``: everything, including the kill switch and token management.

Who may do what is one table, :data:`ACTIONS`, for the app's pages (:func:`may`, through
``dashboard.session``) and the HTTP API's endpoints (:func:`authorize_action`) alike; ``admin``
is allowed everything, wherever it is checked. :func:`authorize` checks an explicit list of roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from engine.errors import PermissionDeniedError

__all__ = ["ACTIONS", "ADMIN", "ROLES", "Action", "Principal", "Role", "authorize",
           "authorize_action", "may"]

#: A role a token (or, with issue 13, a user) holds.
Role = Literal["analyst", "validator", "leadership", "admin"]
#: Every role, in the order help texts and messages list them.
ROLES: tuple[Role, ...] = get_args(Role)
#: The role that is allowed every action.
ADMIN: Role = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the user a bearer token names, the role it grants, and the token.

    Attributes
    ----------
    user : str
        The user's name, recorded with every run, acknowledgement and kill switch.
    role : {"analyst", "validator", "leadership", "admin"}
        The role the token grants.
    token_id : str
        The token's id (16 hex digits; not secret), to revoke it or trace its use; for a user
        signed in to the app with a password ``"password"``, and ``"local"`` for the app's
        single user when no user exists.
    """

    user: str
    role: Role
    token_id: str


def authorize(principal: Principal, *, allowed: Iterable[Role], action: str) -> None:
    """Check that ``principal``'s role may do ``action``; ``admin`` may do everything.

    Parameters
    ----------
    principal : Principal
        Who asks (from :func:`engine.auth.workflow.authenticate`).
    allowed : iterable of Role
        The roles that may do it (``admin`` need not be listed).
    action : str
        What is asked, in words, for the message ("run a stress test", "use the kill switch").

    Raises
    ------
    PermissionDeniedError
        If the role is not allowed (HTTP 403). Its ``allowed`` lists the roles that are, in
        :data:`ROLES` order, ``admin`` included.
    ValueError
        If ``allowed`` names a role that does not exist (a programming error, not user input).
    """
    wanted = set(allowed)
    unknown = sorted(str(r) for r in wanted if r not in ROLES)
    if unknown:
        raise ValueError(f"authorize: unknown roles {unknown}; the roles are {list(ROLES)}")
    if principal.role == ADMIN or principal.role in wanted:
        return
    permitted = tuple(r for r in ROLES if r in wanted or r == ADMIN)
    raise PermissionDeniedError(
        f"user {principal.user!r} has the role {principal.role}, which may not {action}; "
        f"that needs the role {' or '.join(permitted)}. Ask an admin for a token with one of "
        "them.",
        user=principal.user, role=principal.role, allowed=permitted)


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a user may do, in words for messages, and the roles allowed besides ``admin``."""

    words: str
    allowed: tuple[Role, ...]


_EVERYONE: tuple[Role, ...] = ("analyst", "validator", "leadership")

#: Who may do what, the same for the app's users and the HTTP API's tokens (issue 13):
#: analyst runs, uploads and acknowledges alerts; validator validates and signs off;
#: leadership reads and downloads; admin manages users and tokens, the kill switch and limits.
ACTIONS: dict[str, Action] = {
    "read": Action("read results", _EVERYONE),
    "download": Action("download reports and evidence", _EVERYONE),
    "upload_pool": Action("upload or delete a pool", ("analyst",)),
    "edit_scenarios": Action("save or delete a scenario", ("analyst",)),
    "run_stress": Action("run a stress test", ("analyst",)),
    "run_market": Action("run a market-risk calculation", ("analyst",)),
    "mark_false_positive": Action("mark a limit breach a false positive", ("analyst",)),
    "acknowledge_alert": Action("acknowledge an alert", ("analyst",)),
    "run_compliance": Action("run a compliance check", ("analyst",)),
    "run_validation": Action("run a model validation", ("validator",)),
    "edit_handbook": Action("edit the scenario handbook", ("validator",)),
    "sign_off": Action("sign off a validation decision", ("validator",)),
    "kill_switch": Action("use the kill switch or resume an account", ()),
    "set_limits": Action("change limits or the enforcement mode", ()),
    "manage_users": Action("manage users and tokens", ()),
}


def may(role: Role, action: str) -> bool:
    """Whether ``role`` may do ``action`` (a key of :data:`ACTIONS`); ``admin`` may do all.

    Raises
    ------
    KeyError
        If ``action`` is not in :data:`ACTIONS` (a programming error).
    """
    return role == ADMIN or role in ACTIONS[action].allowed


def authorize_action(principal: Principal, action: str) -> None:
    """Check that ``principal``'s role may do ``action``, a key of :data:`ACTIONS` (the rule the
    app's pages apply through :func:`may`).

    Raises
    ------
    PermissionDeniedError
        If the role may not (HTTP 403); the message names the action in words and the roles
        that may.
    KeyError
        If ``action`` is not in :data:`ACTIONS` (a programming error).
    """
    rule = ACTIONS[action]
    authorize(principal, allowed=rule.allowed, action=rule.words)
