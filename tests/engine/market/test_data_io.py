"""Prices and positions: the bundled data and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError, ValidationError
from engine.market.data_io import (
    load_bundled_prices,
    load_default_positions,
    loss_series,
    position_values,
    read_positions_csv,
    read_prices_csv,
    simple_returns,
)


def test_bundled_prices_shape_and_dates():
    p = load_bundled_prices()
    assert p.shape == (8313, 21) and "SP500" in p.columns
    assert str(p.index[0].date()) == "1990-01-02" and str(p.index[-1].date()) == "2022-12-28"
    assert p.index.is_monotonic_increasing and (p.to_numpy() > 0).all()


def test_default_positions_value_at_the_last_price():
    prices = load_bundled_prices()
    pos = load_default_positions()
    v = position_values(pos, prices=prices)
    assert v["AAPL"] == pytest.approx(3000 * prices["AAPL"].iloc[-1])
    assert len(v) == 17


def test_simple_returns_and_loss_series():
    p = pd.DataFrame({"A": [100.0, 110.0, 99.0]}, index=pd.bdate_range("2024-01-01", periods=3))
    np.testing.assert_allclose(simple_returns(p)["A"], [0.10, -0.10])
    np.testing.assert_allclose(loss_series(p, column="A"), [-0.10, 0.10])
    np.testing.assert_allclose(loss_series(p, weights=pd.Series({"A": 0.5})), [-0.05, 0.05])


def _issues(csv: str):
    with pytest.raises(ValidationError) as err:
        read_prices_csv(csv.encode())
    return [(i.row, i.column, i.rule) for i in err.value.issues]


def test_unsorted_dates():
    issues = _issues("date,A\n2024-01-02,1\n2024-01-01,2\n2024-01-03,3\n")
    assert (2, "date", "dates must be sorted ascending") in issues


def test_duplicate_dates():
    issues = _issues("date,A\n2024-01-01,1\n2024-01-01,2\n2024-01-03,3\n")
    assert (2, "date", "duplicate date") in issues


def test_non_positive_prices_and_nans_are_all_reported():
    issues = _issues("date,A,B\n2024-01-01,1,0\n2024-01-02,,2\n2024-01-03,-4,abc\n")
    assert (1, "B", "price must be positive") in issues
    assert (2, "A", "missing price (NaN)") in issues
    assert (3, "A", "price must be positive") in issues
    assert (3, "B", "not a finite number") in issues


def test_bad_date_text():
    issues = _issues("date,A\n2024-01-01,1\nyesterday,2\n")
    assert (2, "date", "not a date (use YYYY-MM-DD)") in issues


def test_not_a_csv():
    with pytest.raises(InputError):
        read_prices_csv(b"")


def test_positions_with_instruments_missing_from_prices():
    with pytest.raises(ValidationError) as err:
        read_positions_csv(b"account,instrument,quantity\nx,AAPL,1\nx,TSLA,2\ny,,3\nz,MSFT,n/a\n",
                           instruments=["AAPL", "MSFT"])
    issues = [(i.row, i.column, i.rule) for i in err.value.issues]
    assert (2, "instrument", "instrument not in the price history") in issues
    assert (3, "instrument", "instrument is empty") in issues
    assert (4, "quantity", "quantity must be a finite number") in issues


def test_positions_need_quantity_or_weight():
    with pytest.raises(ValidationError, match="quantity"):
        read_positions_csv(b"account,instrument,size\nx,A,1\n")


def test_weights_need_a_notional():
    prices = pd.DataFrame({"A": [1.0, 2.0]}, index=pd.bdate_range("2024-01-01", periods=2))
    pos = read_positions_csv(b"instrument,weight\nA,1.0\n")
    assert pos["account"].tolist() == ["portfolio"]
    with pytest.raises(InputError, match="notional"):
        position_values(pos, prices=prices)
    assert position_values(pos, prices=prices, notional=500.0)["A"] == 500.0
