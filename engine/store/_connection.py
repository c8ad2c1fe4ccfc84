"""One DuckDB file shared by the app, any number of commands and the API server.

DuckDB lets one process at a time open a file for writing, and a process that has it open for
reading keeps writers out (DuckDB documentation, "Concurrency"). So no StressLab process holds
the file while idle; every unit of work is a short *session*:

* :meth:`Store.read` takes a shared lock and attaches the file read-only;
* :meth:`Store.write` takes an exclusive lock and attaches it read-write; the caller writes in
  one transaction (:func:`transaction`);
* the session detaches the file and releases the lock when the block ends.

Computation happens outside any session (a stress run reads its pool, computes with the store
released, then writes its results in one short write session), so a reader never waits on a long
computation and a writer waits only for other short sessions.

**The lock.** ``<store>.lock`` beside the file, locked with ``flock(2)``: shared for readers,
exclusive for writers. A session that cannot have it polls (5 ms, doubling to 100 ms) until its
wait runs out (``timeout``, default ``$STRESSLAB_LOCK_TIMEOUT`` or 30 s), then raises
:class:`~engine.errors.StoreBusyError` naming the process that holds the store, its command and
for how long it has held it: each holder writes ``<store>.holders/<pid>.json`` while it holds the
lock. The kernel drops a ``flock`` when its process dies, so a killed holder never leaves the store
locked. Threads of one process share one lock and one attachment: readers together, a writer
alone (a condition variable orders them; a waiting writer goes before new readers).

**Why attach and detach.** Opening a DuckDB database costs about 20 ms here, attaching a file
to a process-wide in-memory DuckDB about 2 ms (read) and 7 ms (write, with the checkpoint on
detach): ``benchmarks/bench_store.py`` measures the cost per command.

Schema changes are numbered migrations (``migrations/NNNN_name.sql``) applied in one write
session the first time a process uses a store.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb

from engine.errors import StoreBusyError, StoreError

__all__ = [
    "DEFAULT_DB_PATH",
    "DEFAULT_LOCK_TIMEOUT",
    "Store",
    "after_commit",
    "applied_migrations",
    "connect",
    "db_path",
    "lock_timeout",
    "store_health",
    "transaction",
]

DEFAULT_DB_PATH = Path(".stresslab") / "stresslab.duckdb"
#: Seconds a session waits for the store before giving up (``$STRESSLAB_LOCK_TIMEOUT``).
DEFAULT_LOCK_TIMEOUT = 30.0
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_POLL_FIRST, _POLL_MAX = 0.005, 0.1


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The store's file: ``path`` if given, else ``$STRESSLAB_DB``, else ``.stresslab/stresslab.duckdb``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("STRESSLAB_DB")
    return Path(env) if env else DEFAULT_DB_PATH


def lock_timeout(timeout: float | None = None) -> float:
    """Seconds to wait for the store: ``timeout`` if given, else ``$STRESSLAB_LOCK_TIMEOUT``, else 30.

    Raises
    ------
    StoreError
        If ``$STRESSLAB_LOCK_TIMEOUT`` is not a non-negative number.
    """
    if timeout is not None:
        return max(0.0, float(timeout))
    env = os.environ.get("STRESSLAB_LOCK_TIMEOUT")
    if not env:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(env)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise StoreError(f"STRESSLAB_LOCK_TIMEOUT={env!r} is not a number of seconds (>= 0)")
    return value


# --------------------------------------------------------------------------- migrations

@functools.lru_cache(maxsize=1)
def _migrations() -> tuple[tuple[int, str, str], ...]:
    """Every migration shipped with the package as (version, name, sql), in version order."""
    found = []
    for entry in resources.files("engine.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise StoreError(f"two migrations share a number: {versions}")
    return tuple(found)


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to the store (0 for a new file)."""
    try:
        row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0] or 0)


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, name, sql in _migrations():
        if version in done:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name]
            )


