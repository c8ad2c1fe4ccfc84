"""Sign-in: who may see the app, the sign-in page, the session's expiry and the sidebar's user box.

:func:`gate` runs first on every rerun of the entry script (``dashboard/app.py``):

- no user in the store: single-user mode (``dashboard.session``), the pages run;
- users exist and this browser session has not signed in: the sign-in page is drawn (name and
  password in one form) and no page runs;
- signed in: the session ends after 30 minutes without interaction or 12 hours after sign-in
  (``engine.auth.IDLE_TIMEOUT``, ``ABSOLUTE_TIMEOUT``), and the user is read again from the store
  at most every minute (``engine.auth.RECHECK_INTERVAL``), so a disabled user is signed out and a
  new role applies within a minute.

The checks of names, passwords, lockout and expiry are the engine's (:mod:`engine.auth`); this
module lays them out and keeps the session's times in ``st.session_state``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import session, state
from dashboard.components.format import plain
from engine.auth import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, RECHECK_INTERVAL, session_expiry
from engine.auth.workflow import check_user, sign_in, users_exist
from engine.errors import AuthenticationError

__all__ = ["EXPIRED", "SIGNED_OUT", "gate", "sign_out", "sidebar_user"]

#: Session-state keys: the principal is ``dashboard.session``'s; the times are naive UTC.
_SIGNED_IN_AT, _LAST_SEEN, _CHECKED_AT, _NOTICE = (
    "_signed_in_at", "_last_seen", "_checked_at", "_signin_notice")
#: What the sign-in page says after a session ended, by reason.
_IDLE_MIN = int(IDLE_TIMEOUT.total_seconds() // 60)
_ABSOLUTE_H = int(ABSOLUTE_TIMEOUT.total_seconds() // 3600)
EXPIRED = {
    "idle": f"Your session ended after {_IDLE_MIN} minutes without activity. Sign in again.",
    "absolute": f"Your session ended {_ABSOLUTE_H} hours after you signed in. Sign in again.",
}
SIGNED_OUT = "You signed out."


def _now() -> datetime:
    """The wall clock, naive UTC (the engine's convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def sign_out(notice: str = SIGNED_OUT) -> None:
    """End this browser session's sign-in: everything it held is forgotten (page state too),
    and the sign-in page shows ``notice``."""
    keep = {k: st.session_state[k] for k in ("_startup_done",) if k in st.session_state}
    st.session_state.clear()
    st.session_state.update(keep)
    st.session_state[_NOTICE] = notice


def _signed_in() -> bool:
    who = st.session_state.get(session.PRINCIPAL_KEY)
    return who is not None and who.token_id != session.LOCAL_TOKEN_ID


def _keep_signed_in(now: datetime) -> bool:
    """Check a signed-in session: expiry, then the user in the store (at most once a minute)."""
    who = st.session_state[session.PRINCIPAL_KEY]
    signed_in_at = st.session_state.setdefault(_SIGNED_IN_AT, now)
    last_seen = st.session_state.get(_LAST_SEEN, now)
    reason = session_expiry(signed_in_at=signed_in_at, last_seen=last_seen, now=now)
    if reason is not None:
        sign_out(EXPIRED[reason])
        return False
    checked = st.session_state.get(_CHECKED_AT)
    if checked is None or not _fresh(now - checked):
        try:
            st.session_state[session.PRINCIPAL_KEY] = check_user(who.user, store=state.store())
        except AuthenticationError as exc:
            sign_out(str(exc))
            return False
        st.session_state[_CHECKED_AT] = now
    st.session_state[_LAST_SEEN] = now
    return True


def _fresh(elapsed: timedelta) -> bool:
    """Whether a user check ``elapsed`` ago is still fresh (a clock set back counts as stale)."""
    return elapsed.total_seconds() >= 0 and elapsed < RECHECK_INTERVAL


def gate() -> bool:
    """Decide what this rerun shows: True if the pages may run, False if the sign-in page was
    drawn instead.

    Raises
    ------
    StoreBusyError
        If the store stays busy while the users are read (the entry script says so plainly).
    """
    now = _now()
    if _signed_in() and _keep_signed_in(now):
        return True
    if not users_exist(store=state.store()):  # single-user mode
        for key in (session.PRINCIPAL_KEY, _NOTICE):
            st.session_state.pop(key, None)
        return True
    _sign_in_page(now)
    return False


def _sign_in_page(now: datetime) -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("StressLab")
        st.subheader("Sign in")
        notice = st.session_state.pop(_NOTICE, None)
        if notice:
            st.info(plain(notice), icon=":material/info:")
        with st.form("signin", clear_on_submit=True, enter_to_submit=True):
            name = st.text_input("Name", key="signin_name", autocomplete="username")
            password = st.text_input("Password", type="password", key="signin_password",
                                     autocomplete="current-password")
            submitted = st.form_submit_button("Sign in", type="primary", key="signin_submit",
                                              icon=":material/login:")
        if submitted:
            try:
                who = sign_in(name, password=password, store=state.store(), now=now)
            except AuthenticationError as exc:
                st.error(plain(str(exc)), icon=":material/error:")
            else:
                st.session_state.update({session.PRINCIPAL_KEY: who, _SIGNED_IN_AT: now,
                                         _LAST_SEEN: now, _CHECKED_AT: now})
                st.rerun()
        st.caption(f"An admin manages accounts with `stresslab users`. The session ends after "
                   f"{_IDLE_MIN} minutes without activity, or {_ABSOLUTE_H} hours after sign-in.")


def sidebar_user() -> None:
    """The sidebar's user box: the local single user, or the signed-in user, role and Sign out."""
    who = session.current()
    if session.single_user():
        st.caption(f"Single-user mode: you are **{plain(who.user)}** with every role. Add a user "
                   "(`stresslab users add`) to require sign-in.")
        return
    st.markdown(f":material/account_circle: **{plain(who.user)}** · {who.role}")
    st.button("Sign out", key="signout", on_click=sign_out, icon=":material/logout:")
