"""Sharpe, volatility and max drawdown (quantstats/empyrical definitions) and attribution."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.live import (
    BUNDLED_SECTORS,
    TRADING_DAYS,
    Book,
    annual_volatility,
    equity_returns,
    max_drawdown,
    performance_attribution,
    portfolio_analytics,
    sharpe_ratio,
)
from engine.market.data_io import load_bundled_prices

from .conftest import accounts, run

CURVE = np.array([100.0, 110.0, 99.0, 118.8])


def test_sharpe_volatility_and_drawdown_by_hand():
    """Curve 100, 110, 99, 118.8: returns 0.1, -0.1, 0.2; mean 1/15; deviations 1/30, -1/6,
    2/15, whose squares sum to 0.04667, so the ddof=1 variance is 0.023333 and the standard
    deviation 0.152753. Sharpe = (1/15) / 0.152753 x sqrt(252) = 6.92820; volatility =
    0.152753 x sqrt(252) = 2.42487; max drawdown 99 / 110 - 1 = -0.1."""
    r = equity_returns(CURVE)
    np.testing.assert_allclose(r, [0.1, -0.1, 0.2], rtol=1e-12)
    assert sharpe_ratio(r) == pytest.approx(6.928203, rel=1e-6)
    assert annual_volatility(r) == pytest.approx(2.424871, rel=1e-6)
    assert max_drawdown(CURVE) == pytest.approx(-0.1, rel=1e-12)


def test_against_the_direct_formulas_on_a_seeded_series():
    rng = np.random.default_rng(8)
    curve = 1e5 * np.cumprod(np.r_[1.0, 1 + rng.normal(0.0005, 0.01, 300)])
    r = curve[1:] / curve[:-1] - 1
    rf_daily = 1.03 ** (1 / 252) - 1
    assert TRADING_DAYS == 252
    assert sharpe_ratio(r, risk_free=0.03) == pytest.approx(
        (r - rf_daily).mean() / (r - rf_daily).std(ddof=1) * math.sqrt(252), rel=1e-12)
    assert annual_volatility(r) == pytest.approx(r.std(ddof=1) * math.sqrt(252), rel=1e-12)
    worst = min(curve[t] / curve[: t + 1].max() - 1 for t in range(len(curve)))
    assert max_drawdown(curve) == pytest.approx(worst, rel=1e-12)


def test_undefined_figures_are_none_not_nan():
    assert sharpe_ratio(np.array([0.01])) is None
    assert sharpe_ratio(np.array([0.01, 0.01])) is None  # does not vary
    assert annual_volatility(np.array([0.01])) is None
    assert max_drawdown(np.array([100.0, 120.0])) == 0.0
    # a return after equity 0 is undefined and left out
    np.testing.assert_allclose(equity_returns(np.array([100.0, 0.0, 50.0])), [-1.0])


def test_attribution_adds_up_to_the_equity_curve():
    pl = pd.Series({"AAPL": 300.0, "MSFT": -100.0, "XOM": 50.0, "ZZZ": 10.0})
    out = performance_attribution(pl, initial_capital=10_000.0)
    assert out["by_instrument"]["AAPL"] == {"pl": 300.0, "contribution": 0.03}
    assert out["by_sector"] == {
        "Energy": {"pl": 50.0, "contribution": 0.005},
        "Information Technology": {"pl": 200.0, "contribution": 0.02},
        "Unclassified": {"pl": 10.0, "contribution": 0.001},
    }
    total = sum(v["contribution"] for v in out["by_sector"].values())
    assert total == pytest.approx(pl.sum() / 10_000.0)


def test_every_bundled_instrument_has_a_sector():
    assert set(load_bundled_prices().columns) == set(BUNDLED_SECTORS)


def test_the_portfolio_panel_of_a_book():
    """Capital 10,000; buy 100 X at 100. Closes: day 1 at 110 (equity 11,000), day 2 at 99
    (9,900); now (day 3) 118.8 -> equity 11,880. Curve 10,000, 11,000, 9,900, 11,880:
    returns 0.1, -0.1, 0.2 as in the hand example; daily_return 11,880 / 9,900 - 1 = 0.2."""
    book = run(Book(accounts(10_000.0), instruments=["X"]), [
        ("price", "2024-01-02T09:00", "X", 100.0),
        ("trade", "2024-01-02T10:00", "X", 100.0, 100.0, 0.0),
        ("price", "2024-01-02T21:00", "X", 110.0),
        ("price", "2024-01-03T21:00", "X", 99.0),
        ("price", "2024-01-04T21:00", "X", 118.8),
    ])
    s = book.snapshot(0)
    panel = portfolio_analytics(book.equity_curve(0), equity=s.equity, initial_capital=10_000.0,
                                pl_by_instrument=book.pl_by_instrument(0),
                                total_positions=s.instrument_count, sectors={"X": "Energy"})
    assert panel.total_value == pytest.approx(11_880.0)
    assert panel.daily_return == pytest.approx(0.2)
    assert panel.sharpe_ratio == pytest.approx(6.928203, rel=1e-6)
    assert panel.volatility == pytest.approx(2.424871, rel=1e-6)
    assert panel.max_drawdown == pytest.approx(-0.1)
    assert panel.total_positions == 1
    assert panel.performance_attribution["by_sector"]["Energy"]["contribution"] == \
        pytest.approx(0.188)
