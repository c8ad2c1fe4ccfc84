"""A cached scenario result is reused only for the very same valuation: every setting that
changes a number changes the cache key (discounting, curve date, spread, residual valuation,
analysis date, a path against its peak held constant)."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np

from engine.credit import AnalysisRequest, StressTestRequest, run_stress_test
from engine.credit._cache import MemoryCache
from engine.credit._runner import prepare_run
from engine.credit._scenarios import builtin_scenarios, make_scenario

from .conftest import make_pool

CUTOFF = date(2013, 6, 30)

#: A path of rate shocks and default multipliers, and the same factors held at their peak
#: (the path's headline values) from month 1.
PATH = make_scenario("path", market_factors={"path": {"step_months": 3, "factors": {
    "interest_rate_shock": [0.0, 0.01, 0.02], "default_multiplier": [1.0, 1.5, 2.0]}}})
PEAK = make_scenario("peak", market_factors={"interest_rate_shock": 0.02,
                                             "default_multiplier": 2.0})
LIBRARY = {**builtin_scenarios(), "path": PATH, "peak": PEAK}

#: Requests that differ in one setting each from the first.
VARIANTS = {
    "flat": {},
    "flat, another rate": {"discount_rate": 0.07},
    "curve": {"discounting": "curve", "curve_date": date(2014, 6, 30)},
    "curve, another date": {"discounting": "curve", "curve_date": date(2020, 3, 31)},
    "curve, a spread": {"discounting": "curve", "curve_date": date(2014, 6, 30),
                        "curve_spread": 0.01},
    "horizon 12, par": {"projection_periods": 12},
    "horizon 12, run-off": {"projection_periods": 12, "residual_valuation": "run_off"},
    "rolled 12 months": {"analysis_date": date(2014, 6, 30)},
}


def pool():
    return dataclasses.replace(
        make_pool(balance=[10_000.0, 5_000.0, 2_000.0], rate=[0.06, 0.04, 0.09],
                  term=[60, 36, 24], age=[0, 6, 2], prepayment_speed=[0.1, 0.05, 0.0],
                  default_probability=[0.03, 0.05, 0.1],
                  rate_type=["fixed", "floating", "fixed"]),
        cutoff_date=CUTOFF)


def request(settings):
    inner = {"analysis_date": CUTOFF, "discount_rate": 0.05, **settings}
    return StressTestRequest(request=AnalysisRequest(**inner),
                             scenario_names=["base", "path", "peak"])


def test_no_cached_result_is_reused_across_valuations():
    p = pool()
    keys = {}
    for name, settings in VARIANTS.items():
        prepared = prepare_run(request(settings), pool=p, library=LIBRARY)
        for k, key in prepared.cache_keys.items():
            keys[(name, k)] = key
    assert len(set(keys.values())) == len(keys) == 3 * len(VARIANTS)  # all different

    shared = MemoryCache()
    for name, settings in VARIANTS.items():  # each run after the others filled the cache
        cached = run_stress_test(request(settings), pool=p, library=LIBRARY, cache=shared)
        fresh = run_stress_test(request(settings), pool=p, library=LIBRARY, cache=None)
        assert not any(r.cache_hit for r in cached.scenarios.values()), name
        for k in ("base", "path", "peak"):
            np.testing.assert_equal(cached.scenarios[k].metrics, fresh.scenarios[k].metrics,
                                    err_msg=f"{name}: {k}")
    assert len(shared) == 3 * len(VARIANTS)
    # the same request again hits, with the same numbers
    again = run_stress_test(request(VARIANTS["curve, a spread"]), pool=p, library=LIBRARY,
                            cache=shared)
    fresh = run_stress_test(request(VARIANTS["curve, a spread"]), pool=p, library=LIBRARY,
                            cache=None)
    assert all(r.cache_hit for r in again.scenarios.values())
    for k in ("base", "path", "peak"):
        np.testing.assert_equal(again.scenarios[k].metrics, fresh.scenarios[k].metrics)
    # the path and its peak give different numbers (so a shared key would show a wrong one)
    assert fresh.scenarios["path"].metrics["npv"] != fresh.scenarios["peak"].metrics["npv"]
