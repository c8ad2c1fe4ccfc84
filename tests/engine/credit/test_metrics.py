"""Valuation metrics against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.credit import irr, pool_metrics
from engine.credit._cashflows import POOL_FIELDS

F = {name: i for i, name in enumerate(POOL_FIELDS)}


def bullet(amount: float, month: int, *, interest: float = 0.0) -> np.ndarray:
    """A pool table with one principal payment in ``month`` (1-based)."""
    pool = np.zeros((month, len(POOL_FIELDS)))
    pool[month - 1, F["scheduled_principal"]] = amount
    pool[month - 1, F["interest"]] = interest
    return pool


def test_single_cashflow_duration_is_its_time_and_convexity_closed_form():
    y = 0.06
    m = pool_metrics(bullet(100.0, 12), starting_balance=100.0, annual_yield=y)
    assert m["npv"] == pytest.approx(100.0 / (1 + y / 12) ** 12)
    assert m["duration"] == pytest.approx(1.0)
    assert m["modified_duration"] == pytest.approx(1.0 / (1 + y / 12))
    # sum t (t + 1/12) PV / (P (1 + y/12)^2) with one cashflow at t = 1
    assert m["convexity"] == pytest.approx(1.0 * (1.0 + 1 / 12) / (1 + y / 12) ** 2)
    assert m["weighted_average_life"] == pytest.approx(1.0)
    # IRR: 100 back after a year for 100 today is 0 %
    assert m["irr"] == pytest.approx(0.0, abs=1e-12)


def test_irr_of_a_level_annuity_priced_at_par_is_its_coupon():
    c = 0.07 / 12
    n = 60
    pay = 1000 * c / (1 - (1 + c) ** -n)
    assert irr(np.full(n, pay), 1000.0) == pytest.approx(0.07, abs=1e-12)


def test_irr_is_negative_when_less_comes_back_than_was_paid():
    assert irr(np.array([0.0, 0.0, 90.0]), 100.0) == pytest.approx(12 * ((100 / 90) ** (-1 / 3) - 1))


def test_irr_is_nan_without_cashflows():
    assert np.isnan(irr(np.zeros(5), 100.0))


def test_wal_weights_principal_not_interest():
    pool = np.zeros((24, len(POOL_FIELDS)))
    pool[11, F["scheduled_principal"]] = 50.0   # t = 1
    pool[23, F["prepayment"]] = 30.0            # t = 2
    pool[23, F["recovery"]] = 20.0              # t = 2
    pool[:, F["interest"]] = 5.0
    m = pool_metrics(pool, starting_balance=100.0, annual_yield=0.05)
    assert m["weighted_average_life"] == pytest.approx((1 * 50 + 2 * 50) / 100)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=120).filter(lambda x: sum(x) > 1),
       st.floats(-0.04, 0.5), st.floats(0.001, 0.2))
def test_npv_falls_as_the_discount_rate_rises(flows, y, dy):
    pool = np.zeros((len(flows), len(POOL_FIELDS)))
    pool[:, F["scheduled_principal"]] = flows
    lo = pool_metrics(pool, starting_balance=1.0, annual_yield=y)["npv"]
    hi = pool_metrics(pool, starting_balance=1.0, annual_yield=y + dy)["npv"]
    assert hi < lo


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=400).filter(lambda x: sum(x) > 1e-3),
       st.floats(0.05, 3.0))
def test_irr_prices_the_cashflows_at_the_given_price(flows, price_ratio):
    """The defining equation: discounting at the IRR gives back the price."""
    cf = np.asarray(flows)
    price = price_ratio * cf.sum()
    y = irr(cf, price)
    k = np.arange(1, cf.size + 1)
    pv = float(np.sum(cf * np.exp(-k * np.log1p(y / 12))))
    assert pv == pytest.approx(price, rel=1e-10)
    # and the yield is positive exactly when more comes back than was paid
    assert (y > 0) == (cf.sum() > price) or abs(cf.sum() - price) <= 1e-9 * price
