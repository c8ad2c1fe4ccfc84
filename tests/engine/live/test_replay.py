"""The replay loop without a store: batches cut anywhere give the same replay; a restored book
goes on as if it never stopped; the pre-trade check under HALTED and REDUCING; the circuit
breaker; the return window of completed days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.live import (
    Book,
    CircuitBreaker,
    ReturnWindow,
    TradingState,
    daily_closes,
    parse_accounts,
    timestamps_ns,
    validate_price_feed,
    validate_trades,
)
from engine.live._positions import NS_PER_DAY
from engine.live._replay import EventStream, Replayer, ReplayConfig
from tests.engine.live._desk import ACCOUNTS, DAYS, price_frame, trade_frame


@pytest.fixture()
def desk():
    import yaml

    accounts = parse_accounts(yaml.safe_load(ACCOUNTS))
    prices = validate_price_feed(price_frame())
    trades = validate_trades(trade_frame(), prices=prices, accounts=accounts)
    return accounts, prices, trades


def _replayer(desk, config=None) -> Replayer:
    accounts, prices, trades = desk
    book = Book(accounts, instruments=["AAA", "BBB", "CCC"])
    events = EventStream.build(trades, prices=prices, book=book)
    return Replayer(session_id="s", accounts=accounts, events=events, prices=prices, book=book,
                    config=config)


def _run(replayer: Replayer, states=None, **kw) -> list:
    batches = []
    while True:
        b = replayer.run(states or {}, **kw)
        replayer.accept(b)
        batches.append(b)
        if b.stop in ("end", "until"):
            return batches


def _all(batches, name):
    return [x for b in batches for x in getattr(b, name)]


def test_batches_cut_anywhere_give_the_same_replay(desk):
    whole, single = _replayer(desk), _replayer(desk)
    one = _run(whole, max_events=10**9, max_seconds=1e9)
    many = _run(single, max_events=1, max_seconds=1e9)
    assert len(one) == 1 and len(many) == len(np.unique(whole.events.ts))
    for name in ("trades", "pl", "risk", "eod"):
        assert _all(one, name) == _all(many, name), name
    assert [a.model_dump() for a in _all(one, "alerts")] == \
        [a.model_dump() for a in _all(many, "alerts")]
    assert [a.model_dump() for a in _all(one, "escalations")] == \
        [a.model_dump() for a in _all(many, "escalations")]
    for arr in ("quantity", "avg_cost", "realized", "mark", "peak_equity", "prev_day_pl"):
        np.testing.assert_array_equal(getattr(whole.book, arr), getattr(single.book, arr))
    assert len(_all(one, "trades")) == 39 + 39 + 13  # a and b trade every day 1..39, c every 3rd


def test_a_restored_book_goes_on_exactly_as_the_original(desk):
    accounts, prices, trades = desk
    ins = ["AAA", "BBB", "CCC"]
    original = Book(accounts, instruments=ins)
    events = EventStream.build(trades, prices=prices, book=original)
    half = len(events) // 2

    def apply(book, lo, hi):
        for k in range(lo, hi):
            if events.kind[k] == 0:
                book.apply_trade(events.account[k], instrument=events.instrument[k],
                                 quantity=events.quantity[k], price=events.price[k],
                                 fees=events.fees[k], ts=int(events.ts[k]))
            else:
                book.set_price(events.instrument[k], price=events.price[k], ts=int(events.ts[k]))

    apply(original, 0, half)
    restored = Book(accounts, instruments=ins)
    eod_equity = np.array(original.eod_equity)
    eod_pl = eod_equity - original.initial_capital
    eod_pl[-1] = original.prev_day_pl  # the workflow stores each day's P&L as the book had it
    restored.restore(quantity=original.quantity, avg_cost=original.avg_cost,
                     realized=original.realized, mark=original.mark, time=original.time,
                     eod_days=original.eod_days, eod_pl=eod_pl, eod_equity=eod_equity)
    np.testing.assert_array_equal(restored.peak_equity, original.peak_equity)
    np.testing.assert_array_equal(restored.prev_day_pl, original.prev_day_pl)
    apply(original, half, len(events))
    apply(restored, half, len(events))
    for j in range(3):
        assert restored.snapshot(j) == original.snapshot(j)
    assert restored.eod_days == original.eod_days


def test_the_window_holds_the_returns_of_completed_days_only(desk):
    replayer = _replayer(desk)
    _, prices, _ = desk
    for k in (0, 1, 2, 25, 39):
        day = int(timestamps_ns(pd.Series([DAYS[k]]))[0]) // NS_PER_DAY
        expected = ReturnWindow.from_closes(daily_closes(prices, before=DAYS[k]),
                                            instruments=["AAA", "BBB", "CCC"])
        got = replayer.window(day)
        assert got.returns.shape == (max(0, k - 1), 3)
        np.testing.assert_array_equal(got.returns, expected.returns)


def test_a_halted_account_rejects_every_trade_and_keeps_its_book(desk):
    halted = _replayer(desk)
    free = _replayer(desk)
    trades_h = _all(_run(halted, {"b": TradingState.HALTED}), "trades")
    trades_f = _all(_run(free), "trades")
    b = [t for t in trades_h if t[1] == "b"]
    assert len(b) == 39 and {t[8] for t in b} == {"rejected"}
    assert all("HALTED" in t[11] and t[10] == "HALTED" for t in b)
    assert not halted.book.quantity[1].any() and not halted.book.realized[1].any()
    np.testing.assert_array_equal(halted.book.quantity[[0, 2]], free.book.quantity[[0, 2]])
    assert [t for t in trades_h if t[1] != "b"] == [t for t in trades_f if t[1] != "b"]


def test_reducing_accepts_only_the_trades_that_reduce_a_position(desk):
    replayer = _replayer(desk)
    until = int(timestamps_ns(pd.Series([DAYS[3] + pd.Timedelta(hours=22)]))[0])
    _run(replayer, until_ns=until)
    assert replayer.book.quantity[0, 0] == 15.0  # a: +10, -5, +10
    trades = _all(_run(replayer, {"a": TradingState.REDUCING}), "trades")
    status = {t[0]: t[8] for t in trades if t[1] == "a"}
    # sell 5 (15 -> 10) ok, buy 10 no, sell 5 (10 -> 5) ok, buy no, sell 5 (5 -> 0) ok, then flat:
    # a sell would open a short, a buy a long: both refused
    assert [status[f"A{k:02d}"] for k in range(4, 12)] == [
        "applied", "rejected", "applied", "rejected", "applied", "rejected", "rejected",
        "rejected"]
    assert replayer.book.quantity[0, 0] == 0.0


def test_the_circuit_breaker_halts_an_account_on_its_daily_loss(desk):
    # b: day 1 buys 100 BBB at 50 (close 52.524: +252.4 at the day's end); day 2 at 15:00 sells
    # 150 at 50 (realizes 0, short 50 marked at 52.524: -126.2), a daily P&L of -378.6 < -50.
    rule = CircuitBreaker(enabled=True, limits=("max_daily_loss",), action="HALTED")
    replayer = _replayer(desk, ReplayConfig(circuit_breaker=rule))
    batches = _run(replayer)
    changes = _all(batches, "state_changes")
    assert [(c.account_id, c.old_state, c.new_state) for c in changes] == [("b", "ACTIVE",
                                                                             "HALTED")]
    day2_15h = DAYS[2] + pd.Timedelta(hours=15)
    assert changes[0].event_ns == int(timestamps_ns(pd.Series([day2_15h]))[0])
    assert "max_daily_loss" in changes[0].reason
    status = {t[0]: t[8] for t in _all(batches, "trades") if t[1] == "b"}
    assert status["B01"] == status["B02"] == "applied"
    assert {status[f"B{k:02d}"] for k in range(3, 40)} == {"rejected"}
    off = _run(_replayer(desk))
    assert _all(off, "state_changes") == []
    assert {t[8] for t in _all(off, "trades")} == {"applied"}


def test_an_acknowledged_alert_does_not_escalate(desk):
    replayer = _replayer(desk)
    first = replayer.run({}, max_events=40, max_seconds=1e9)
    replayer.accept(first)
    open_ = [a for a in first.alerts if a.severity != "info"]
    assert open_, "the small desk raises a warning or critical alert early"
    replayer.forget({a.alert_id for a in open_})
    rest = _run(replayer)
    assert not {a.alert_id for a in open_} & {a.alert_id for a in _all(rest, "escalations")}
    escalated = _all(_run(_other := _replayer(desk)), "escalations")
    assert {a.alert_id for a in open_} <= {a.alert_id for a in escalated}
