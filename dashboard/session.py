"""Who is using the app, and what their role lets them do.

Every page asks here: :func:`current` gives the signed-in user (a
:class:`~engine.auth.Principal`), :func:`allowed` whether their role may do an action of
:data:`engine.auth.ACTIONS`, and :func:`refuse_unless` shows the refusal in place of a control.
Names recorded with a sign-off, an acknowledgement or a kill switch come from :func:`current`,
never from a text field.

With no users in the store the app runs in single-user mode: one local user (the operating
system's login name) with the admin role, which may do everything; the sidebar says so. Once a
user exists, :mod:`dashboard.signin` asks every browser session to sign in before any page runs
and keeps the signed-in :class:`~engine.auth.Principal` under :data:`PRINCIPAL_KEY` (its role
re-read from the store at most every minute).
"""

from __future__ import annotations

import getpass

import streamlit as st

from engine.auth import ACTIONS, ADMIN, ROLES, Principal, may

__all__ = ["current", "allowed", "refuse_unless", "single_user", "LOCAL_TOKEN_ID",
           "PRINCIPAL_KEY"]

#: The ``token_id`` of the local single user's principal (no token exists).
LOCAL_TOKEN_ID = "local"
#: The session-state key of the signed-in user's :class:`~engine.auth.Principal`.
PRINCIPAL_KEY = "_principal"


def _local_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "local"


def single_user() -> bool:
    """True while the app runs as the local single user (nobody signed in through a user
    account)."""
    who = st.session_state.get(PRINCIPAL_KEY)
    return who is None or who.token_id == LOCAL_TOKEN_ID


def current() -> Principal:
    """The user of this browser session: the signed-in user, or the local single user."""
    who = st.session_state.get(PRINCIPAL_KEY)
    if who is None:
        who = Principal(user=_local_name(), role=ADMIN, token_id=LOCAL_TOKEN_ID)
    return who


def allowed(action: str) -> bool:
    """Whether the current user's role may do ``action`` (a key of ``engine.auth.ACTIONS``)."""
    return may(current().role, action)


def refuse_unless(action: str) -> bool:
    """True if the current user may do ``action``; otherwise an info box says who may, and False.

    Use it in place of a form or a button: ``if refuse_unless("run_stress"): ...``.
    """
    if allowed(action):
        return True
    rule = ACTIONS[action]
    roles = [r for r in ROLES if r in rule.allowed or r == ADMIN]
    st.info(f"Your role ({current().role}) may not {rule.words}; that needs the role "
            f"{' or '.join(roles)}.", icon=":material/lock:")
    return False
