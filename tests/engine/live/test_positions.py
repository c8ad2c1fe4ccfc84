"""Positions at average cost, marking, P&L and account ratios, on examples worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.live import (
    Book,
    Fill,
    apply_fill,
    merge_events,
    validate_price_feed,
    validate_trades,
)

from .conftest import accounts, ns, run


@pytest.mark.parametrize(("q", "avg", "t", "price", "fees", "expected"), [
    (0.0, 0.0, 10.0, 100.0, 1.0, Fill(10.0, 100.0, -1.0)),     # open long; the fee is realized
    (10.0, 100.0, 10.0, 110.0, 0.0, Fill(20.0, 105.0, 0.0)),   # add: (10*100 + 10*110) / 20
    (10.0, 100.0, -4.0, 110.0, 0.0, Fill(6.0, 100.0, 40.0)),   # reduce: (110-100)*4*(+1)
    (10.0, 100.0, -10.0, 90.0, 2.0, Fill(0.0, 0.0, -102.0)),   # full close at a loss, fee 2
    (10.0, 100.0, -15.0, 110.0, 0.0, Fill(-5.0, 110.0, 100.0)),  # flip: 5 open short at 110
    (-8.0, 50.0, 3.0, 40.0, 0.0, Fill(-5.0, 50.0, 30.0)),      # cover a short: (40-50)*3*(-1)
    (-8.0, 50.0, 10.0, 60.0, 0.5, Fill(2.0, 60.0, -80.5)),     # short flips long: (60-50)*8*(-1)
    (-8.0, 50.0, -2.0, 45.0, 0.0, Fill(-10.0, 49.0, 0.0)),     # add to a short: (400+90)/10
])
def test_apply_fill_follows_average_cost(q, avg, t, price, fees, expected):
    assert apply_fill(q, avg_cost=avg, trade_quantity=t, price=price, fees=fees) == expected


def test_a_close_that_leaves_float_dust_is_flat():
    q = 0.1 + 0.2  # 0.30000000000000004
    assert apply_fill(q, avg_cost=10.0, trade_quantity=-0.3, price=10.0).quantity == 0.0


def test_a_zero_trade_is_refused():
    with pytest.raises(InputError, match="non-zero"):
        apply_fill(1.0, avg_cost=1.0, trade_quantity=0.0, price=1.0)


def test_three_trades_with_a_reduce_and_a_flip(one_account):
    """Worked by hand (capital 10,000; required margin ratio 0.02):

    ========  ===================  ==============================  ========  =======  ========
    event     trade                realized (net of the fee)       quantity  avg      realized
                                                                                      to date
    ========  ===================  ==============================  ========  =======  ========
    T1        buy 10 @ 100, fee 1  -1 (opening fee)                10        100      -1
    T2        sell 4 @ 110, fee 1  (110 - 100) x 4 x (+1) - 1 = 39  6        100      38
    T3        sell 10 @ 120, fee 2 (120 - 100) x 6 x (+1) - 2 = 118 -4       120      156
    mark 115                       unrealized -4 x (115 - 120) = 20
    ========  ===================  ==============================  ========  =======  ========

    total_pl = 156 + 20 = 176; cash flows: sells 4 x 110 + 10 x 120 = 1,640, buys 1,000,
    fees 4, position -4 x 115 = -460: 1,640 - 1,000 - 4 - 460 = 176.
    market_value = -460; total_exposure = 460; equity = 10,176;
    current_leverage = 460 / 10,176 = 0.0452044; margin_utilization = 460 x 0.02 / 10,176.
    """
    book = run(Book(one_account, instruments=["X"]), [
        ("price", "2024-01-02T09:00", "X", 100.0),
        ("trade", "2024-01-02T10:00", "X", 10.0, 100.0, 1.0),
        ("trade", "2024-01-02T11:00", "X", -4.0, 110.0, 1.0),
        ("trade", "2024-01-02T12:00", "X", -10.0, 120.0, 2.0),
        ("price", "2024-01-02T13:00", "X", 115.0),
    ])
    s = book.snapshot(0)
    assert (book.quantity[0, 0], book.avg_cost[0, 0]) == (-4.0, 120.0)
    assert s.pl.realized_pl == 156.0
    assert s.pl.unrealized_pl == 20.0
    assert s.pl.total_pl == 176.0
    assert s.pl.daily_pl == 176.0  # the first day: nothing before it
    assert s.pl.market_value == -460.0
    assert s.total_exposure == 460.0
    assert s.equity == 10_176.0
    assert s.current_leverage == pytest.approx(460 / 10_176, rel=1e-15)
    assert s.margin_utilization == pytest.approx(460 * 0.02 / 10_176, rel=1e-15)
    assert s.instrument_count == s.pl.position_count == 1
    assert s.largest_position == 460.0


def test_a_full_close_and_the_daily_pl_across_a_utc_midnight(one_account):
    """Day 1: buy 10 @ 100 (fee 1), closes at 105: total_pl at its end = -1 + 10 x 5 = 49.
    Day 2: the mark is 103, then sell 10 @ 104 (fee 1) closes the position:
    realized = -1 + (104 - 100) x 10 - 1 = 38, unrealized 0; daily_pl = 38 - 49 = -11.
    A later tick (108) moves nothing: the position is flat."""
    book = run(Book(one_account, instruments=["X"]), [
        ("price", "2024-01-02T09:00", "X", 100.0),
        ("trade", "2024-01-02T10:00", "X", 10.0, 100.0, 1.0),
        ("price", "2024-01-02T21:00", "X", 105.0),
        ("price", "2024-01-03T09:00", "X", 103.0),
        ("trade", "2024-01-03T10:00", "X", -10.0, 104.0, 1.0),
        ("price", "2024-01-03T11:00", "X", 108.0),
    ])
    s = book.snapshot(0)
    assert (s.pl.realized_pl, s.pl.unrealized_pl, s.pl.total_pl) == (38.0, 0.0, 38.0)
    assert s.pl.daily_pl == -11.0
    assert (s.total_exposure, s.pl.market_value, s.instrument_count) == (0.0, 0.0, 0)
    assert (book.quantity[0, 0], book.avg_cost[0, 0]) == (0.0, 0.0)
    assert book.equity_curve(0).to_dict() == {pd.Timestamp("2024-01-02", tz="UTC"): 10_049.0}
    # the high-water mark is the end of day 1: drawdown = 10,049 - 10,038
    assert (s.peak_equity, s.drawdown) == (10_049.0, 11.0)


def test_a_trades_own_price_does_not_mark(one_account):
    """Buy 10 @ 100 while the feed says 90: unrealized = 10 x (90 - 100) = -100, not 0."""
    book = run(Book(one_account, instruments=["X"]), [
        ("price", "2024-01-02T09:00", "X", 90.0),
        ("trade", "2024-01-02T10:00", "X", 10.0, 100.0, 0.0),
    ])
    assert book.snapshot(0).pl.unrealized_pl == -100.0
    assert book.snapshot(0).total_exposure == 900.0


def test_leverage_and_margin_by_hand():
    """Capital 1,000; buy 50 @ 100 marked at 100: exposure 5,000, leverage 5,000 / 1,000 = 5,
    margin 5,000 x 0.02 / 1,000 = 0.1. At a mark of 80 the loss is 50 x 20 = 1,000: equity 0,
    leverage and margin infinite."""
    book = run(Book(accounts(1_000.0), instruments=["X"]), [
        ("price", "2024-01-02T09:00", "X", 100.0),
        ("trade", "2024-01-02T10:00", "X", 50.0, 100.0, 0.0),
    ])
    s = book.snapshot(0)
    assert (s.current_leverage, s.margin_utilization) == (5.0, 0.1)
    run(book, [("price", "2024-01-02T11:00", "X", 80.0)])
    s = book.snapshot(0)
    assert s.equity == 0.0
    assert math.isinf(s.current_leverage) and math.isinf(s.margin_utilization)
    assert '"current_leverage":null' in s.model_dump_json()


def test_accounts_are_independent():
    book = run(Book(accounts(1_000.0, 2_000.0), instruments=["X", "Y"]), [
        ("price", "2024-01-02T09:00", "X", 10.0), ("price", "2024-01-02T09:00", "Y", 20.0),
        ("trade", "2024-01-02T10:00", "X", 5.0, 10.0, 0.0, "a0"),
        ("trade", "2024-01-02T10:00", "Y", -2.0, 20.0, 0.0, "a1"),
        ("price", "2024-01-02T11:00", "X", 12.0), ("price", "2024-01-02T11:00", "Y", 19.0),
    ])
    assert book.snapshot(0).pl.total_pl == 10.0  # 5 x (12 - 10)
    assert book.snapshot(1).pl.total_pl == 2.0  # -2 x (19 - 20)
    positions = book.positions(1)
    assert positions[["instrument", "quantity", "avg_cost", "mark"]].to_dict("records") == [
        {"instrument": "Y", "quantity": -2.0, "avg_cost": 20.0, "mark": 19.0}]


def test_events_out_of_time_order_are_refused(one_account):
    book = run(Book(one_account, instruments=["X"]), [("price", "2024-01-02T09:00", "X", 1.0)])
    with pytest.raises(InputError, match="time order"):
        run(book, [("price", "2024-01-02T08:00", "X", 1.0)])


def test_a_position_without_a_price_cannot_be_marked(one_account):
    book = Book(one_account, instruments=["X"])
    book.apply_trade(0, instrument=0, quantity=1.0, price=1.0, ts=ns("2024-01-02"))
    with pytest.raises(InputError, match="no price yet"):
        book.snapshot(0)


def test_merge_events_puts_trades_before_prices_at_equal_times(one_account):
    prices = validate_price_feed(pd.DataFrame({
        "timestamp": ["2024-01-02T09:00:00Z", "2024-01-02T10:00:00Z"],
        "instrument": ["X", "X"], "price": [100.0, 90.0]}))
    trades = validate_trades(pd.DataFrame({
        "trade_id": ["T1"], "account_id": ["a0"], "timestamp": ["2024-01-02T10:00:00Z"],
        "instrument": ["X"], "side": ["buy"], "quantity": [2.0], "price": [95.0]}), prices=prices)
    book = Book(one_account, instruments=["X"])
    events = merge_events(trades, prices=prices, book=book)
    assert events["kind"].tolist() == [1, 0, 1]  # price 9:00, trade 10:00, price 10:00
    realized = book.apply_events(events)
    assert realized.tolist() == [0.0, 0.0, 0.0]
    assert book.snapshot(0).pl.unrealized_pl == 2 * (90.0 - 95.0)


# --------------------------------------------------------------------------- properties

trade = st.tuples(st.sampled_from([0, 1, 2]), st.sampled_from([1.0, -1.0]),
                  st.integers(1, 500), st.integers(1, 5_000), st.integers(0, 300))


@settings(max_examples=300, deadline=None)
@given(st.lists(trade, min_size=1, max_size=40),
       st.lists(st.integers(1, 5_000), min_size=3, max_size=3))
def test_realized_plus_unrealized_is_the_pl_of_the_cash_flows(trades, marks):
    """total_pl = sum(sell qty x price) - sum(buy qty x price) - fees + sum(q x mark).

    Prices are in cents and quantities whole, so the cash-flow side is exact; the average-cost
    side is compared within 1e-9 of the gross traded value."""
    book = Book(accounts(1e6), instruments=["A", "B", "C"])
    t = ns("2024-01-02T09:00")
    for i in range(3):
        book.set_price(i, price=100.0, ts=t)
    cash = 0.0
    gross = 0.0
    for k, (i, sign, qty, cents, fee_cents) in enumerate(trades):
        price, fees = cents / 100, fee_cents / 100
        book.apply_trade(0, instrument=i, quantity=sign * qty, price=price, fees=fees, ts=t + k)
        cash += -sign * qty * price - fees
        gross += qty * price + fees
    for i, m in enumerate(marks):
        book.set_price(i, price=m / 100, ts=t + len(trades))
    q = book.quantity[0]
    expected = cash + float(np.dot(q, np.array(marks) / 100))
    s = book.snapshot(0)
    assert s.pl.total_pl == pytest.approx(expected, abs=1e-9 * (gross + 1.0))
    assert s.pl.realized_pl + s.pl.unrealized_pl == pytest.approx(s.pl.total_pl, abs=1e-9)
    # and each trade moved the signed quantity by exactly its own quantity
    net = np.zeros(3)
    for i, sign, qty, _, _ in trades:
        net[i] += sign * qty
    np.testing.assert_array_equal(q, net)


@settings(max_examples=100, deadline=None)
@given(st.permutations(list(range(6))))
def test_the_order_of_same_time_price_ticks_does_not_matter(order):
    rows = [("2024-01-02T09:00:00Z", "X", 100.0), ("2024-01-02T09:00:00Z", "Y", 50.0),
            ("2024-01-02T09:00:00Z", "Z", 10.0), ("2024-01-02T12:00:00Z", "X", 104.0),
            ("2024-01-02T12:00:00Z", "Y", 47.0), ("2024-01-02T12:00:00Z", "Z", 11.0)]
    feed = validate_price_feed(pd.DataFrame([rows[k] for k in order],
                                            columns=["timestamp", "instrument", "price"]))
    trades = validate_trades(pd.DataFrame({
        "trade_id": ["T1", "T2", "T3"], "account_id": ["a0"] * 3,
        "timestamp": ["2024-01-02T10:00:00Z"] * 3, "instrument": ["X", "Y", "Z"],
        "side": ["buy", "sell", "buy"], "quantity": [1.0, 2.0, 3.0],
        "price": [100.0, 50.0, 10.0]}), prices=feed)
    book = Book(accounts(1e4), instruments=["X", "Y", "Z"])
    book.apply_events(merge_events(trades, prices=feed, book=book))
    # 1 x 4 + (-2) x (-3) + 3 x 1 = 13
    assert book.snapshot(0).pl.total_pl == 13.0
