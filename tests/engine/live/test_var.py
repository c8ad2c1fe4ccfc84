"""Daily closes, var_95 (engine.market's convention) and the exposure correlation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError
from engine.live import (
    MIN_VAR_OBSERVATIONS,
    VAR_LOOKBACK_DAYS,
    ReturnWindow,
    daily_closes,
    exposure_correlation,
    validate_price_feed,
    var_95,
)
from engine.market.data_io import simple_returns
from engine.market.var import historical_var, portfolio_losses


def closes_from_returns(returns: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Closes starting at 100 that have exactly ``returns`` (up to float rounding)."""
    levels = 100 * np.vstack([np.ones(returns.shape[1]), np.cumprod(1 + returns, axis=0)])
    index = pd.date_range("2023-01-02", periods=len(levels), tz="UTC", name="date")
    return pd.DataFrame(levels, index=index, columns=columns)


def test_daily_closes_take_the_last_price_of_each_utc_day_and_carry_it():
    feed = validate_price_feed(pd.DataFrame({
        "timestamp": ["2024-01-02T09:00:00Z", "2024-01-02T23:59:00Z", "2024-01-03T01:00:00+02:00",
                      "2024-01-04T10:00:00Z", "2024-01-05T10:00:00Z"],
        "instrument": ["X", "X", "Y", "Y", "X"], "price": [1.0, 2.0, 7.0, 8.0, 3.0]}))
    closes = daily_closes(feed)
    # 01:00+02:00 on the 3rd is 23:00 UTC on the 2nd, so no price falls on the 3rd: no row.
    # X has no price on the 4th: it carries its close of the 2nd.
    assert list(closes.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-04", "2024-01-05"]
    assert closes.to_dict("list") == {"X": [2.0, 2.0, 3.0], "Y": [7.0, 8.0, 8.0]}
    completed = daily_closes(feed, before="2024-01-05")
    assert list(completed.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-04"]


def test_var_95_is_the_19th_of_20_losses_by_hand():
    """One position of 1,000 and returns -1/1000 … -20/1000: losses 1 … 20; the 95 % VaR is the
    ceil(0.95 x 20) = 19th smallest loss, 19."""
    r = -np.arange(1, 21)[:, None] / 1000
    window = ReturnWindow.from_closes(closes_from_returns(r, ["X"]))
    assert var_95(np.array([1_000.0]), window=window) == pytest.approx(19.0, rel=1e-9)


def test_var_95_matches_engine_market_on_a_seeded_portfolio():
    rng = np.random.default_rng(11)
    closes = closes_from_returns(rng.normal(0, 0.02, (400, 4)), ["A", "B", "C", "D"])
    values = np.array([5_000.0, -2_000.0, 0.0, 1_000.0])
    window = ReturnWindow.from_closes(closes)
    r = simple_returns(closes).to_numpy()[-VAR_LOOKBACK_DAYS:]
    expected = historical_var(portfolio_losses(r[:, [0, 1, 3]], values[[0, 1, 3]]), 0.95)
    assert window.returns.shape == (252, 4)
    assert var_95(values, window=window) == pytest.approx(expected, rel=1e-12)


def test_only_the_last_252_returns_count():
    r = np.full((300, 1), 0.001)
    r[:48] = -0.5  # 48 crashes, all older than the window
    window = ReturnWindow.from_closes(closes_from_returns(r, ["X"]))
    # every return in the window is a gain of 0.1 %: the VaR is a negative loss, -1
    assert var_95(np.array([1_000.0]), window=window) == pytest.approx(-1.0, rel=1e-9)


def test_var_95_needs_20_returns_and_is_zero_without_positions():
    r = np.full((MIN_VAR_OBSERVATIONS - 1, 1), 0.01)
    window = ReturnWindow.from_closes(closes_from_returns(r, ["X"]))
    assert var_95(np.array([1.0]), window=window) is None
    assert var_95(np.array([0.0]), window=window) == 0.0
    with pytest.raises(InputError, match="do not match"):
        var_95(np.array([1.0, 2.0]), window=window)


def test_a_late_instrument_shortens_the_window_of_the_portfolios_that_hold_it():
    rng = np.random.default_rng(3)
    closes = closes_from_returns(rng.normal(0, 0.01, (100, 2)), ["OLD", "NEW"])
    closes.iloc[:70, 1] = np.nan  # NEW's first close is the 71st: 29 returns
    window = ReturnWindow.from_closes(closes)
    r = simple_returns(closes).to_numpy()
    both = np.array([1_000.0, 500.0])
    assert var_95(both, window=window) == pytest.approx(
        historical_var(portfolio_losses(r[70:], both), 0.95), rel=1e-12)
    assert var_95(np.array([1_000.0, 0.0]), window=window) == pytest.approx(
        historical_var(portfolio_losses(r[:, :1], np.array([1_000.0])), 0.95), rel=1e-12)


def _pairwise_by_loop(returns: np.ndarray, values: np.ndarray) -> float:
    c = np.corrcoef(returns, rowvar=False)
    num = den = 0.0
    for i in range(len(values)):
        for j in range(len(values)):
            if i != j:
                num += values[i] * values[j] * c[i, j]
                den += abs(values[i]) * abs(values[j])
    return num / den


def test_exposure_correlation_matches_the_pairwise_definition():
    rng = np.random.default_rng(5)
    common = rng.normal(0, 0.01, (260, 1))
    r = 0.6 * common + rng.normal(0, 0.01, (260, 5))
    closes = closes_from_returns(r, list("ABCDE"))
    values = np.array([3_000.0, -1_000.0, 2_000.0, 0.0, 500.0])
    window = ReturnWindow.from_closes(closes)
    held = values != 0
    expected = _pairwise_by_loop(window.returns[:, held], values[held])
    assert exposure_correlation(values, window=window) == pytest.approx(expected, rel=1e-10)


def test_a_long_short_pair_is_a_hedge_and_a_long_long_pair_is_not():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 0.01, (60, 1))
    window = ReturnWindow.from_closes(closes_from_returns(np.hstack([x, 2 * x]), ["A", "B"]))
    assert exposure_correlation(np.array([1.0, 1.0]), window=window) == pytest.approx(1.0)
    assert exposure_correlation(np.array([1.0, -1.0]), window=window) == pytest.approx(-1.0)
    assert exposure_correlation(np.array([1.0, 0.0]), window=window) == 0.0  # no pair


def test_a_flat_instrument_is_uncorrelated():
    rng = np.random.default_rng(4)
    r = np.hstack([rng.normal(0, 0.01, (40, 1)), np.zeros((40, 1))])
    window = ReturnWindow.from_closes(closes_from_returns(r, ["A", "FLAT"]))
    assert exposure_correlation(np.array([1.0, 1.0]), window=window) == pytest.approx(0.0, abs=1e-12)
