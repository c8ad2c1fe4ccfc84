"""Yield-curve discounting: the Treasury bootstrap, flat equivalences, and QuantLib cross-checks."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
import QuantLib as ql

from engine.credit import AnalysisRequest, StressTestRequest, run_stress_test
from engine.credit._cashflows import LoanArrays, discount_factors, horizon_of, project
from engine.credit._curve import (
    TENORS, ZeroCurve, bootstrap, curve_dates, par_yields, source_sha256, treasury_curve,
)
from engine.credit._metrics import pool_metrics
from engine.credit._runner import scenario_discount
from engine.credit._scenarios import make_scenario
from engine.errors import InputError

from .conftest import make_frame, make_pool

BASE = make_scenario("Base")
COUPON_TENORS = [c for c in TENORS if c not in ("BC_1MONTH", "BC_3MONTH")]


def test_a_constant_zero_curve_equals_flat_rate_discounting():
    y = 0.05  # monthly compounded; the same curve continuously compounded: 12 log(1 + y/12)
    z = 12.0 * math.log1p(y / 12.0)
    curve = ZeroCurve.from_zero_rates(np.array([0.5, 30.0]), np.array([z, z]))
    flat = scenario_discount(BASE, discount_rate=y, n_periods=600)
    on_curve = scenario_discount(BASE, discount_rate=0.0, n_periods=600, curve=curve)
    np.testing.assert_allclose(on_curve.factors, flat.factors, rtol=1e-12, atol=0)
    assert flat.flat_yield == y and on_curve.flat_yield is None
    frame = make_frame(balance=[1000.0, 2500.0], rate=[0.07, 0.04], term=[360, 48],
                       prepayment_speed=[0.1, 0.05], default_probability=[0.02, 0.04])
    loans = LoanArrays.from_frame(frame).sorted_for_projection()
    h, n = horizon_of(loans, None)
    pool, _ = project(loans, factors=BASE.market_factors, discount=flat.factors[:n], horizon=h,
                      n_periods=n)
    a = pool_metrics(pool, starting_balance=3500.0, annual_yield=y)
    b = pool_metrics(pool, starting_balance=3500.0, discount=on_curve.factors[:n])
    assert b["npv"] == pytest.approx(a["npv"], rel=1e-12)
    assert b["discount_yield"] == pytest.approx(y, rel=1e-9)  # the flat yield of the same NPV
    assert b["duration"] == pytest.approx(a["duration"], rel=1e-12)  # Fisher–Weil = Macaulay


def test_equal_par_yields_give_the_semi_annual_flat_curve():
    y = 0.04  # every coupon tenor at 4 % bond-equivalent: P(t) = (1 + y/2) ** (-2t) exactly
    curve = bootstrap({c: y for c in COUPON_TENORS})
    np.testing.assert_allclose(curve.discount, (1 + y / 2) ** (-2 * curve.times), rtol=1e-12)
    k = np.arange(1, 601)
    np.testing.assert_allclose(curve.monthly_discount(600), (1 + y / 2) ** (-k / 6), rtol=1e-12)
    # = flat discounting at the monthly compounded equivalent of 4 % semi-annual
    y_m = 12.0 * ((1 + y / 2) ** (1 / 6) - 1)
    np.testing.assert_allclose(curve.monthly_discount(600), discount_factors(y_m, 600),
                               rtol=1e-12)


def test_the_bootstrapped_curve_reprices_every_par_bond_to_par():
    used, par = par_yields(date(2014, 6, 27))
    curve = treasury_curve(used)
    years = {c: TENORS[c] for c in COUPON_TENORS}
    for col, tenor in years.items():
        n = int(round(tenor * 2))
        coupon_dates = np.arange(1, n + 1) / 2.0
        p = curve.discount_at(coupon_dates)
        price = par[col] / 2 * p.sum() + p[-1]
        assert price == pytest.approx(1.0, abs=1e-12), col
    for col in ("BC_1MONTH", "BC_3MONTH"):  # bills: simple interest on the bond-equivalent basis
        t = TENORS[col]
        assert curve.discount_at(np.array([t]))[0] * (1 + par[col] * t) == pytest.approx(1.0,
                                                                                      abs=1e-15)


def test_one_curve_date_by_hand():
    # Saturday 2014-06-28 is not in the file: Friday 2014-06-27 is used. Its par yields (percent):
    # 1M 0.02, 3M 0.03, 6M 0.06, 1Y 0.10, 2Y 0.45, 3Y 0.88, 5Y 1.64, 7Y 2.14, 10Y 2.54,
    # 20Y 3.10, 30Y 3.36.
    curve = treasury_curve(date(2014, 6, 28))
    assert curve.curve_date == date(2014, 6, 28) and curve.date_used == date(2014, 6, 27)
    p = dict(zip(np.round(curve.times, 6), curve.discount, strict=True))
    assert p[round(1 / 12, 6)] == pytest.approx(1 / (1 + 0.0002 / 12), abs=1e-15)  # 0.99998333
    assert p[0.25] == pytest.approx(1 / (1 + 0.0003 / 4), abs=1e-15)               # 0.99992501
    assert p[0.5] == pytest.approx(1 / 1.0003, abs=1e-15)                           # 0.99970009
    # 1 year: (1 - 0.0005 * P(0.5)) / 1.0005
    assert p[1.0] == pytest.approx((1 - 0.0005 / 1.0003) / 1.0005, abs=1e-15)
    assert p[1.0] == pytest.approx(0.999000649, abs=1e-9)
    # 1.5 years: par yield halfway between 1Y and 2Y = 0.275 %, coupon 0.1375 %
    assert p[1.5] == pytest.approx((1 - 0.001375 * (p[0.5] + p[1.0])) / 1.001375, abs=1e-15)
    # month 3 sits on the 3M node; month 2 is log-linear between 1M and 3M
    v = curve.monthly_discount(3)
    assert v[2] == pytest.approx(p[0.25], abs=1e-15)
    assert v[1] == pytest.approx(math.sqrt(p[round(1 / 12, 6)] * p[0.25]), abs=1e-15)


def test_zeros_are_read_per_column_and_period():
    used, par = par_yields(date(1990, 1, 2))  # no 1-month bill yet, no 20-year bond then
    assert "BC_1MONTH" not in par and "BC_20YEAR" not in par and par["BC_30YEAR"] == 0.08
    _, par = par_yields(date(2004, 6, 1))      # the 30-year bond was not issued
    assert "BC_30YEAR" not in par and "BC_20YEAR" in par
    curve = treasury_curve(date(2004, 6, 1))   # held flat at the 20-year yield beyond 20 years
    nodes = np.arange(41, 61) / 2.0
    c = par["BC_20YEAR"] / 2
    p = curve.discount_at(np.arange(1, 61) / 2.0)
    np.testing.assert_allclose(c * np.cumsum(p)[40:] + p[40:], 1.0, atol=1e-12)
    assert nodes[-1] == 30.0
    _, par = par_yields(date(2008, 12, 10))    # a real 0.00 % print of the 3-month bill
    assert par["BC_3MONTH"] == 0.0
    assert treasury_curve(date(2008, 12, 10)).discount_at(np.array([0.25]))[0] == 1.0


def test_dates_outside_the_file_are_refused_with_its_range():
    first, last = curve_dates()
    assert (first, last) == (date(1990, 1, 2), date(2022, 3, 11))
    with pytest.raises(InputError, match="outside the Treasury par yield file, 1990-01-02 … "
                                         "2022-03-11"):
        treasury_curve(date(2025, 6, 30))
    with pytest.raises(InputError, match="needs the 6-month yield"):
        bootstrap({"BC_1YEAR": 0.01})


def _ql_curve(curve: ZeroCurve, spread: float):
    today = ql.Date(15, 1, 2020)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Thirty360(ql.Thirty360.BondBasis)  # 15th to 15th: n months are exactly n/12 years
    dates = [today] + [today + ql.Period(int(round(t * 12)), ql.Months) for t in curve.times]
    base = ql.DiscountCurve(dates, [1.0, *curve.discount], dc)  # log-linear discount factors
    base.enableExtrapolation()
    shifted = ql.ZeroSpreadedTermStructure(ql.YieldTermStructureHandle(base),
                                           ql.QuoteHandle(ql.SimpleQuote(spread)),
                                           ql.Continuous, ql.NoFrequency, dc)
    shifted.enableExtrapolation()
    return today, dc, ql.YieldTermStructureHandle(shifted)


@pytest.mark.parametrize("months, rate, spread", [(360, 0.065, 0.01), (480, 0.045, 0.0),
                                                  (60, 0.12, 0.03)])
def test_curve_npv_of_a_level_pay_loan_matches_quantlib(months, rate, spread):
    curve = treasury_curve(date(2007, 6, 29))
    today, dc, handle = _ql_curve(curve, spread)
    schedule = ql.Schedule(today, today + ql.Period(months, ql.Months), ql.Period(ql.Monthly),
                           ql.NullCalendar(), ql.Unadjusted, ql.Unadjusted,
                           ql.DateGeneration.Forward, False)
    notionals = ql.sinkingNotionals(ql.Period(months, ql.Months), ql.Monthly, rate, 100.0)
    bond = ql.AmortizingFixedRateBond(0, notionals, schedule, [rate], dc, ql.Unadjusted)
    bond.setPricingEngine(ql.DiscountingBondEngine(handle))

    loans = LoanArrays.from_frame(make_frame(balance=[100.0], rate=[rate], term=[months]))
    h, n = horizon_of(loans, None)
    disc = scenario_discount(BASE, discount_rate=0.0, n_periods=n, curve=curve, spread=spread)
    pool, _ = project(loans, factors=BASE.market_factors, discount=disc.factors, horizon=h,
                      n_periods=n)
    ours = pool_metrics(pool, starting_balance=100.0, discount=disc.factors)["npv"]
    assert ours == pytest.approx(bond.NPV(), abs=1e-9)


def test_a_scenario_shift_moves_the_zero_rate_in_parallel():
    curve = treasury_curve(date(2019, 12, 31))
    shock = make_scenario("Up", market_factors={"interest_rate_shock": 0.02,
                                                "spread_widening": 0.01})
    base = scenario_discount(BASE, discount_rate=0.0, n_periods=120, curve=curve, spread=0.005)
    up = scenario_discount(shock, discount_rate=0.0, n_periods=120, curve=curve, spread=0.005)
    t = np.arange(1, 121) / 12.0
    np.testing.assert_allclose(up.factors, base.factors * np.exp(-0.03 * t), rtol=1e-14)
    np.testing.assert_allclose(base.factors, curve.monthly_discount(120) * np.exp(-0.005 * t),
                               rtol=1e-14)


def test_a_curve_run_records_its_curve_and_changes_the_npv():
    pool = make_pool(balance=[1000.0, 2000.0], rate=[0.06, 0.05], term=[120, 60])
    flat = run_stress_test(StressTestRequest(request=AnalysisRequest(
        analysis_date=date(2014, 6, 30), discount_rate=0.05)), pool=pool, cache=None)
    curve = run_stress_test(StressTestRequest(request=AnalysisRequest(
        analysis_date=date(2014, 6, 30), discounting="curve", curve_spread=0.01)), pool=pool,
        cache=None)
    v = curve.valuation
    assert v["discounting"] == "curve" and v["curve_date"] == "2014-06-30"
    assert v["curve_date_used"] == "2014-06-30" and v["curve_spread"] == 0.01
    assert v["source_sha256"] == source_sha256() and len(v["source_sha256"]) == 64
    assert flat.valuation["discounting"] == "flat" and flat.valuation["discount_rate"] == 0.05
    assert curve.scenarios["base"].metrics["npv"] != flat.scenarios["base"].metrics["npv"]
    assert curve.inputs_hash != flat.inputs_hash
    assert curve.response()["base"]["valuation"]["curve_date_used"] == "2014-06-30"


def test_real_zero_one_month_prints_are_read_as_zero():
    # 2011-09-29: 1M 0.00 %, 3M 0.02 % (and 2020-03-25: 1M and 3M 0.00 %). The 1-month zero is a
    # yield of zero, not a missing value: P(1/12) = 1 exactly. Read as missing, month 1 would be
    # log-linear towards the 3M node: P(1/12) = (1 + 0.0002/4)^(-1/3) = 0.9999833…
    used, par = par_yields(date(2011, 9, 29))
    assert used == date(2011, 9, 29) and par["BC_1MONTH"] == 0.0 and par["BC_3MONTH"] == 0.0002
    curve = treasury_curve(date(2011, 9, 29))
    assert 1 / 12 in curve.times.tolist()
    v = curve.monthly_discount(3)
    assert v[0] == 1.0
    assert v[2] == pytest.approx(1 / (1 + 0.0002 / 4), abs=1e-15)
    assert v[1] == pytest.approx(math.sqrt(1 / (1 + 0.0002 / 4)), abs=1e-15)
    _, par = par_yields(date(2020, 3, 25))
    assert par["BC_1MONTH"] == 0.0 and par["BC_3MONTH"] == 0.0
    assert treasury_curve(date(2020, 3, 25)).monthly_discount(3).tolist() == [1.0, 1.0, 1.0]


def test_curve_convexity_is_sum_t2_pv_over_npv_by_hand_and_by_a_bump():
    # Two flows on a 3 % continuously compounded curve: 100 at month 6, 1,000 at month 24.
    # Convexity = sum t^2 PV / NPV = (0.25 * 100 e^-0.015 + 4 * 1000 e^-0.06) / NPV, which is
    # also (d2 NPV / ds2) / NPV for a parallel shift s of the zero rate.
    from engine.credit._cashflows import POOL_FIELDS

    table = np.zeros((24, len(POOL_FIELDS)))
    table[5, POOL_FIELDS.index("interest")] = 100.0
    table[23, POOL_FIELDS.index("scheduled_principal")] = 1000.0
    t = np.arange(1, 25) / 12.0

    def npv(s):
        return pool_metrics(table, starting_balance=1000.0,
                            discount=np.exp(-(0.03 + s) * t))["npv"]

    m = pool_metrics(table, starting_balance=1000.0, discount=np.exp(-0.03 * t))
    pv6, pv24 = 100.0 * math.exp(-0.015), 1000.0 * math.exp(-0.06)
    assert m["npv"] == pytest.approx(pv6 + pv24, rel=1e-15)
    assert m["convexity"] == pytest.approx((0.25 * pv6 + 4.0 * pv24) / (pv6 + pv24), rel=1e-14)
    assert m["convexity"] == pytest.approx(3.6449, abs=1e-4)  # 3791.686 / 1040.276
    assert m["duration"] == pytest.approx((0.5 * pv6 + 2.0 * pv24) / (pv6 + pv24), rel=1e-14)
    h = 1e-3
    assert m["convexity"] == pytest.approx((npv(h) - 2 * npv(0.0) + npv(-h)) / h**2 / m["npv"],
                                           rel=1e-6)
    assert m["modified_duration"] == pytest.approx(-(npv(h) - npv(-h)) / (2 * h) / m["npv"],
                                                   rel=1e-6)
