"""Seeded fixtures for the market-risk tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.market.limits import load_default_limits


@pytest.fixture()
def small_prices() -> pd.DataFrame:
    """Three instruments, 400 business days of seeded log-normal prices."""
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2020-01-01", periods=400, name="date")
    r = rng.normal(0.0003, 0.01, size=(400, 3))
    return pd.DataFrame(100 * np.exp(np.cumsum(r, axis=0)), index=idx, columns=["A", "B", "C"])


@pytest.fixture()
def small_positions() -> pd.DataFrame:
    return pd.DataFrame({"account": ["x", "x", "y"], "instrument": ["A", "B", "C"],
                         "quantity": [100.0, 50.0, 200.0]})


@pytest.fixture()
def small_config():
    """The shipped limits, with windows short enough for :func:`small_prices`."""
    cfg = load_default_limits()
    return cfg.model_copy(update={"var_window": 250, "long_window": 250, "drawdown_window": 250})
