"""Cached store connection and shared page state.

The DuckDB connection is held once per server by ``st.cache_resource`` (never mutated); each
script run takes its own cursor (DuckDB documentation: a connection is not thread-safe, a cursor
per thread is). Engine calls that pages cache live next to the page's components with
``st.cache_data(max_entries=...)``, their inputs passed as arguments.
"""

from __future__ import annotations

import duckdb
import streamlit as st

from engine.store import connect, db_path

__all__ = ["connection", "cursor", "store_location"]


@st.cache_resource(show_spinner=False)
def connection() -> duckdb.DuckDBPyConnection:
    """The app's one read-write connection to the store (migrations applied)."""
    return connect()


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor for this script run: use it for every read and write on the page."""
    return connection().cursor()


def store_location() -> str:
    """The DuckDB file in use, for the sidebar."""
    return str(db_path().resolve())