def connect(
    path: str | os.PathLike[str] | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open a connection of one's own to a store, bringing its schema up to date.

    For tests, tools and ``":memory:"`` stores. It holds the file until closed and takes no
    StressLab lock: the app, the commands and the server use :class:`Store` sessions instead.

    Raises
    ------
    StoreError
        If the file cannot be opened (another process holds it, or it is not a DuckDB file).
    """
    target = str(path) if path == ":memory:" else str(db_path(path))
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.Error as exc:
        raise StoreError(
            f"cannot open the store {target!r}: {exc}. Close the other program using it, "
            "or point STRESSLAB_DB at another file."
        ) from exc
    if not read_only:
        _migrate(con)
    return con


_TX_LOCAL = threading.local()


def _open_transactions() -> dict[int, dict[str, Callable[[], None]]]:
    """This thread's open :func:`transaction` blocks: ``id(con)`` -> its post-commit hooks."""
    open_tx = getattr(_TX_LOCAL, "open", None)
    if open_tx is None:
        open_tx = _TX_LOCAL.open = {}
    return open_tx


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction: everything is stored, or nothing is.

    Hooks registered in the block with :func:`after_commit` run once the transaction has
    committed (in registration order), never after a rollback.
    """
    hooks: dict[str, Callable[[], None]] = {}
    con.execute("BEGIN TRANSACTION")
    _open_transactions()[id(con)] = hooks
    try:
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        _open_transactions().pop(id(con), None)
    for hook in hooks.values():
        hook()


def after_commit(con: duckdb.DuckDBPyConnection, *, key: str, hook: Callable[[], None]) -> bool:
    """Run ``hook`` after the :func:`transaction` open on ``con`` in this thread commits.

    A later hook with the same ``key`` replaces an earlier one (the audit chain writes one
    checkpoint per transaction, of its last head). Nothing runs if the transaction rolls back.

    Returns
    -------
    bool
        False if no :func:`transaction` block is open on ``con`` in this thread (the hook is
        not registered).
    """
    hooks = _open_transactions().get(id(con))
    if hooks is None:
        return False
    hooks[key] = hook
    return True


def applied_migrations(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """The migrations applied to this store, as (version, name), in order."""
    return [tuple(r) for r in con.execute(
        "SELECT version, name FROM schema_migrations ORDER BY version").fetchall()]


# --------------------------------------------------------------------------- sessions

_BASE_LOCK = threading.Lock()
_BASE: duckdb.DuckDBPyConnection | None = None
_STATES: dict[str, "_FileState"] = {}
_MIGRATED: set[tuple[str, int, int]] = set()
_LOCAL = threading.local()


def _base() -> duckdb.DuckDBPyConnection:
    """The process-wide in-memory DuckDB that store files are attached to."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            _BASE = duckdb.connect(":memory:")
        return _BASE


@atexit.register
def _close_base() -> None:
    """Close the process's in-memory DuckDB before the interpreter tears down its objects."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is not None:
            _BASE.close()
            _BASE = None


def _command() -> str:
    text = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))
    return text[:160] or "python"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(eq=False)
class _FileState:
    """What this process knows of one store file: its lock, attachment and sessions."""

    path: Path
    alias: str
    cond: threading.Condition = field(default_factory=threading.Condition)
    readers: int = 0
    writer: int | None = None  # thread ident of the writing session
    writers_waiting: int = 0
    lock_fd: int | None = None
    held_since: float = 0.0

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def holders_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".holders")


def _state(path: Path) -> _FileState:
    key = str(path.resolve())
    with _BASE_LOCK:
        st = _STATES.get(key)
        if st is None:
            alias = "store_" + hashlib.sha1(key.encode()).hexdigest()[:12]
            st = _STATES[key] = _FileState(path=Path(key), alias=alias)
        return st


def _holders(st: _FileState) -> list[dict]:
    """The live processes that hold the store, as their holder files say (writers first)."""
    out = []
    try:
        entries = list(st.holders_dir.iterdir())
    except FileNotFoundError:
        return out
    now = time.time()
    for entry in entries:
        try:
            info = json.loads(entry.read_text(encoding="utf-8"))
            pid = int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid() or not _pid_alive(pid):
            continue
        info["held_for"] = max(0.0, now - float(info.get("since", now)))
        out.append(info)
    out.sort(key=lambda h: (h.get("mode") != "write", -h["held_for"]))
    return out


def _busy(st: _FileState, *, mode: str, waited: float, timeout: float, detail: str = "") -> StoreBusyError:
    holders = _holders(st)
    if holders:
        who = "; ".join(
            f"process {h['pid']} ({h.get('command', '?')}) has held it for "
            f"{'writing' if h.get('mode') == 'write' else 'reading'} for {h['held_for']:.1f} s"
            for h in holders[:3])
    elif detail:
        who = f"a program outside StressLab holds the DuckDB file ({detail})"
    else:
        who = "another session of this process holds it"
    return StoreBusyError(
        f"the store {st.path} is busy: {who}. This {mode} waited {waited:.1f} s "
        f"(STRESSLAB_LOCK_TIMEOUT={timeout:g}); try again when it is done, or wait longer by "
        "raising STRESSLAB_LOCK_TIMEOUT.",
        path=str(st.path), waited=waited, holders=holders)


def _take_file(st: _FileState, *, exclusive: bool, deadline: float, timeout: float,
               started: float) -> None:
    """Lock ``<store>.lock`` (polling until ``deadline``) and attach the store file."""
    mode = "write" if exclusive else "read"
    st.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(st.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    delay = _POLL_FIRST
    try:
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(st, mode=mode, waited=time.monotonic() - started,
                                timeout=timeout) from None
                time.sleep(delay)
                delay = min(delay * 2, _POLL_MAX)
        base = _base().cursor()
        try:
            option = "" if exclusive else " (READ_ONLY)"
            path_sql = str(st.path).replace("'", "''")
            while True:
                try:
                    base.execute(f"ATTACH '{path_sql}' AS {st.alias}{option}")
                    break
                except duckdb.IOException as exc:  # a program outside StressLab has the file
                    if "lock" not in str(exc).lower():
                        raise StoreError(f"cannot open the store {st.path}: {exc}") from exc
                    if time.monotonic() >= deadline:
                        raise _busy(st, mode=mode, waited=time.monotonic() - started,
                                    timeout=timeout, detail=str(exc).split("\n")[0]) from None
                    time.sleep(delay)
                    delay = min(delay * 2, _POLL_MAX)
                except duckdb.Error as exc:
                    raise StoreError(
                        f"cannot open the store {st.path}: {exc}. Point STRESSLAB_DB at a "
                        "StressLab store (a DuckDB file) or at a new file.") from exc
        finally:
            base.close()
    except BaseException:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise
    st.lock_fd = fd
    st.held_since = time.time()
    try:
        st.holders_dir.mkdir(exist_ok=True)
        (st.holders_dir / f"{os.getpid()}.json").write_text(json.dumps(
            {"pid": os.getpid(), "mode": mode, "command": _command(), "since": st.held_since}),
            encoding="utf-8")
    except OSError:  # the holder note is for messages only; the lock is what counts
        pass


def _release_file(st: _FileState) -> None:
    """Detach the store file and drop the lock (the detach checkpoints a written file)."""
    try:
        base = _base().cursor()
        try:
            base.execute(f"DETACH DATABASE IF EXISTS {st.alias}")
        finally:
            base.close()
    finally:
        try:
            (st.holders_dir / f"{os.getpid()}.json").unlink(missing_ok=True)
        except OSError:
            pass
        if st.lock_fd is not None:
            fcntl.flock(st.lock_fd, fcntl.LOCK_UN)
            os.close(st.lock_fd)
            st.lock_fd = None


@contextmanager
def _cursor(st: _FileState, mode: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of this thread on the attached store, registered as its session of ``mode``."""
    cur = _base().cursor()
    try:
        cur.execute(f"USE {st.alias}")
        _sessions()[st.alias] = (mode, cur)
        yield cur
    finally:
        _sessions().pop(st.alias, None)
        cur.close()


def _sessions() -> dict[str, tuple[str, duckdb.DuckDBPyConnection]]:
    sessions = getattr(_LOCAL, "sessions", None)
    if sessions is None:
        sessions = _LOCAL.sessions = {}
    return sessions


class Store:
    """A StressLab store: a DuckDB file opened in short read and write sessions.

    Parameters
    ----------
    path : path-like, optional
        The DuckDB file. Default: see :func:`db_path`.
    timeout : float, optional
        Seconds a session waits for other sessions to finish. Default: see :func:`lock_timeout`.

    Examples
    --------
    >>> store = Store("demo.duckdb")                                     # doctest: +SKIP
    >>> with store.read() as con:                                         # doctest: +SKIP
    ...     con.execute("SELECT count(*) FROM pools").fetchone()
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 timeout: float | None = None) -> None:
        target = db_path(path)
        if str(target) == ":memory:":
            raise StoreError("a Store is a file; use engine.store.connect(':memory:') for a "
                             "throw-away connection")
        self.path = target
        self.timeout = lock_timeout(timeout)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, timeout={self.timeout:g})"

    def _key(self) -> tuple[str, int, int] | None:
        try:
            s = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (str(self.path.resolve()), s.st_ino, s.st_dev)

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only session: a cursor on the store, released when the block ends.

        Raises
        ------
        StoreBusyError
            If a writer held the store for longer than the timeout.
        StoreError
            If the file is not a store.
        """
        key = self._key()
        if key is None:
            with self.write():  # create the file with its schema
                pass
        elif key not in _MIGRATED:
            with self._read_session() as con:
                if _schema_version(con) >= _migrations()[-1][0]:
                    _MIGRATED.add(key)
                    yield con
                    return
            with self.write():  # bring the schema up to date, once per process
                pass
        with self._read_session() as con:
            yield con

    @contextmanager
    def _read_session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        st = _state(self.path)
        held = _sessions().get(st.alias)
        if held is not None:  # nested in this thread's own session: share it
            yield held[1]
            return
        started = time.monotonic()
        deadline = started + self.timeout
        with st.cond:
            while st.writer is not None or st.writers_waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _busy(st, mode="read", waited=time.monotonic() - started,
                                timeout=self.timeout)
                st.cond.wait(remaining)
            if st.readers == 0:
                _take_file(st, exclusive=False, deadline=deadline, timeout=self.timeout,
                           started=started)
            st.readers += 1
        try:
            with _cursor(st, "read") as cur:
                yield cur
        finally:
            with st.cond:
                st.readers -= 1
                if st.readers == 0:
                    _release_file(st)
                st.cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write session: a cursor on the store, the only one until the block ends.

        Write in one :func:`transaction` inside the block. A write session nested in the same
        thread's write session shares it.

        Raises
        ------
        StoreBusyError
            If other sessions held the store for longer than the timeout.
        StoreError
            If the file is not a store, or a write is started inside this thread's read session.
        """
        st = _state(self.path)
        tid = threading.get_ident()
        held = _sessions().get(st.alias)
        if held is not None:
            if held[0] != "write":
                raise StoreError("a write session cannot start inside a read session of the "
                                 "same thread; end the read first")
            yield held[1]
            return
        started = time.monotonic()
        deadline = started + self.timeout
        with st.cond:
            st.writers_waiting += 1
            try:
                while st.writer is not None or st.readers > 0:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise _busy(st, mode="write", waited=time.monotonic() - started,
                                    timeout=self.timeout)
                    st.cond.wait(remaining)
                _take_file(st, exclusive=True, deadline=deadline, timeout=self.timeout,
                           started=started)
                st.writer = tid
            finally:
                st.writers_waiting -= 1
        try:
            with _cursor(st, "write") as cur:
                key = self._key()
                if key not in _MIGRATED:
                    _migrate(cur)
                    _MIGRATED.add(key)
                yield cur
        finally:
            with st.cond:
                st.writer = None
                _release_file(st)
                st.cond.notify_all()


def store_health(*, store: Store | None = None) -> dict[str, object]:
    """Whether ``store`` answers a read session now (for health checks; never raises).

    Returns
    -------
    dict
        ``status`` (``ok``, ``busy`` or ``error``), ``path``, ``schema_version`` (the last
        migration applied), ``latency_ms`` (the read session, ms) and ``error`` (text or None).
    """
    store = store if store is not None else Store()
    t0 = time.perf_counter()
    try:
        with store.read() as con:
            version = _schema_version(con)
    except StoreBusyError as exc:
        return {"status": "busy", "path": str(store.path), "schema_version": None,
                "latency_ms": round(1e3 * (time.perf_counter() - t0), 3), "error": str(exc)}
    except (StoreError, duckdb.Error, OSError) as exc:
        return {"status": "error", "path": str(store.path), "schema_version": None,
                "latency_ms": round(1e3 * (time.perf_counter() - t0), 3), "error": str(exc)}
    return {"status": "ok", "path": str(store.path), "schema_version": version,
            "latency_ms": round(1e3 * (time.perf_counter() - t0), 3), "error": None}
