"""The app's store and shared page state.

The app holds no connection: every workflow opens a short session on the store and closes it
(see :mod:`engine.store`), so the commands and the API server can use the same file while the
app is open. The app waits for a busy store at most :data:`APP_LOCK_TIMEOUT` seconds (less than
a command would), then says so plainly (:func:`dashboard.app` catches the
:class:`~engine.errors.StoreBusyError`). Engine calls that pages cache live next to the page's
components with ``st.cache_data(max_entries=...)``, their inputs passed as arguments.
"""

from __future__ import annotations

from engine.store import Store, db_path, lock_timeout

__all__ = ["APP_LOCK_TIMEOUT", "BUSY_MESSAGE", "store", "store_location"]

#: The longest a page waits for the store (seconds), unless STRESSLAB_LOCK_TIMEOUT is shorter.
APP_LOCK_TIMEOUT = 10.0

#: What a page says when the store stayed busy (followed by who holds it).
BUSY_MESSAGE = ("The store is busy: another StressLab program is writing to it. Wait a moment "
                "and reload the page; nothing was lost.")


def store() -> Store:
    """The store every page works on (``$STRESSLAB_DB``), with the app's shorter wait."""
    return Store(timeout=min(lock_timeout(), APP_LOCK_TIMEOUT))


def store_location() -> str:
    """The DuckDB file in use, for the sidebar."""
    return str(db_path().resolve())
