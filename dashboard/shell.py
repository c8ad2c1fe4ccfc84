"""What every page shares: first-start seeding of the store and the sidebar footer."""

from __future__ import annotations

import streamlit as st

from dashboard.state import cursor, store_location
from engine import __version__
from engine.errors import StressLabError
from engine.store.seed import seed_store

__all__ = ["startup", "render_sidebar"]


def startup() -> None:
    """Once per session: make sure the store exists (migrations run on first connect) and, on a
    new store, seed it with the bundled real Lending Club pool so a new user lands on real data."""
    if st.session_state.setdefault("_startup_done", False):
        return
    try:
        seeded = seed_store(cursor())
    except StressLabError as exc:  # a broken bundled file must not take the app down
        st.warning(f"The bundled Lending Club pool could not be loaded: {exc}")
        seeded = None
    if seeded:
        st.toast(f"Loaded the bundled Lending Club pool ({seeded}) into a new store.")
    st.session_state["_startup_done"] = True


def render_sidebar() -> None:
    with st.sidebar:
        st.caption(f"Store: `{store_location()}`")
        st.caption(f"Engine version {__version__}")
