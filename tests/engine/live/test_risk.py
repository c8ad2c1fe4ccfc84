"""The risk score and its components, limit breaches, trading states and the pre-trade check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.live import (
    COMPONENTS,
    WEIGHTS,
    Book,
    Breach,
    CircuitBreaker,
    RiskScoreConfig,
    TradingState,
    assess_risk,
    check_trade,
    circuit_breaker_state,
    limit_breaches,
    risk_components,
    risk_level,
    risk_score,
)

from .conftest import accounts, run


def two_positions() -> Book:
    """Capital 100,000; 600 X and 200 Y bought at 100 and marked at 100: values 60,000 and
    20,000, no P&L."""
    return run(Book(accounts(100_000.0), instruments=["X", "Y"]), [
        ("price", "2024-01-02T09:00", "X", 100.0), ("price", "2024-01-02T09:00", "Y", 100.0),
        ("trade", "2024-01-02T10:00", "X", 600.0, 100.0, 0.0),
        ("trade", "2024-01-02T10:00", "Y", 200.0, 100.0, 0.0),
    ])


def test_components_and_score_by_hand():
    """position 100 x 60,000 / 100,000 = 60; leverage 100 x (80,000 / 100,000) / 30 = 8/3;
    concentration 100 x (0.75^2 + 0.25^2) = 62.5; correlation 100 x 0.4 = 40; liquidity
    100 x (60,000 / (0.1 x 50,000,000)) / 1 day = 1.2; pl 0 (no loss, no drawdown).
    score = (25 x 60 + 20 x 8/3 + 15 x 62.5 + 10 x 40 + 10 x 1.2 + 20 x 0) / 100 = 29.0283…"""
    book = two_positions()
    acc = book.accounts.accounts[0]
    comps = risk_components(book.snapshot(0), values=book.values(0), instruments=book.instruments,
                            limits=acc.limits, correlation=0.4)
    assert comps == pytest.approx({"position": 60.0, "leverage": 800 / 300,
                                   "concentration": 62.5, "correlation": 40.0,
                                   "liquidity": 1.2, "pl": 0.0}, rel=1e-12)
    score = risk_score(comps)
    assert score == pytest.approx((1500 + 20 * 8 / 3 + 937.5 + 400 + 12) / 100, rel=1e-12)
    assert risk_level(score) == "medium"


def test_the_pl_component_takes_the_worse_of_daily_loss_and_drawdown():
    """A fall of X from 100 to 99 loses 600 today: 600 / 1,000 = 60 % of the daily limit; the
    drawdown from the initial capital, 600 / 5,000 = 12 %: the component is 60."""
    book = run(two_positions(), [("price", "2024-01-02T11:00", "X", 99.0)])
    acc = book.accounts.accounts[0]
    comps = risk_components(book.snapshot(0), values=book.values(0), instruments=book.instruments,
                            limits=acc.limits, correlation=None)
    assert comps["pl"] == pytest.approx(60.0)
    assert comps["correlation"] == 0.0  # not measurable: scored 0, as stated


def test_liquidity_uses_the_adv_given():
    book = two_positions()
    acc = book.accounts.accounts[0]
    cfg = RiskScoreConfig(adv={"Y": 100_000.0}, participation_rate=0.1, max_liquidation_days=5.0)
    comps = risk_components(book.snapshot(0), values=book.values(0), instruments=book.instruments,
                            limits=acc.limits, correlation=0.0, config=cfg)
    # Y: 20,000 / (0.1 x 100,000) = 2 days; 2 / 5 = 40 %
    assert comps["liquidity"] == pytest.approx(40.0)


@pytest.mark.parametrize(("score", "level"), [(0.0, "low"), (24.999, "low"), (25.0, "medium"),
                                              (49.99, "medium"), (50.0, "high"), (74.9, "high"),
                                              (75.0, "critical"), (100.0, "critical")])
def test_risk_level_thresholds(score, level):
    assert risk_level(score) == level


def test_weights_are_the_briefs():
    assert WEIGHTS == {"position": 0.25, "leverage": 0.20, "concentration": 0.15,
                       "correlation": 0.10, "liquidity": 0.10, "pl": 0.20}


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(0.0, 100.0), min_size=6, max_size=6))
def test_the_score_is_the_weighted_sum_and_stays_in_0_100(values):
    comps = dict(zip(COMPONENTS, values))
    score = risk_score(comps)
    assert 0.0 <= score <= 100.0
    assert score == pytest.approx(sum(WEIGHTS[k] * comps[k] for k in COMPONENTS), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-2_000, 2_000), min_size=3, max_size=3),
       st.lists(st.integers(1, 400), min_size=3, max_size=3),
       st.floats(-1.0, 1.0) | st.none())
def test_every_component_of_any_book_is_in_0_100(quantities, marks, correlation):
    book = Book(accounts(10_000.0), instruments=["A", "B", "C"])
    for i in range(3):
        book.set_price(i, price=100.0, ts=1)
    for i in range(3):
        if quantities[i]:
            book.apply_trade(0, instrument=i, quantity=float(quantities[i]), price=100.0, ts=2)
    for i in range(3):
        book.set_price(i, price=float(marks[i]), ts=3)
    risk = assess_risk(book.snapshot(0), values=book.values(0), instruments=book.instruments,
                       limits=book.accounts.accounts[0].limits, var=None, correlation=correlation)
    assert all(0.0 <= c <= 100.0 for c in risk.risk_components.values())
    assert 0.0 <= risk.risk_score <= 100.0
    assert risk.risk_score == risk_score(risk.risk_components)


def test_limit_breaches_name_the_limit_and_the_value():
    """Capital 1,000, 50 X at 100 (exposure 5,000, leverage 5), then X falls to 75:
    loss 1,250 (daily limit 1,000), equity -250: leverage and margin infinite."""
    book = run(Book(accounts(1_000.0, max_position_size=4_000.0, max_leverage=4.0),
                    instruments=["X"]), [
        ("price", "2024-01-02T09:00", "X", 100.0),
        ("trade", "2024-01-02T10:00", "X", 50.0, 100.0, 0.0),
    ])
    lim = book.accounts.accounts[0].limits
    got = limit_breaches(book.snapshot(0), values=book.values(0), instruments=book.instruments,
                         limits=lim)
    assert got == [Breach(limit="max_position_size", value=5_000.0, threshold=4_000.0,
                          instrument="X"),
                   Breach(limit="max_leverage", value=5.0, threshold=4.0)]
    run(book, [("price", "2024-01-02T11:00", "X", 75.0)])
    got = limit_breaches(book.snapshot(0), values=book.values(0), instruments=book.instruments,
                         limits=lim)
    assert [b.limit for b in got] == ["max_leverage", "max_daily_loss", "margin"]
    assert got[1].value == 1_250.0
    assert math.isinf(got[0].value)


def test_assess_risk_fills_the_panel():
    book = two_positions()
    risk = assess_risk(book.snapshot(0), values=book.values(0), instruments=book.instruments,
                       limits=book.accounts.accounts[0].limits, var=1234.5, correlation=0.4,
                       state=TradingState.REDUCING)
    assert risk.risk_components.keys() == set(COMPONENTS)
    assert (risk.total_exposure, risk.current_leverage, risk.instrument_count) == (80_000.0, 0.8, 2)
    assert risk.margin_utilization == pytest.approx(80_000 * 0.02 / 100_000)
    assert (risk.var_95, risk.correlation_risk, risk.trading_state) == (1234.5, 0.4, "REDUCING")
    assert risk.risk_limit_breaches == []


# --------------------------------------------------------------------------- trading states

@settings(max_examples=300, deadline=None)
@given(st.floats(-1e9, 1e9, allow_nan=False), st.floats(-1e9, 1e9, allow_nan=False).filter(bool))
def test_halted_rejects_every_trade(position, quantity):
    check = check_trade("HALTED", position=position, quantity=quantity)
    assert not check.accepted and "HALTED" in check.reason


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6).filter(bool))
def test_active_accepts_every_trade_and_reducing_accepts_only_what_reduces(position, quantity):
    """Whole quantities, so that the oracle's arithmetic is exact: a trade reduces when the
    position after it is smaller in size and on the same side (or flat)."""
    assert check_trade(TradingState.ACTIVE, position=position, quantity=quantity).accepted
    after = position + quantity
    reduces = abs(after) < abs(position) and (after == 0 or (after > 0) == (position > 0))
    assert check_trade(TradingState.REDUCING, position=position, quantity=quantity).accepted \
        == reduces


@pytest.mark.parametrize(("position", "quantity", "accepted"), [
    (10.0, -5.0, True),    # sell part of a long
    (10.0, -10.0, True),   # close it
    (10.0, -11.0, False),  # a flip opens a short
    (10.0, 1.0, False),    # adds to the long
    (0.0, 1.0, False),     # opens a flat instrument (Nautilus would allow it)
    (0.0, -1.0, False),
    (-10.0, 10.0, True),   # cover a short
    (-10.0, -1.0, False),
])
def test_reducing_by_hand(position, quantity, accepted):
    check = check_trade("REDUCING", position=position, quantity=quantity)
    assert check.accepted is accepted
    assert (check.reason is None) is accepted


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError):
        check_trade("PAUSED", position=0.0, quantity=1.0)


def test_the_circuit_breaker_is_off_by_default_and_never_lowers_a_state():
    loss = [Breach(limit="max_daily_loss", value=2_000.0, threshold=1_000.0)]
    assert circuit_breaker_state("ACTIVE", breaches=loss, rule=CircuitBreaker()) == "ACTIVE"
    on = CircuitBreaker(enabled=True)
    assert circuit_breaker_state("ACTIVE", breaches=loss, rule=on) == "HALTED"
    assert circuit_breaker_state("ACTIVE", breaches=[], rule=on) == "ACTIVE"
    reduce = CircuitBreaker(enabled=True, action="REDUCING", limits=("max_leverage",))
    lev = [Breach(limit="max_leverage", value=40.0, threshold=30.0)]
    assert circuit_breaker_state("ACTIVE", breaches=lev, rule=reduce) == "REDUCING"
    assert circuit_breaker_state("HALTED", breaches=lev, rule=reduce) == "HALTED"
    assert circuit_breaker_state("ACTIVE", breaches=loss, rule=reduce) == "ACTIVE"


def test_values_and_instruments_line_up():
    book = two_positions()
    np.testing.assert_array_equal(book.values(0), [60_000.0, 20_000.0])
