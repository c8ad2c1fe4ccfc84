"""``last_used_at``: written at most once a minute per token, off the request's path.

Writing the time of every use would turn every API read into a store write, and a write session
holds the store alone (:mod:`engine.store`). So :func:`note_use` writes only when the stored time
(read anyway by the authentication) and this process's last write for the token are both older
than :data:`LAST_USED_INTERVAL`, and it hands the write to one background thread of the process:
the request that triggers it does not wait. The thread writes in one short transaction, waiting
its turn like any writer; if the store stays busy or fails, the time is logged as not written
and the next use tries again. So ``last_used_at`` is the time of a use at most a minute (plus any
wait for the store) before the last one, not the last use to the second.

At interpreter exit the thread finishes the writes queued (``concurrent.futures`` joins its
workers before ``atexit`` handlers run, so before the store's connection closes). A process forked
after the thread started gets a thread of its own on its first use.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import duckdb

from engine.auth import _store
from engine.errors import StressLabError
from engine.store import Store, transaction

__all__ = ["LAST_USED_INTERVAL", "flush", "note_use"]

#: The least time between two writes of one token's ``last_used_at``.
LAST_USED_INTERVAL = timedelta(minutes=1)

_LOG = logging.getLogger("engine.auth")
_LOCK = threading.Lock()
#: (store file, token id) -> the use time last handed to the writer by this process.
_NOTED: dict[tuple[str, str], datetime] = {}
_WRITER: tuple[int, ThreadPoolExecutor] | None = None


def _recent(then: datetime | None, now: datetime) -> bool:
    return then is not None and timedelta(0) <= now - then < LAST_USED_INTERVAL


def _writer() -> ThreadPoolExecutor:
    """This process's writer thread (a new one after a fork); call with ``_LOCK`` held."""
    global _WRITER
    if _WRITER is None or _WRITER[0] != os.getpid():
        _WRITER = (os.getpid(), ThreadPoolExecutor(max_workers=1,
                                                   thread_name_prefix="stresslab-token-use"))
        _NOTED.clear()
    return _WRITER[1]


def _write(store: Store, key: tuple[str, str], at: datetime) -> None:
    if not store.path.exists():  # gone since the read (a test's store): never create a new one
        return
    try:
        with store.write() as con, transaction(con):
            _store.touch_last_used(con, token_id=key[1], at=at)
    except (StressLabError, duckdb.Error, OSError) as exc:
        with _LOCK:
            if _NOTED.get(key) == at:
                del _NOTED[key]  # the next use tries again
        _LOG.warning("last_used_at of token %s not written: %s", key[1], exc)


def note_use(store: Store, *, token_id: str, stored: datetime | None, now: datetime) -> bool:
    """Queue the write of ``last_used_at = now`` for a token, unless one is recent.

    Parameters
    ----------
    store : Store
        The store the token is in.
    token_id : str
        The token used.
    stored : datetime or None
        Its ``last_used_at`` as just read (naive UTC).
    now : datetime
        The time of this use (naive UTC).

    Returns
    -------
    bool
        Whether a write was queued.
    """
    if _recent(stored, now):
        return False
    key = (str(store.path.resolve()), token_id)
    with _LOCK:
        writer = _writer()
        if _recent(_NOTED.get(key), now):
            return False
        _NOTED[key] = now
        writer.submit(_write, store, key, now)
    return True


def flush(timeout: float | None = None) -> None:
    """Wait until the ``last_used_at`` writes queued so far are done (tests, shutdown).

    Raises
    ------
    TimeoutError
        If they are not done within ``timeout`` seconds.
    """
    with _LOCK:
        if _WRITER is None or _WRITER[0] != os.getpid():
            return
        done = _WRITER[1].submit(lambda: None)
    done.result(timeout)
