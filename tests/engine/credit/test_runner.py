"""The stress runner: response shape, comparison with base, isolation of failures, cache."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

import engine.credit._runner as runner
from engine.canonical import canonical_json
from engine.credit import (
    CHUNK_SIZE,
    AnalysisRequest,
    MemoryCache,
    ScenarioSpec,
    StressTestRequest,
    run_stress_test,
)
from engine.credit._runner import _ScenarioAccumulator, chunk_bounds
from engine.credit._scenarios import builtin_scenarios
from engine.errors import InputError, ScenarioError

from .conftest import make_pool

ANALYSIS = date(2026, 1, 31)


def request(names=("all",), **kw) -> StressTestRequest:
    return StressTestRequest(
        request=AnalysisRequest(analysis_date=ANALYSIS, discount_rate=0.06),
        scenario_names=list(names), **kw)


@pytest.fixture()
def pool():
    return make_pool(
        asset_id=["A", "B", "C", "D"],
        balance=[100_000.0, 50_000.0, 20_000.0, 5_000.0],
        rate=[0.06, 0.08, 0.12, 0.10],
        term=[360, 60, 36, 24], age=[12, 6, 3, 20],
        rate_type=["fixed", "floating", "fixed", "fixed"],
        prepayment_speed=[0.08, 0.15, 0.2, 0.1],
        default_probability=[0.01, 0.03, 0.06, 0.1],
        recovery_rate=[0.6, 0.3, 0.1, 0.5],
        status=["performing", "performing", "delinquent", "default"],
    )


def test_response_has_every_required_key_and_compares_with_base(pool):
    result = run_stress_test(request(), pool=pool, cache=None)
    resp = json.loads(result.response_json())
    assert list(resp)[0] == "base" and len(resp) == len(builtin_scenarios())
    for key, entry in resp.items():
        assert {"pool_name", "analysis_date", "status", "execution_time", "metrics",
                "analytics", "cache_hit"} <= set(entry)
        assert entry["status"] == "success"
        assert {"npv", "irr", "total_principal", "total_interest", "duration",
                "weighted_average_life", "npv_change", "npv_change_percent"} <= set(entry["metrics"])
        assert set(entry["analytics"]["scenario"]) == {"name", "description", "market_factors"}
        m = entry["metrics"]
        assert m["npv_change"] == pytest.approx(m["npv"] - resp["base"]["metrics"]["npv"])
    report = resp["base"]["analytics"]["stress_test_report"]
    assert report["scenarios_count"] == len(builtin_scenarios())
    assert report["scenarios_failed"] == 0
    assert resp["base"]["metrics"]["npv_change"] == 0.0
    assert resp["credit_crisis"]["metrics"]["total_loss"] > resp["base"]["metrics"]["total_loss"]
    assert resp["credit_crisis"]["metrics"]["npv_change"] < 0


def test_discount_yield_adds_every_rate_factor(pool):
    custom = {"wide": ScenarioSpec(name="Wide", market_factors={
        "interest_rate_shock": 0.01, "discount_rate_shock": 0.02, "spread_widening": 0.03})}
    result = run_stress_test(request(["base"], custom_scenarios=custom), pool=pool, cache=None)
    assert result.scenarios["wide"].metrics["discount_yield"] == pytest.approx(0.06 + 0.06)


def test_a_failing_scenario_is_reported_while_the_others_complete(pool, monkeypatch):
    real = runner.project

    def flaky(loans, *, factors, **kw):
        if factors.default_multiplier == 3.0:  # credit_crisis
            raise FloatingPointError("boom")
        return real(loans, factors=factors, **kw)

    monkeypatch.setattr(runner, "project", flaky)
    result = run_stress_test(request(), pool=pool, cache=None)
    assert result.scenarios["credit_crisis"].status == "error"
    assert "boom" in result.scenarios["credit_crisis"].error
    others = [r for k, r in result.scenarios.items() if k != "credit_crisis"]
    assert all(r.status == "success" for r in others)
    report = result.response()["base"]["analytics"]["stress_test_report"]
    assert report["scenarios_failed"] == 1
    assert report["scenarios_success"] == len(builtin_scenarios()) - 1


def test_second_run_hits_the_cache_with_identical_numbers(pool):
    cache = MemoryCache()
    first = run_stress_test(request(), pool=pool, cache=cache)
    second = run_stress_test(request(), pool=pool, cache=cache)
    assert not any(r.cache_hit for r in first.scenarios.values())
    assert all(r.cache_hit for r in second.scenarios.values())
    for k in first.scenarios:
        assert second.scenarios[k].metrics == first.scenarios[k].metrics
    changed = run_stress_test(
        StressTestRequest(request=AnalysisRequest(analysis_date=ANALYSIS, discount_rate=0.07),
                          scenario_names=["all"]), pool=pool, cache=cache)
    assert not any(r.cache_hit for r in changed.scenarios.values())


def test_parallel_and_serial_runs_agree(pool):
    par = run_stress_test(request(max_workers=4), pool=pool, cache=None)
    ser = run_stress_test(request(run_parallel=False), pool=pool, cache=None)
    for k in par.scenarios:
        np.testing.assert_array_equal(par.scenarios[k].cashflows.to_numpy(dtype=float),
                                      ser.scenarios[k].cashflows.to_numpy(dtype=float))


_TIMING_KEYS = {"execution_time", "execution_time_total", "cache_hit"}


def _without_timings(obj):
    """The response with every clock reading and cache flag removed (they differ run to run)."""
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if k not in _TIMING_KEYS}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def test_chunks_depend_on_the_pool_size_only():
    assert chunk_bounds(0) == [(0, 0)]
    assert chunk_bounds(120_000) == [(0, 50_000), (50_000, 100_000), (100_000, 120_000)]
    assert chunk_bounds(7, size=3) == [(0, 3), (3, 6), (6, 7)]


def test_300k_loans_give_bit_identical_results_for_1_2_and_4_workers(pool_300k):
    assert pool_300k.n_assets == 6 * CHUNK_SIZE  # several chunks per scenario
    texts = {}
    for workers in (1, 2, 4):
        req = StressTestRequest(
            request=AnalysisRequest(analysis_date=ANALYSIS, discount_rate=0.06,
                                    include_cashflows=True),
            scenario_names=["base", "credit_crisis", "housing_boom"], max_workers=workers)
        result = run_stress_test(req, pool=pool_300k, cache=None)
        assert all(r.status == "success" for r in result.scenarios.values())
        texts[workers] = canonical_json(_without_timings(result.response()))
    assert '"cashflows":[' in texts[1]  # the monthly tables are compared too
    assert texts[1] == texts[2] == texts[4]  # bit for bit, not approximately


def test_accumulator_sums_chunks_in_chunk_order_whatever_the_arrival_order():
    parts = [np.array([[1e16]]), np.array([[1.0]]), np.array([[-1e16]]), np.array([[1.0]])]
    # in chunk order: ((1e16 + 1) - 1e16) + 1 = 1 (the first 1 is lost to rounding)
    for arrival in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]):
        acc = _ScenarioAccumulator(4)
        done = [acc.add_part(i, parts[i], None) for i in arrival]
        assert done == [False, False, False, True]
        total, loans = acc.result()
        assert total[0, 0] == 1.0 and loans is None


def test_accumulator_keeps_the_lowest_failing_chunks_message():
    acc = _ScenarioAccumulator(3)
    acc.fail(2, "late")
    acc.add_part(1, np.zeros((1, 1)), None)
    assert not acc.finished
    assert acc.fail(0, "early")
    assert acc.error == "early"
    with pytest.raises(RuntimeError):
        acc.result()


def test_cancel_marks_unfinished_scenarios_as_errors(pool):
    import threading

    ev = threading.Event()
    ev.set()
    result = run_stress_test(request(), pool=pool, cache=None, cancel=ev)
    assert {r.status for r in result.scenarios.values()} == {"error"}
    assert "cancelled" in result.scenarios["base"].error


def test_unknown_scenario_and_bad_custom_factor_are_input_errors(pool):
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        run_stress_test(request(["nope"]), pool=pool)
    bad = {"x": ScenarioSpec(name="X", market_factors={"spread_widening": 0.5})}
    with pytest.raises(ScenarioError, match=r"spread_widening .* 0 … 0.2"):
        run_stress_test(request(["base"], custom_scenarios=bad), pool=pool)
    with pytest.raises(InputError, match="no pool"):
        run_stress_test(request(["base"]))


@pytest.mark.parametrize("key", ["base", "Base", " base ", "credit-crisis", "all"])
def test_a_custom_key_never_stands_in_for_a_built_in_scenario(pool, key):
    shadow = {key: ScenarioSpec(name="Boom", market_factors={"default_multiplier": 0.5})}
    with pytest.raises(ScenarioError, match="would shadow a built-in key"):
        run_stress_test(request(["base", "credit_crisis"], custom_scenarios=shadow), pool=pool)


def test_a_custom_factor_must_be_a_number_not_true(pool):
    spec = {"x": ScenarioSpec(name="X", market_factors={"default_multiplier": True})}
    with pytest.raises(ScenarioError, match="default_multiplier"):
        run_stress_test(request(["base"], custom_scenarios=spec), pool=pool)


def test_loan_level_results_sum_to_the_pool(pool):
    result = run_stress_test(request(["base", "credit_crisis"], include_loan_level=True),
                             pool=pool, cache=None)
    for key, r in result.scenarios.items():
        ll = r.loan_level
        assert len(ll) == 4
        assert ll["total_loss"].sum() == pytest.approx(r.metrics["total_loss"])
        assert ll["npv"].sum() == pytest.approx(r.metrics["npv"], rel=1e-12)
        assert ll.set_index("asset_id").loc["D", "cumulative_default_probability"] == 1.0


def test_a_json_pool_in_the_request_runs_through_ingest():
    from engine.credit import Asset, Pool

    pool = Pool(pool_id="p", pool_name="P", assets=[
        Asset(asset_id="a", asset_class="auto_loan", balance=10_000, rate=0.05, term=60, age=0,
              prepayment_speed=0.0, default_probability=0.0, recovery_rate=0.5, recovery_lag=3)])
    req = StressTestRequest(request=AnalysisRequest(pool=pool, analysis_date=ANALYSIS,
                                                    discount_rate=0.05), scenario_names=["base"])
    result = run_stress_test(req, cache=None)
    assert result.scenarios["base"].metrics["npv"] == pytest.approx(10_000.0, rel=1e-9)
    assert result.scenarios["base"].metrics["irr"] == pytest.approx(0.05, abs=1e-10)
