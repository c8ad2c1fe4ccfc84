"""What every page shares: first-start seeding of the store, the sidebar (who is signed in, the
store, the version) and the page paths."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import signin, state
from dashboard.components.format import plain
from engine import __version__
from engine.credit.workflow import seed_store
from engine.errors import StoreBusyError, StressLabError

__all__ = ["PAGES", "startup", "render_sidebar"]

#: The page scripts, for ``st.page_link`` (absolute paths are resolved against st.navigation).
PAGES = Path(__file__).resolve().parents[1] / "pages"
#: Said at startup when the store stayed busy (seeding is tried again on the next rerun).
BUSY_TOAST = ("The store is busy: another StressLab program is writing to it. StressLab will "
              "check it again when the page reloads.")


def startup() -> None:
    """Once per session: make sure the store exists (migrations run on first use) and, on a new
    store, seed it with the bundled real Lending Club pool so a new user lands on real data.

    A busy store is a toast and seeding is tried again on the next rerun (a page that needs the
    store says it is busy in its body, once: see ``dashboard/app.py``); a broken bundled file is
    a warning. Neither stops the app.
    """
    if st.session_state.setdefault("_startup_done", False):
        return
    try:
        seeded = seed_store(store=state.store())
    except StoreBusyError:  # another program is writing: try again on the next rerun
        st.toast(BUSY_TOAST, icon=":material/hourglass_top:")
        return
    except StressLabError as exc:  # a broken bundled file must not take the app down
        st.warning(f"The bundled Lending Club pool could not be loaded: {plain(exc)}")
        seeded = None
    if seeded:
        st.toast(f"Loaded the bundled Lending Club pool ({seeded}) into a new store.")
    st.session_state["_startup_done"] = True


def render_sidebar() -> None:
    """Who is using the app (single-user mode, or the signed-in user, role and Sign out), then
    the store in use and the engine version, at the foot of the sidebar."""
    with st.sidebar:
        signin.sidebar_user()
        st.caption(f"Store: `{state.store_location()}`")
        st.caption(f"Engine version {__version__}")
