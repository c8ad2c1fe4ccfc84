"""Scenarios as monthly paths: the hold rule, strict JSON, and the kernels month by month."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.credit import MarketFactors, PREDEFINED_SCENARIOS, loan_paths, monthly_rate, project
from engine.credit._cashflows import LOAN_FIELDS, POOL_FIELDS, discount_factors, horizon_of
from engine.credit._scenarios import (
    FACTOR_RANGES,
    MAX_PATH_STEPS,
    fed_scenarios,
    make_scenario,
    monthly_factors,
    parse_custom_scenarios,
)
from engine.credit._views import scenarios_from_json, scenarios_to_json
from engine.errors import ScenarioError, ValidationError

from .conftest import arrays, synthetic_pool

F = {name: i for i, name in enumerate(POOL_FIELDS)}
L = {name: i for i, name in enumerate(LOAN_FIELDS)}


def run(loans, factors, *, y=0.05, periods=None, loan_level=False):
    h, t = horizon_of(loans, periods)
    return project(loans, factors=factors, discount=discount_factors(y, t), horizon=h,
                   n_periods=t, loan_level=loan_level)


def as_path(factors: MarketFactors, *, step_months: int = 1, steps: int = 1) -> MarketFactors:
    """The same factors written as a path whose every step is the constant value."""
    return MarketFactors(path={"step_months": step_months,
                               "factors": {k: [v] * steps for k, v in factors.constant().items()}})


# --------------------------------------------------------------------------- the rule

def test_a_quarterly_path_holds_each_quarter_for_three_months_then_its_last_value():
    f = MarketFactors(path={"step_months": 3, "factors": {"default_multiplier": [1.0, 2.0]}})
    m = monthly_factors(f, 8)
    assert m["default_multiplier"].tolist() == [1, 1, 1, 2, 2, 2, 2, 2]
    assert monthly_factors(f, 2)["default_multiplier"].tolist() == [1, 1]
    assert m["interest_rate_shock"].tolist() == [0.0] * 8  # a factor without a path: constant
    assert f.default_multiplier == 2.0  # the headline: the path's most severe step


def test_headlines_are_the_most_severe_step_of_each_factor():
    f = MarketFactors(path={"factors": {"default_multiplier": [0.8, 1.3, 1.1],
                                        "recovery_multiplier": [1.2, 0.7, 0.9],
                                        "interest_rate_shock": [0.01, -0.03, 0.02]}})
    assert (f.default_multiplier, f.recovery_multiplier, f.interest_rate_shock) == (1.3, 0.7, -0.03)


def test_constant_scenarios_dump_exactly_the_six_factors():
    dump = PREDEFINED_SCENARIOS["credit_crisis"].market_factors.model_dump()
    assert list(dump) == list(FACTOR_RANGES)


def test_a_path_survives_the_json_round_trip_bit_for_bit():
    sc = fed_scenarios()["fed_2025_severely_adverse_path"]
    back = scenarios_from_json(scenarios_to_json({"my_fed_path": sc}))["my_fed_path"]
    assert back.market_factors == sc.market_factors
    for name, arr in monthly_factors(sc, 60).items():
        assert np.array_equal(monthly_factors(back, 60)[name], arr)


@pytest.mark.parametrize(("path", "words"), [
    ({"factors": {"default_multiplier": [1.0, 7.0]}},
     "default_multiplier step 2 (value 7.0): outside its valid range 0.5 … 5"),
    ({"factors": {"default_multiplier": [1.0, True]}},
     "default_multiplier step 2 (value True): must be a number such as 2 or 0.03, not true/false"),
    ({"factors": {"default_multiplier": [1.0, "2"]}}, "not text"),
    ({"factors": {"default_multiplier": [1.0, float("nan")]}}, "outside its valid range"),
    ({"factors": {"default_multiplier": [1.0] * (MAX_PATH_STEPS + 1)}},
     f"default_multiplier holds {MAX_PATH_STEPS + 1} steps; a path holds 1 … {MAX_PATH_STEPS}"),
    ({"factors": {"default_multiplier": []}}, "holds 0 steps"),
    ({"factors": {"rate_shock": [0.01]}}, "unknown market factor 'rate_shock'"),
    ({"factors": {"default_multiplier": 2.0}}, "must be a list of numbers, not float"),
    ({"factors": {}}, "a path names at least one factor"),
    ({"step_months": 0, "factors": {"default_multiplier": [1.0]}}, "greater than or equal to 1"),
    ({"step_months": 3}, 'a path needs "factors"'),
    ({"factors": {"default_multiplier": [1.0]}, "interpolate": True},
     "unknown field 'interpolate'; a path has only step_months and factors"),
])
def test_a_bad_custom_path_is_refused_naming_the_factor_step_value_and_rule(path, words):
    data = {"my_path": {"market_factors": {"path": path}}}
    with pytest.raises(ValidationError) as info:
        parse_custom_scenarios(json.loads(json.dumps(data, allow_nan=True)), subject="paths.json")
    assert words in str(info.value)
    assert "my_path.market_factors.path" in str(info.value)


def test_a_factor_given_both_as_a_number_and_as_a_path_is_refused():
    with pytest.raises(ScenarioError, match="default_multiplier is given both as a number"):
        make_scenario("both", market_factors={"default_multiplier": 3.0,
                                              "path": {"factors": {"default_multiplier": [2.0]}}})


# --------------------------------------------------------------------------- the kernels

@pytest.mark.parametrize("key", ["credit_crisis", "rate_shock_up", "rate_shock_down",
                                 "liquidity_crisis"])
@pytest.mark.parametrize("step_months", [1, 3])
def test_a_constant_path_equals_the_constant_scenario(key, step_months):
    loans = synthetic_pool(3_000, seed=11).frame
    from engine.credit import LoanArrays
    arr = LoanArrays.from_frame(loans, delinquent_cdr={"auto_loan": 0.3})
    const = PREDEFINED_SCENARIOS[key].market_factors
    path = as_path(const, step_months=step_months, steps=5)
    for loan_level, data in ((False, arr.sorted_for_projection()), (True, arr)):
        a, la = run(data, const, loan_level=loan_level)
        b, lb = run(data, path, loan_level=loan_level)
        scale = np.abs(a).max(axis=0)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * scale.max())
        if loan_level:
            np.testing.assert_allclose(lb, la, rtol=1e-12, atol=1e-12 * np.abs(la).max())


def test_one_zero_coupon_loan_under_a_default_path_of_1_then_2_by_hand():
    # MDR 10 % (CDR 1 - 0.9**12); 1,000 over 2 months at 0 %, no prepayment, recovery 40 %.
    # Month 1: default 100, performing 900, principal 900 / 2 = 450, balance 450.
    # Month 2 at twice the MDR (20 %): default 90, performing 360, all of it paid.
    loans = arrays(balance=[1000.0], rate=[0.0], term=[2], default_probability=[1 - 0.9 ** 12],
                   recovery_lag=[0])
    f = MarketFactors(path={"factors": {"default_multiplier": [1.0, 2.0]}})
    for loan_level in (False, True):
        pool, per_loan = run(loans, f, loan_level=loan_level)
        np.testing.assert_allclose(pool[:2, F["default_amount"]], [100.0, 90.0], rtol=1e-12)
        np.testing.assert_allclose(pool[:2, F["scheduled_principal"]], [450.0, 360.0], rtol=1e-12)
        np.testing.assert_allclose(pool[:2, F["recovery"]], [40.0, 36.0], rtol=1e-12)
        np.testing.assert_allclose(pool[:2, F["loss"]], [60.0, 54.0], rtol=1e-12)
        if loan_level:
            row = per_loan[0]
            assert row[L["total_default"]] == pytest.approx(190.0, rel=1e-12)
            assert row[L["cumulative_default_probability"]] == pytest.approx(1 - 0.9 * 0.8,
                                                                             rel=1e-12)
    drill = loan_paths(loans, factors=f, horizon=2)
    np.testing.assert_allclose(drill["balance"][0], [450.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(drill["cumulative_default"][0], [100.0, 190.0], rtol=1e-12)
    np.testing.assert_allclose(drill["cumulative_default_probability"][0], [0.1, 0.28], rtol=1e-12)


def test_a_floating_loan_re_amortizes_at_the_month_s_coupon_by_hand():
    # 1,000 floating at 12 % over 2 months; the path moves the rate by 0 then +12 pp.
    # Month 1 at 1 %: payment 1000 * 0.01 / (1 - 1.01**-2) = 507.5124..., interest 10,
    # principal 497.5124..., balance 502.4875... Month 2 at 2 %: interest 10.0497...,
    # principal the whole balance.
    loans = arrays(balance=[1000.0], rate=[0.12], term=[2], rate_type=["floating"])
    f = MarketFactors(path={"factors": {"interest_rate_shock": [0.0, 0.10]}})
    pay1 = 1000 * 0.01 / (1 - 1.01 ** -2)
    bal1 = 1000 - (pay1 - 10.0)
    for data, loan_level in ((loans, False), (loans, True)):
        pool, _ = run(data, f, loan_level=loan_level)
        np.testing.assert_allclose(pool[:2, F["interest"]], [10.0, bal1 * 0.22 / 12], rtol=1e-12)
        np.testing.assert_allclose(pool[:2, F["scheduled_principal"]], [pay1 - 10.0, bal1],
                                   rtol=1e-12)


def test_the_pool_kernel_and_the_loan_level_recursion_agree_on_the_fed_path():
    from engine.credit import LoanArrays
    pool = synthetic_pool(20_000, seed=5)
    arr = LoanArrays.from_frame(pool.frame, delinquent_cdr={"sme_loan": 0.2})
    f = fed_scenarios()["fed_2025_severely_adverse_path"].market_factors
    fast, _ = run(arr.sorted_for_projection(), f)
    slow, per_loan = run(arr, f, loan_level=True)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10 * np.abs(slow).max())
    assert per_loan[:, L["total_default"]].sum() == pytest.approx(slow[:, F["default_amount"]].sum(),
                                                                  rel=1e-12)


def test_loan_paths_follow_the_kernel_under_a_path():
    pool = synthetic_pool(500, seed=3)
    from engine.credit import LoanArrays
    arr = LoanArrays.from_frame(pool.frame)
    f = fed_scenarios()["fed_2025_severely_adverse_path"].market_factors
    h, _ = horizon_of(arr, None)
    drill = loan_paths(arr, factors=f, horizon=h)
    _, per_loan = run(arr, f, loan_level=True)
    np.testing.assert_allclose(drill["cumulative_default"][:, -1], per_loan[:, L["total_default"]],
                               rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(drill["cumulative_loss"][:, -1], per_loan[:, L["total_loss"]],
                               rtol=1e-10, atol=1e-6)
    live = arr.balance > 0  # paid-off loans: the kernel reports no probability, as without a path
    np.testing.assert_allclose(drill["cumulative_default_probability"][live, -1],
                               per_loan[live, L["cumulative_default_probability"]], atol=1e-12)


def test_the_path_stresses_less_than_its_peak_held_throughout():
    # Same pool, Fed severely adverse: the peak holds the worst quarter for the whole run-off,
    # the path only while the Board's scenario is there, so it defaults less.
    from engine.credit import LoanArrays
    arr = LoanArrays.from_frame(synthetic_pool(2_000, seed=8).frame).sorted_for_projection()
    fed = fed_scenarios()
    peak, _ = run(arr, fed["fed_2025_severely_adverse"].market_factors)
    path, _ = run(arr, fed["fed_2025_severely_adverse_path"].market_factors)
    base, _ = run(arr, MarketFactors())
    assert base[:, F["default_amount"]].sum() < path[:, F["default_amount"]].sum() < peak[:, F["default_amount"]].sum()
    assert monthly_rate(np.array([0.0]))[0] == 0.0


# --------------------------------------------------------------------------- discounting

def test_a_rate_path_discounts_month_by_month_by_hand():
    # interest_rate_shock path [0, 0.02], one-month steps: s_1 = 0, s_k = 0.02 for k >= 2 (the
    # last step held). Month k (row k - 1) is discounted at
    #   flat 6 %:      v_k = prod_{i<=k} 1 / (1 + (0.06 + s_i)/12) = 1.005^-1 (1 + 0.08/12)^-(k-1)
    #   curve, 3 % cc: v_k = P(t_k) exp(-sum_{i<=k} s_i / 12) = exp(-0.03 k/12 - 0.02 (k-1)/12)
    from engine.credit._curve import ZeroCurve
    from engine.credit._runner import scenario_discount

    sc = make_scenario("path", market_factors={
        "path": {"step_months": 1, "factors": {"interest_rate_shock": [0.0, 0.02]}}})
    flat = scenario_discount(sc, discount_rate=0.06, n_periods=4)
    assert flat.flat_yield is None
    np.testing.assert_allclose(flat.factors, [1 / 1.005, 1 / (1.005 * (1 + 0.08 / 12)),
                                              1 / (1.005 * (1 + 0.08 / 12) ** 2),
                                              1 / (1.005 * (1 + 0.08 / 12) ** 3)], rtol=1e-14)
    curve = ZeroCurve.from_zero_rates(np.array([0.5, 1.0, 30.0]), np.array([0.03] * 3))
    on_curve = scenario_discount(sc, discount_rate=0.06, n_periods=4, curve=curve)
    k = np.arange(1, 5)
    np.testing.assert_allclose(on_curve.factors, np.exp(-0.03 * k / 12 - 0.02 * (k - 1) / 12),
                               rtol=1e-14)
    # a run of a fixed-rate loan (the shock moves floating coupons only) shows these factors
    from datetime import date

    from engine.credit import AnalysisRequest, StressTestRequest, run_stress_test
    from engine.credit._scenarios import builtin_scenarios

    from .conftest import make_pool
    pool = make_pool(balance=[1000.0], rate=[0.06], term=[4])
    req = StressTestRequest(request=AnalysisRequest(analysis_date=date(2014, 6, 30),
                                                    discount_rate=0.06),
                            scenario_names=["path"])
    res = run_stress_test(req, pool=pool, cache=None,
                          library={**builtin_scenarios(), "path": sc}).scenarios["path"]
    table = res.cashflows
    np.testing.assert_allclose(table["discount_factor"].to_numpy()[:4], flat.factors, rtol=1e-14)
    assert res.metrics["npv"] == pytest.approx(
        float((table["total_cashflow"] * table["discount_factor"]).sum()), rel=1e-14)
