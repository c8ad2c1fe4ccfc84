"""What every page shares: first-start seeding of the store and the sidebar footer."""

from __future__ import annotations

import streamlit as st

from dashboard.state import cursor, store_location
from engine import __version__

__all__ = ["startup", "render_sidebar"]


def startup() -> None:
    """Once per session: make sure the store exists (migrations run on first connect)."""
    if st.session_state.setdefault("_startup_done", False):
        return
    cursor()
    st.session_state["_startup_done"] = True


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(f"Store: `{store_location()}`")
        st.caption(f"Engine version {__version__}")
