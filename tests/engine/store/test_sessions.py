"""Store sessions: many processes on one file, a bounded wait that names the holder, nothing
held while idle, migrations applied once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from engine.errors import StoreBusyError, StoreError
from engine.store import Store, applied_migrations, lock_timeout, transaction

pytestmark = pytest.mark.xdist_group("store_sessions")

HOLDER = textwrap.dedent("""
    import sys, time
    from engine.store import Store
    store = Store(sys.argv[1])
    with getattr(store, sys.argv[2])() as con:
        con.execute("SELECT 1").fetchone()
        print("holding", flush=True)
        time.sleep(float(sys.argv[3]))
""")


def _hold(path: Path, mode: str, seconds: float) -> subprocess.Popen:
    """Start a process that holds a ``mode`` session on ``path``; returns once it holds it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode, str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "holding", line
    return proc


@pytest.fixture()
def store(tmp_path) -> Store:
    s = Store(tmp_path / "s.duckdb", timeout=5)
    with s.write() as con:
        with transaction(con):
            con.execute("CREATE TABLE t (a INTEGER)")
            con.execute("INSERT INTO t VALUES (1), (2)")
    return s


def test_new_store_is_created_with_every_migration(tmp_path):
    s = Store(tmp_path / "new" / "fresh.duckdb")
    with s.read() as con:
        versions = [v for v, _ in applied_migrations(con)]
    assert versions == list(range(1, len(versions) + 1)) and versions[-1] >= 5
    with s.read() as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert "summary" in con.execute("SELECT * FROM runs LIMIT 0").df().columns


def test_nothing_is_held_between_sessions(store):
    with store.read() as con:
        assert con.execute("SELECT sum(a) FROM t").fetchone()[0] == 3
    # Another program may now open the file read-write: DuckDB would refuse while we held it.
    other = duckdb.connect(str(store.path))
    other.execute("INSERT INTO t VALUES (4)")
    other.close()
    with store.read() as con:
        assert con.execute("SELECT sum(a) FROM t").fetchone()[0] == 7


def test_a_failed_transaction_stores_nothing(store):
    with pytest.raises(RuntimeError):
        with store.write() as con:
            with transaction(con):
                con.execute("INSERT INTO t VALUES (100)")
                raise RuntimeError("boom")
    with store.read() as con:
        assert con.execute("SELECT sum(a) FROM t").fetchone()[0] == 3


def test_readers_in_two_processes_share_the_store(store):
    proc = _hold(store.path, "read", 3)
    try:
        t0 = time.monotonic()
        with store.read() as con:
            assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2
        assert time.monotonic() - t0 < 2.5  # did not wait for the other reader to finish
    finally:
        proc.wait()


def test_a_writer_waits_its_turn_behind_another_process(store):
    proc = _hold(store.path, "write", 1.0)
    try:
        t0 = time.monotonic()
        with store.write() as con:
            con.execute("INSERT INTO t VALUES (3)")
        waited = time.monotonic() - t0
    finally:
        proc.wait()
    assert waited > 0.3  # it really waited for the holder (which held for 1 s) …
    with store.read() as con:  # … and then wrote
        assert con.execute("SELECT sum(a) FROM t").fetchone()[0] == 6


def test_busy_store_names_the_holder_and_how_long(store):
    proc = _hold(store.path, "write", 4)
    try:
        impatient = Store(store.path, timeout=0.3)
        with pytest.raises(StoreBusyError) as info:
            with impatient.read():
                pass
    finally:
        proc.wait()
    exc = info.value
    assert exc.holders and exc.holders[0]["pid"] == proc.pid
    assert exc.holders[0]["mode"] == "write"
    assert f"process {proc.pid}" in str(exc) and "for writing" in str(exc)
    assert "STRESSLAB_LOCK_TIMEOUT" in str(exc)
    assert 0.3 <= exc.waited < 3


def test_holder_note_is_removed_when_the_session_ends(store):
    with store.write():
        notes = list(store.path.with_name(store.path.name + ".holders").iterdir())
        assert [json.loads(n.read_text())["pid"] for n in notes] == [os.getpid()]
    assert list(store.path.with_name(store.path.name + ".holders").iterdir()) == []


def test_threads_of_one_process_take_turns(store):
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(10):
                with store.write() as con:
                    with transaction(con):
                        con.execute("INSERT INTO t VALUES (?)", [i])
                with store.read() as con:
                    con.execute("SELECT count(*) FROM t").fetchone()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2 + 40


def test_in_process_writer_blocks_readers_until_it_ends(store):
    entered = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with store.write():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=writer)
    t.start()
    entered.wait(5)
    impatient = Store(store.path, timeout=0.2)
    with pytest.raises(StoreBusyError):
        with impatient.read():
            pass
    release.set()
    t.join()
    with impatient.read() as con:
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_nested_sessions(store):
    with store.write() as outer:
        with store.write() as inner:
            assert inner is outer
        with store.read() as inner_read:
            assert inner_read is outer
    with store.read():
        with pytest.raises(StoreError, match="inside a read session"):
            with store.write():
                pass


def test_not_a_store(tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("this is not a database")
    with pytest.raises(StoreError, match="cannot open the store"):
        with Store(bad).read():
            pass


def test_lock_timeout_setting(monkeypatch):
    monkeypatch.delenv("STRESSLAB_LOCK_TIMEOUT", raising=False)
    assert lock_timeout() == 30.0
    monkeypatch.setenv("STRESSLAB_LOCK_TIMEOUT", "2.5")
    assert lock_timeout() == 2.5 and Store("x.duckdb").timeout == 2.5
    assert lock_timeout(7) == 7.0
    monkeypatch.setenv("STRESSLAB_LOCK_TIMEOUT", "soon")
    with pytest.raises(StoreError, match="not a number of seconds"):
        lock_timeout()
