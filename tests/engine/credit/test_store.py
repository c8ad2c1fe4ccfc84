"""Credit tables: pools, scenarios, runs; one transaction per write; numbered migrations."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

import engine.store.credit as store
from engine.credit import AnalysisRequest, StressTestRequest, make_scenario, run_stress_test
from engine.errors import InputError, NotFoundError
from engine.store import applied_migrations, connect
from engine.store.seed import SEED_POOL_ID, seed_store

from ..credit.conftest import make_pool


@pytest.fixture()
def con(tmp_path):
    c = connect(tmp_path / "store.duckdb")
    yield c
    c.close()


def small_pool():
    return make_pool("small", asset_id=["A", "B"], balance=[1000.0, 2000.0], term=[24, 36],
                     default_probability=[0.02, 0.05], prepayment_speed=[0.1, 0.1])


def test_migrations_are_numbered_and_applied_once(tmp_path):
    c = connect(tmp_path / "m.duckdb")
    first = applied_migrations(c)
    c.close()
    c = connect(tmp_path / "m.duckdb")
    assert applied_migrations(c) == first
    versions = [v for v, _ in first]
    assert versions == sorted(versions) and versions[0] == 1


def test_pool_round_trips_through_the_store(con):
    pool = small_pool()
    store.save_pool(con, pool)
    back = store.load_pool(con, pool.pool_id)
    assert back.content_hash() == pool.content_hash()
    assert store.list_pools(con)["pool_id"].tolist() == [pool.pool_id]
    assert store.save_pool(con, pool) == pool.pool_id  # same content: a no-op


def test_a_different_pool_under_a_taken_id_is_refused_and_nothing_changes(con):
    store.save_pool(con, small_pool())
    other = make_pool("small", asset_id=["Z"], balance=[5.0])
    with pytest.raises(InputError, match="already stored"):
        store.save_pool(con, other)
    assert con.execute("SELECT count(*) FROM assets").fetchone()[0] == 2


def test_a_failed_pool_insert_leaves_nothing_behind(con, monkeypatch):
    pool = small_pool()
    broken = pool.frame.copy()
    broken["term"] = broken["term"].astype("string").fillna("x")
    broken.loc[1, "term"] = "not a number"
    bad = type(pool)(pool_id="bad", pool_name="bad", frame=broken)
    monkeypatch.setattr(type(bad), "content_hash", lambda self: "h")
    with pytest.raises(duckdb.ConversionException, match="not a number"):
        store.save_pool(con, bad)
    assert con.execute("SELECT count(*) FROM pools").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM assets").fetchone()[0] == 0


def test_delete_pool(con):
    store.save_pool(con, small_pool())
    store.delete_pool(con, "small")
    with pytest.raises(NotFoundError):
        store.load_pool(con, "small")


def test_custom_scenarios_save_update_delete(con):
    store.save_scenario(con, "mine", make_scenario("Mine", market_factors={"default_multiplier": 2}))
    store.save_scenario(con, "mine", make_scenario("Mine v2", market_factors={"default_multiplier": 3}))
    lib = store.scenario_library(con)
    assert len(lib) == 10 and lib["mine"].name == "Mine v2"
    assert lib["mine"].market_factors.default_multiplier == 3
    with pytest.raises(InputError, match="built-in"):
        store.save_scenario(con, "base", make_scenario("X"))
    store.delete_scenario(con, "mine")
    assert "mine" not in store.scenario_library(con)


def run(pool, **kw):
    req = StressTestRequest(request=AnalysisRequest(analysis_date=date(2026, 1, 1)),
                            scenario_names=["base", "credit_crisis"], **kw)
    return run_stress_test(req, pool=pool, cache=None)


def test_a_run_is_stored_and_reopened_without_recomputing(con, monkeypatch):
    pool = small_pool()
    result = run(pool, include_loan_level=True)
    run_id = store.record_run(con, result, configuration={"note": "test"})
    import engine.credit._runner as runner

    monkeypatch.setattr(runner, "project", lambda *a, **k: pytest.fail("recomputed"))
    back = store.load_run(con, run_id)
    assert back.run_id == run_id
    for k, r in result.scenarios.items():
        assert back.scenarios[k].metrics == pytest.approx(r.metrics)
        assert back.scenarios[k].cashflows["total_cashflow"].sum() == pytest.approx(
            r.cashflows["total_cashflow"].sum())
        assert len(back.scenarios[k].loan_level) == 2
    runs = store.list_runs(con)
    assert runs.loc[0, "worst_scenario"] == "credit_crisis"
    assert runs.loc[0, "npv_change"] == pytest.approx(
        result.scenarios["credit_crisis"].metrics["npv_change"])


def test_a_run_that_fails_while_storing_leaves_no_partial_results(con, monkeypatch):
    result = run(small_pool())
    real = con.execute

    class Flaky:
        def __getattr__(self, name):
            return getattr(con, name)

        def execute(self, sql, *a):
            if sql.startswith("INSERT INTO cashflows"):
                raise RuntimeError("disk full")
            return real(sql, *a)

    with pytest.raises(RuntimeError, match="disk full"):
        store.record_run(Flaky(), result, configuration={})
    for table in ("runs", "results", "cashflows"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    run_id = store.record_failed_run(con, configuration={}, error="disk full")
    assert con.execute("SELECT status, error FROM runs WHERE run_id = ?",
                       [run_id]).fetchone() == ("error", "disk full")
    with pytest.raises(NotFoundError, match="no results"):
        store.load_run(con, run_id)


def test_duckdb_cache_survives_a_new_connection(tmp_path):
    c = connect(tmp_path / "c.duckdb")
    pool = small_pool()
    req = StressTestRequest(request=AnalysisRequest(analysis_date=date(2026, 1, 1)),
                            scenario_names=["all"])
    first = run_stress_test(req, pool=pool, cache=store.DuckDBCache(c))
    c.close()
    c = connect(tmp_path / "c.duckdb")
    second = run_stress_test(req, pool=pool, cache=store.DuckDBCache(c))
    assert all(r.cache_hit for r in second.scenarios.values())
    assert second.scenarios["housing_bust"].metrics == pytest.approx(
        first.scenarios["housing_bust"].metrics)


def test_seeding_stores_the_lending_club_pool_once(con):
    assert seed_store(con) == SEED_POOL_ID
    assert seed_store(con) is None
    pool = store.load_pool(con, SEED_POOL_ID)
    assert pool.n_assets == 10_000
