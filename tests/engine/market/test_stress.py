"""Historical stress replay on a price path a reader can follow."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.errors import InputError
from engine.market.data_io import load_bundled_prices
from engine.market.stress import PREDEFINED_WINDOWS, StressWindow, replay, replay_all


@pytest.fixture()
def path():
    idx = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    return pd.DataFrame({"A": [100.0, 110.0, 88.0, 99.0, 90.0],
                         "B": [50.0, 50.0, 50.0, 50.0, 50.0]}, index=idx)


def test_replay_loss_and_drawdown(path):
    values = pd.Series({"A": 1000.0, "B": 1000.0})
    res = replay(path, values=values,
                 window=StressWindow(name="w", start="2024-01-02", end="2024-01-05"))
    # base 2024-01-01 (the close before the window); A worth 1000, 1100, 880, 990, 900; B 1000
    assert res.days == 4 and res.start == "2024-01-02" and res.end == "2024-01-05"
    assert res.loss == pytest.approx(100.0)  # 2000 - 1900
    assert res.loss_pct == pytest.approx(0.05)
    assert res.max_drawdown_amount == pytest.approx(220.0)  # peak 2100 -> 1880
    assert res.max_drawdown == pytest.approx(220.0 / 2100.0)
    assert res.worst_day_loss == pytest.approx(220.0)


def test_user_window_outside_the_history_is_refused(path):
    with pytest.raises(InputError, match="has no prices"):
        replay(path, values=pd.Series({"A": 1.0}),
               window=StressWindow(name="w", start="2030-01-01", end="2030-02-01"))


def test_window_with_end_before_start_is_refused():
    with pytest.raises(ValueError):
        StressWindow(name="w", start="2024-02-01", end="2024-01-01")


def test_predefined_windows_on_the_index_match_provenance():
    prices = load_bundled_prices()[["SP500"]]
    res = {r.name: r for r in replay_all(prices, values=pd.Series({"SP500": 1.0}),
                                                  windows=PREDEFINED_WINDOWS)}
    # data/market_equities_skfolio/PROVENANCE.md: max drawdown -47.0 % and -33.9 %
    assert res["2008 crisis"].max_drawdown == pytest.approx(0.470, abs=0.005)
    assert res["2020 crash"].max_drawdown == pytest.approx(0.339, abs=0.005)


def test_uncovered_predefined_windows_are_skipped(path):
    assert replay_all(path, values=pd.Series({"A": 1.0})) == []
