"""Credit tables: pools, scenarios, the result cache, runs; every write in the caller's one
transaction; numbered migrations."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest
from pydantic import BaseModel

import engine.credit._store as store
from engine.audit.runs import utc_now
from engine.credit import AnalysisRequest, StressTestRequest, make_scenario, run_stress_test
from engine.errors import InputError, NotFoundError
from engine.store import applied_migrations, connect, transaction

from .conftest import make_pool


class Note(BaseModel):
    """A stand-in request (the workflow stores its StressRunRequest)."""

    note: str = "test"


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
    with transaction(con):
        assert store.save_pool(con, pool=pool) is True
    back = store.load_pool(con, pool.pool_id)
    assert back.content_hash() == pool.content_hash()
    assert store.list_pools(con)["pool_id"].tolist() == [pool.pool_id]
    assert store.count_pools(con) == 1
    with transaction(con):
        assert store.save_pool(con, pool=pool) is False  # same content: a no-op


def test_a_different_pool_under_a_taken_id_is_refused_and_nothing_changes(con):
    with transaction(con):
        store.save_pool(con, pool=small_pool())
    other = make_pool("small", asset_id=["Z"], balance=[5.0])
    with pytest.raises(InputError, match="already stored"), transaction(con):
        store.save_pool(con, pool=other)
    assert con.execute("SELECT count(*) FROM assets").fetchone()[0] == 2


def test_a_failed_pool_insert_leaves_nothing_behind(con, monkeypatch):
    pool = small_pool()
    broken = pool.frame.copy()
    broken["term"] = broken["term"].astype("string").fillna("x")
    broken.loc[1, "term"] = "not a number"
    bad = type(pool)(pool_id="bad", pool_name="bad", frame=broken)
    monkeypatch.setattr(type(bad), "content_hash", lambda self: "h")
    with pytest.raises(duckdb.ConversionException, match="not a number"), transaction(con):
        store.save_pool(con, pool=bad)
    assert con.execute("SELECT count(*) FROM pools").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM assets").fetchone()[0] == 0


def test_delete_pool(con):
    with transaction(con):
        store.save_pool(con, pool=small_pool())
    with transaction(con):
        store.delete_pool(con, "small")
    with pytest.raises(NotFoundError):
        store.load_pool(con, "small")
    with pytest.raises(NotFoundError):
        store.delete_pool(con, "small")


def test_custom_scenarios_save_update_delete(con):
    with transaction(con):
        store.save_scenario(con, key="mine",
                            scenario=make_scenario("Mine", market_factors={"default_multiplier": 2}))
        store.save_scenario(con, key=" mine ",
                            scenario=make_scenario("Mine v2", market_factors={"default_multiplier": 3}))
    lib = store.scenario_library(con)
    assert len(lib) == 12 and lib["mine"].name == "Mine v2"  # 11 built-in + "mine"
    assert lib["mine"].market_factors.default_multiplier == 3
    with pytest.raises(InputError, match="built-in"):
        store.save_scenario(con, key="base", scenario=make_scenario("X"))
    with transaction(con):
        store.delete_scenario(con, "mine")
    assert "mine" not in store.scenario_library(con)


def run(pool, **kw):
    req = StressTestRequest(request=AnalysisRequest(analysis_date=date(2026, 1, 1)),
                            scenario_names=["base", "credit_crisis"], **kw)
    return run_stress_test(req, pool=pool, cache=None)


def record(con, result, run_id="credit-test-1"):
    with transaction(con):
        return store.record_run(con, run_id=run_id, request=Note(), result=result,
                                started_at=utc_now())


def test_a_run_is_stored_and_reopened_without_recomputing(con, monkeypatch):
    pool = small_pool()
    result = run(pool, include_loan_level=True)
    run_id = record(con, result)
    assert result.run_id == run_id
    import engine.credit._runner as runner

    monkeypatch.setattr(runner, "project", lambda *a, **k: pytest.fail("recomputed"))
    back = store.load_result(con, run_id)
    assert back.run_id == run_id
    assert (back.n_assets, back.projection_periods, back.discount_rate) == (2, 36, 0.05)
    for k, r in result.scenarios.items():
        assert back.scenarios[k].metrics == pytest.approx(r.metrics)
        assert back.scenarios[k].cashflows["total_cashflow"].sum() == pytest.approx(
            r.cashflows["total_cashflow"].sum())
        assert len(back.scenarios[k].loan_level) == 2
    runs = store.list_runs(con)
    assert runs.loc[0, "worst_scenario"] == "credit_crisis"
    assert runs.loc[0, "npv_change"] == pytest.approx(
        result.scenarios["credit_crisis"].metrics["npv_change"])
    row = con.execute("SELECT kind, status, summary, configuration FROM runs").fetchone()
    pct = result.scenarios["credit_crisis"].metrics["npv_change_percent"]
    assert row[:3] == ("credit", "success",
                       f"Credit Crisis −{abs(pct):.2f} % NPV (worst of 1 scenario)")
    assert row[3] == '{"note":"test"}'


def test_loan_rows_keep_only_the_columns_the_table_has(con):
    result = run(small_pool(), include_loan_level=True)
    assert "status" in result.loan_level_frame().columns  # the runner gives more columns
    run_id = record(con, result)
    stored = con.execute("SELECT * FROM loan_results WHERE run_id = ?", [run_id]).df()
    assert "status" not in stored.columns and len(stored) == 4
    assert sorted(stored["asset_id"].unique()) == ["A", "B"]


def test_a_run_that_fails_while_storing_leaves_no_partial_results(con):
    result = run(small_pool())
    real = con.execute

    class Flaky:
        def __getattr__(self, name):
            return getattr(con, name)

        def execute(self, sql, *a):
            if sql.startswith("INSERT INTO cashflows"):
                raise RuntimeError("disk full")
            return real(sql, *a)

    flaky = Flaky()
    with pytest.raises(RuntimeError, match="disk full"), transaction(flaky):
        store.record_run(flaky, run_id="credit-x", request=Note(), result=result,
                         started_at=utc_now())
    for table in ("runs", "results", "cashflows"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    with transaction(con):
        store.record_failed_run(con, run_id="credit-y", request=Note(), error="disk full",
                                started_at=utc_now())
    assert con.execute("SELECT status, error, summary FROM runs WHERE run_id = 'credit-y'"
                       ).fetchone() == ("error", "disk full", "error: disk full")
    with pytest.raises(NotFoundError, match="no results"):
        store.load_result(con, "credit-y")
    assert store.count_runs(con) == 1


def test_cache_entries_round_trip_and_are_keyed_by_engine_version(con):
    pool_table = np.array([[1.0, 2.0], [3.0, np.nan]])
    with transaction(con):
        store.save_cache_entries(con, {"k1": {"metrics": {"npv": 1.5, "irr": float("nan")},
                                              "pool": pool_table}})
    got = store.cache_entries(con, ["k1", "k2"])
    assert list(got) == ["k1"]
    assert got["k1"]["metrics"]["npv"] == 1.5 and np.isnan(got["k1"]["metrics"]["irr"])
    np.testing.assert_array_equal(got["k1"]["pool"], pool_table)
    con.execute("UPDATE result_cache SET engine_version = 'old'")
    assert store.cache_entries(con, ["k1"]) == {}
    assert store.cache_entries(con, []) == {}


def test_summary_line_names_the_worst_scenario_or_says_what_failed():
    result = run(small_pool())
    assert store.summary_line(result).startswith("Credit Crisis −")
    broken = result.model_copy(update={"scenarios": {
        k: r.model_copy(update={"status": "error", "error": "boom"})
        for k, r in result.scenarios.items()}})
    assert store.summary_line(broken) == "error: boom"
    assert store.run_status(broken) == "error"
