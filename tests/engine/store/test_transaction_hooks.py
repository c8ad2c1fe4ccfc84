"""Post-commit hooks of ``engine.store.transaction``: they run after COMMIT, never after a
rollback, once per key (the last registered wins), and only inside a ``transaction`` block."""

from __future__ import annotations

import pytest

from engine.store import transaction
from engine.store._connection import after_commit


def test_hooks_run_after_the_commit_in_order_last_per_key_wins(con):
    seen = []
    con.execute("CREATE TABLE t (a INTEGER)")
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
        assert after_commit(con, key="a", hook=lambda: seen.append(("a", 1)))
        assert after_commit(con, key="b", hook=lambda: seen.append(
            ("b", con.execute("SELECT count(*) FROM t").fetchone()[0])))
        assert after_commit(con, key="a", hook=lambda: seen.append(("a", 2)))
        assert seen == []
    assert seen == [("a", 2), ("b", 1)]


def test_no_hook_runs_after_a_rollback(con):
    seen = []
    with pytest.raises(RuntimeError), transaction(con):
        after_commit(con, key="a", hook=lambda: seen.append("ran"))
        raise RuntimeError("boom")
    with transaction(con):
        pass
    assert seen == []


def test_outside_a_transaction_block_nothing_is_registered(con):
    seen = []
    assert after_commit(con, key="a", hook=lambda: seen.append("ran")) is False
    con.execute("BEGIN TRANSACTION")  # a bare BEGIN is not a transaction() block
    assert after_commit(con, key="a", hook=lambda: seen.append("ran")) is False
    con.execute("COMMIT")
    assert seen == []
