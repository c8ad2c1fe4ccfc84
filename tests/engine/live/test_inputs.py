"""The blotter, the price feed and the accounts file: what is accepted, and every bad cell."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError, ValidationError
from engine.live import (
    CLOSE_TIME_UTC,
    TRADE_COLUMNS,
    AccountLimits,
    bundled_price_feed,
    parse_accounts,
    read_accounts,
    read_price_feed,
    read_trades,
    validate_price_feed,
    validate_trades,
    wide_to_long,
)

FEED = b"""timestamp,instrument,price
2024-01-02T09:00:00Z,AAA,100
2024-01-02T09:00:00Z,BBB,50
2024-01-02T12:00:00Z,AAA,101
"""

ACCOUNTS = b"""accounts:
  - account_id: alpha
    initial_capital: 100000
  - account_id: beta
    initial_capital: 250000.5
    limits: {max_leverage: 5, required_margin_ratio: 0.1}
"""


@pytest.fixture()
def feed() -> pd.DataFrame:
    return read_price_feed(FEED, filename="feed.csv")


def test_a_good_blotter_is_typed_and_normalised(tmp_path, feed):
    path = tmp_path / "trades.csv"
    path.write_text(
        "trade_id,account_id,timestamp,instrument,side,quantity,price,fees\n"
        "T1,alpha,2024-01-02T10:00:00Z,AAA,buy,10,100.5,1.25\n"
        "T2,beta,2024-01-02 13:30:00+02:00,BBB, SELL ,3,49.5,\n", encoding="utf-8")
    trades = read_trades(path, prices=feed, accounts=parse_accounts({"accounts": [
        {"account_id": "alpha", "initial_capital": 1}, {"account_id": "beta", "initial_capital": 1}]}))
    assert list(trades.columns) == list(TRADE_COLUMNS)
    assert trades["side"].tolist() == ["buy", "sell"]
    assert trades["fees"].tolist() == [1.25, 0.0]  # a blank fee is none
    # the +02:00 offset is converted: 13:30 in UTC+2 is 11:30 UTC
    assert trades["timestamp"].tolist() == [pd.Timestamp("2024-01-02T10:00", tz="UTC"),
                                            pd.Timestamp("2024-01-02T11:30", tz="UTC")]
    assert str(trades["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_a_blotter_without_fees_has_zero_fees():
    frame = pd.DataFrame({"trade_id": ["T1"], "account_id": ["a"], "timestamp": ["2024-01-02"],
                          "instrument": ["AAA"], "side": ["buy"], "quantity": [1], "price": [2]})
    assert validate_trades(frame)["fees"].tolist() == [0.0]


def test_every_bad_row_field_and_rule_is_reported_at_once(feed):
    csv = (b"trade_id,account_id,timestamp,instrument,side,quantity,price,fees\n"
           b"T1,alpha,2024-01-02T10:00:00Z,AAA,buy,10,100,0\n"        # row 1: fine
           b"T1,alpha,2024-01-02T10:00:00Z,AAA,buy,10,100,0\n"        # row 2: T1 again
           b"T3,alpha,2024-01-02T10:00:00Z,AAA,buy,0,100,0\n"         # row 3: quantity 0
           b"T4,alpha,2024-01-02T10:00:00Z,ZZZ,buy,1,100,0\n"         # row 4: unknown instrument
           b"T5,alpha,2024-01-02T08:59:59Z,AAA,buy,1,100,0\n"         # row 5: before first price
           b"T6,alpha,yesterday,AAA,hold,-2,abc,-1\n"                 # row 6: four bad cells
           b"T7,gamma,2024-01-02T10:00:00Z,BBB,sell,1,50,0\n")        # row 7: unknown account
    accounts = parse_accounts({"accounts": [{"account_id": "alpha", "initial_capital": 1}]})
    with pytest.raises(ValidationError) as err:
        read_trades(csv, filename="bad.csv", prices=feed, accounts=accounts)
    got = {(i.row, i.column): i.rule for i in err.value.issues}
    assert set(got) == {(2, "trade_id"), (3, "quantity"), (4, "instrument"), (5, "timestamp"),
                        (6, "timestamp"), (6, "side"), (6, "quantity"), (6, "price"),
                        (6, "fees"), (7, "account_id")}
    assert "repeats row 1" in got[(2, "trade_id")]
    assert "greater than 0" in got[(3, "quantity")] and "greater than 0" in got[(6, "quantity")]
    assert "not in the price feed" in got[(4, "instrument")]
    assert "before the first price of AAA (2024-01-02T09:00:00+00:00)" in got[(5, "timestamp")]
    assert "ISO 8601" in got[(6, "timestamp")]
    assert got[(6, "side")] == "side must be buy or sell"
    assert got[(6, "price")] == "price must be a number"
    assert got[(6, "fees")] == "fees must be 0 or more"
    assert "not in the accounts file" in got[(7, "account_id")]
    assert "nothing was stored" in str(err.value) and "bad.csv" in str(err.value)


def test_a_trade_at_the_time_of_the_first_price_is_accepted(feed):
    frame = pd.DataFrame({"trade_id": ["T1"], "account_id": ["a"],
                          "timestamp": ["2024-01-02T09:00:00Z"], "instrument": ["AAA"],
                          "side": ["buy"], "quantity": [1.0], "price": [2.0]})
    assert len(validate_trades(frame, prices=feed)) == 1


def test_missing_columns_are_named():
    frame = pd.DataFrame({"trade_id": ["T1"], "account_id": ["a"], "timestamp": ["2024-01-02"]})
    with pytest.raises(ValidationError) as err:
        validate_trades(frame)
    assert [i.column for i in err.value.issues] == ["instrument", "side", "quantity", "price"]


def test_numbers_are_not_booleans_nor_epoch_times():
    frame = pd.DataFrame({"trade_id": ["T1", "T2"], "account_id": ["a", "a"],
                          "timestamp": [1704186000, 1704186000], "instrument": ["X", "X"],
                          "side": ["buy", "buy"], "quantity": [True, 1.0], "price": [1.0, 1.0]},
                         ).astype({"quantity": object})
    with pytest.raises(ValidationError) as err:
        validate_trades(frame)
    got = {(i.row, i.column) for i in err.value.issues}
    assert got == {(1, "timestamp"), (2, "timestamp"), (1, "quantity")}


def test_a_parquet_blotter_reads_like_a_csv(tmp_path, feed):
    frame = pd.DataFrame({"trade_id": ["T1"], "account_id": ["a"],
                          "timestamp": pd.to_datetime(["2024-01-02T10:00:00Z"]),
                          "instrument": ["AAA"], "side": ["buy"], "quantity": [3.0],
                          "price": [100.0], "fees": [0.5]})
    path = tmp_path / "trades.parquet"
    frame.to_parquet(path)
    trades = read_trades(path, prices=feed)
    assert trades.iloc[0].to_dict() == {
        "trade_id": "T1", "account_id": "a", "timestamp": pd.Timestamp("2024-01-02T10:00", tz="UTC"),
        "instrument": "AAA", "side": "buy", "quantity": 3.0, "price": 100.0, "fees": 0.5}


def test_a_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_trades(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- price feed

def test_the_long_feed_is_sorted_by_time_then_instrument():
    shuffled = pd.DataFrame({"timestamp": ["2024-01-02T12:00:00Z", "2024-01-02T09:00:00Z",
                                           "2024-01-02T09:00:00Z"],
                             "instrument": ["AAA", "BBB", "AAA"], "price": [101, 50, 100]})
    out = validate_price_feed(shuffled)
    assert out["instrument"].tolist() == ["AAA", "BBB", "AAA"]
    assert out["price"].tolist() == [100.0, 50.0, 101.0]


def test_two_prices_of_one_instrument_at_one_time_are_refused():
    frame = pd.DataFrame({"timestamp": ["2024-01-02T09:00:00Z", "2024-01-02T10:00:00+01:00", "x"],
                          "instrument": ["AAA", "AAA", ""], "price": [100, 101, 0]})
    with pytest.raises(ValidationError) as err:
        validate_price_feed(frame)
    got = {(i.row, i.column): i.rule for i in err.value.issues}
    assert "first in row 1" in got[(2, "timestamp")]  # 10:00+01:00 is 09:00 UTC
    assert set(got) == {(2, "timestamp"), (3, "timestamp"), (3, "instrument"), (3, "price")}


def test_a_wide_daily_table_is_stamped_at_the_close():
    wide = b"date,AAA,BBB\n2024-01-02,100,50\n2024-01-03,101,51\n"
    feed = read_price_feed(wide, filename="wide.csv")
    assert CLOSE_TIME_UTC.hour == 21
    assert feed["timestamp"].tolist() == [pd.Timestamp("2024-01-02T21:00", tz="UTC")] * 2 + \
        [pd.Timestamp("2024-01-03T21:00", tz="UTC")] * 2
    assert feed["instrument"].tolist() == ["AAA", "BBB", "AAA", "BBB"]
    assert feed["price"].tolist() == [100.0, 50.0, 101.0, 51.0]


def test_a_wide_table_with_a_bad_price_names_the_cell():
    with pytest.raises(ValidationError) as err:
        read_price_feed(b"date,AAA\n2024-01-02,100\n2024-01-03,-1\n", filename="w.csv")
    assert [(i.row, i.column) for i in err.value.issues] == [(2, "AAA")]


def test_the_bundled_prices_as_a_feed():
    feed = bundled_price_feed(instruments=["AAPL", "SP500"], start="2022-12-27")
    # 2022-12-27 and -28 are the last two bundled dates; two instruments each
    assert len(feed) == 4
    assert feed["timestamp"].iloc[0] == pd.Timestamp("2022-12-27T21:00", tz="UTC")
    with pytest.raises(InputError, match="not in the bundled prices"):
        bundled_price_feed(instruments=["NOPE"])


def test_wide_to_long_leaves_out_missing_prices():
    wide = pd.DataFrame({"A": [1.0, np.nan]}, index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    assert len(wide_to_long(wide)) == 1


# --------------------------------------------------------------------------- accounts

def test_accounts_take_the_brief_defaults_with_stated_units():
    cfg = read_accounts(ACCOUNTS)
    alpha, beta = cfg.accounts
    assert alpha.initial_capital == 100_000.0
    assert alpha.limits == AccountLimits(max_position_size=100_000.0, max_leverage=30.0,
                                         max_daily_loss=1_000.0, max_drawdown=5_000.0,
                                         required_margin_ratio=0.02)
    assert (beta.limits.max_leverage, beta.limits.required_margin_ratio) == (5.0, 0.1)
    assert beta.limits.max_daily_loss == 1_000.0
    assert cfg.ids == ["alpha", "beta"]


def test_an_accounts_file_from_disk(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_bytes(ACCOUNTS)
    assert read_accounts(path).account("beta").initial_capital == 250000.5
    with pytest.raises(InputError, match="'gamma' is not in the accounts file"):
        read_accounts(path).account("gamma")


@pytest.mark.parametrize(("text", "column", "fragment"), [
    (b"accounts:\n  - {account_id: a, initial_capital: true}\n",
     "accounts.0.initial_capital", "valid number"),
    (b"accounts:\n  - {account_id: a, initial_capital: '1000'}\n",
     "accounts.0.initial_capital", "valid number"),
    (b"accounts:\n  - {account_id: a, initial_capital: 0}\n",
     "accounts.0.initial_capital", "greater than 0"),
    (b"accounts:\n  - {account_id: a, initial_capital: 1, limits: {max_leverage: -1}}\n",
     "accounts.0.limits.max_leverage", "greater than 0"),
    (b"accounts:\n  - {account_id: a, initial_capital: 1, limits: {required_margin_ratio: 2}}\n",
     "accounts.0.limits.required_margin_ratio", "less than or equal to 1"),
    (b"accounts:\n  - {account_id: a, initial_capital: 1, limits: {max_loss: 5}}\n",
     "accounts.0.limits.max_loss", "Extra inputs"),
    (b"accounts:\n  - {account_id: a, initial_capital: 1}\n  - {account_id: a, initial_capital: 2}\n",
     "accounts", "given twice"),
    (b"accounts: []\n", "accounts", "at least 1"),
])
def test_bad_accounts_name_the_field(text, column, fragment):
    with pytest.raises(ValidationError) as err:
        read_accounts(text)
    assert [i.column for i in err.value.issues] == [column]
    assert fragment in err.value.issues[0].rule


def test_accounts_refuse_aliases_malformed_yaml_and_non_mappings():
    bomb = b"x: &a [1, 2]\naccounts:\n  - {account_id: a, initial_capital: 1, limits: *a}\n"
    with pytest.raises(InputError, match="line 3, column 49: YAML aliases"):
        read_accounts(bomb)
    with pytest.raises(InputError, match="malformed YAML at line 3, column 1: expected .,. or .}."):
        read_accounts(b"accounts:\n  - {account_id: a\n")
    with pytest.raises(ValidationError, match="must be a YAML mapping"):
        read_accounts(b"- 1\n- 2\n")


def test_an_oversized_accounts_file_is_refused(monkeypatch):
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "1")
    with pytest.raises(InputError, match="STRESSLAB_MAX_INPUT_MB"):
        read_accounts(b"#" * (2**20 + 1))


def test_a_latin1_accounts_file_is_read():
    text = "accounts:\n  - {account_id: caf\u00e9, initial_capital: 1}\n".encode("latin-1")
    assert read_accounts(io.BytesIO(text).read()).ids == ["caf\u00e9"]


# --------------------------------------------------------------------------- fuzzing

cell = st.one_of(st.none(), st.text(max_size=12), st.integers(-10**20, 10**20),
                 st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.sampled_from(["buy", "SELL", "2024-01-02T10:00:00Z", "AAA", "1e3", " "]))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(cell, min_size=8, max_size=8), min_size=1, max_size=6))
def test_any_blotter_is_read_or_refused_with_every_problem(rows):
    frame = pd.DataFrame(rows, columns=list(TRADE_COLUMNS), dtype=object)
    prices = validate_price_feed(pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z"],
                                               "instrument": ["AAA"], "price": [1.0]}))
    try:
        out = validate_trades(frame, prices=prices)
    except ValidationError as exc:
        assert all(1 <= i.row <= len(rows) for i in exc.issues)
    else:
        assert (out["quantity"] > 0).all() and (out["price"] > 0).all()
        assert (out["fees"] >= 0).all() and set(out["side"]) <= {"buy", "sell"}
        assert out["trade_id"].is_unique


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=6))
def test_any_price_feed_is_read_or_refused_with_every_problem(rows):
    frame = pd.DataFrame(rows, columns=["timestamp", "instrument", "price"], dtype=object)
    try:
        out = validate_price_feed(frame)
    except ValidationError as exc:
        assert all(1 <= i.row <= len(rows) for i in exc.issues)
    else:
        assert (out["price"] > 0).all() and out["timestamp"].is_monotonic_increasing
