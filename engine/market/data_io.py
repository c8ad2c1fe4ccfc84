"""Price histories and positions: the bundled data, uploaded CSV files, and their validation.

Prices are a :class:`pandas.DataFrame` indexed by a strictly increasing ``DatetimeIndex`` with one
column per instrument, every value finite and positive. Positions are rows (account, instrument,
quantity or weight). Every problem in a file is collected into one
:class:`~engine.errors.ValidationError` naming row, column, value and rule.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from engine.bundled import data_file
from engine.errors import InputError, Issue, ValidationError

__all__ = [
    "BUNDLED_PRICES",
    "DEFAULT_POSITIONS",
    "load_bundled_prices",
    "load_default_positions",
    "loss_series",
    "read_positions_csv",
    "read_prices_csv",
    "simple_returns",
    "validate_positions",
    "validate_prices",
    "position_values",
]

#: The bundled skfolio S&P 500 data (folder under :func:`engine.bundled.data_dir`; see its
#: PROVENANCE.md).
BUNDLED_PRICES = "market_equities_skfolio"
#: The default positions file shipped with the engine.
DEFAULT_POSITIONS = Path(__file__).resolve().parent / "data" / "positions.csv"

Source = str | Path | IO[bytes] | IO[str] | bytes


def _read_csv(source: Source, what: str) -> pd.DataFrame:
    """A CSV file or upload as a DataFrame, read within the input limits of :mod:`engine.limits`
    (size, rows, columns, cell length; a gzip stream is inflated under a cap) and in any text
    encoding the pool readers accept (UTF-8 with or without BOM, UTF-16, cp1252, latin-1)."""
    from engine.ingest import read_source

    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise InputError(f"{what}: file not found: {source}")
    filename = Path(source).name if isinstance(source, (str, Path)) else None
    return read_source(source, filename=filename, subject=what, kinds=("csv", "csv.gz")).frame


def load_bundled_prices(*, include_index: bool = True) -> pd.DataFrame:
    """Daily adjusted closes of 20 S&P 500 stocks (and the index as ``SP500``), 1990-01-02 … 2022-12-28.

    Returns
    -------
    DataFrame of shape (8313, 21) (or (8313, 20) without the index), price units, indexed by date.
    """
    return _bundled_prices(include_index).copy()


@lru_cache(maxsize=2)
def _bundled_prices(include_index: bool) -> pd.DataFrame:
    """The bundled prices read once per process (callers get a copy)."""
    stocks = pd.read_csv(data_file(BUNDLED_PRICES, "sp500_dataset.csv.gz"), parse_dates=["Date"],
                         index_col="Date")
    if include_index:
        index = pd.read_csv(data_file(BUNDLED_PRICES, "sp500_index.csv.gz"), parse_dates=["Date"],
                            index_col="Date")
        stocks = stocks.join(index, how="inner")
    stocks.index.name = "date"
    return stocks.astype(float)


def validate_prices(frame: pd.DataFrame, *, subject: str = "prices") -> pd.DataFrame:
    """Check a raw price table and return it indexed by date with float columns.

    Parameters
    ----------
    frame : DataFrame
        A date column (named ``date``, case-insensitive, else the first column) and one column per
        instrument, prices in currency units.

    Returns
    -------
    DataFrame of shape (n_days, n_instruments), indexed by a strictly increasing DatetimeIndex.

    Raises
    ------
    ValidationError
        For every unparseable, duplicate or out-of-order date, and every missing, non-numeric or
        non-positive price (row numbers count data rows from 1).
    """
    if frame.shape[1] < 2:
        raise ValidationError([Issue(None, None, None, "need a date column and at least one "
                                     "instrument column")], subject=subject)
    date_col = next((c for c in frame.columns if str(c).strip().lower() == "date"),
                    frame.columns[0])
    issues: list[Issue] = []
    dates = pd.to_datetime(frame[date_col], errors="coerce")
    for i in np.flatnonzero(dates.isna().to_numpy()):
        issues.append(Issue(int(i) + 1, str(date_col), frame[date_col].iloc[i],
                            "not a date (use YYYY-MM-DD)"))
    dup = dates.duplicated(keep="first").to_numpy() & dates.notna().to_numpy()
    for i in np.flatnonzero(dup):
        issues.append(Issue(int(i) + 1, str(date_col), str(dates.iloc[i].date()),
                            "duplicate date"))
    d = dates.to_numpy()
    for i in range(1, len(d)):
        if not (pd.isna(d[i]) or pd.isna(d[i - 1])) and d[i] < d[i - 1]:
            issues.append(Issue(i + 1, str(date_col), str(dates.iloc[i].date()),
                                "dates must be sorted ascending"))
    values = {}
    for col in frame.columns:
        if col == date_col:
            continue
        num = pd.to_numeric(frame[col], errors="coerce")
        raw = frame[col]
        arr = num.to_numpy(dtype=float)
        for i in np.flatnonzero(~np.isfinite(arr)):
            rule = "missing price (NaN)" if pd.isna(raw.iloc[i]) else "not a finite number"
            issues.append(Issue(int(i) + 1, str(col), None if pd.isna(raw.iloc[i]) else raw.iloc[i],
                                rule))
        for i in np.flatnonzero(np.isfinite(arr) & (arr <= 0)):
            issues.append(Issue(int(i) + 1, str(col), float(arr[i]), "price must be positive"))
        values[str(col)] = arr
    if len(frame) < 2:
        issues.append(Issue(None, None, len(frame), "need at least two dates to form a return"))
    if issues:
        issues.sort(key=lambda x: (x.row or 0))
        raise ValidationError(issues, subject=subject)
    out = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"))
    return out


def read_prices_csv(source: Source, *, subject: str = "price file") -> pd.DataFrame:
    """Read and validate an uploaded price history (CSV: a date column, one column per instrument)."""
    return validate_prices(_read_csv(source, subject), subject=subject)


def validate_positions(frame: pd.DataFrame, *, instruments: list[str] | None = None,
                       subject: str = "positions") -> pd.DataFrame:
    """Check positions: columns ``account``, ``instrument`` and ``quantity`` or ``weight``.

``account`` may be left out (a weights file): every row then belongs to account ``portfolio``.

    Optional column ``adv``: average daily traded value of the instrument (currency), used by the
    liquidity sensor.

    Returns
    -------
    DataFrame with columns account, instrument, quantity or weight (float), [adv].

    Raises
    ------
    ValidationError
        Missing columns, empty account or instrument, a non-finite quantity/weight, or an
        instrument missing from the price history (when ``instruments`` is given).
    """
    cols = {str(c).strip().lower(): c for c in frame.columns}
    issues: list[Issue] = []
    if "instrument" not in cols:
        issues.append(Issue(None, "instrument", None, "required column is missing"))
    size_col = "quantity" if "quantity" in cols else "weight" if "weight" in cols else None
    if size_col is None:
        issues.append(Issue(None, "quantity", None, "need a 'quantity' or a 'weight' column"))
    if issues:
        raise ValidationError(issues, subject=subject)
    if "account" not in cols:  # a weights file without accounts: one portfolio
        frame = frame.assign(account="portfolio")
        cols["account"] = "account"
    out = pd.DataFrame({
        "account": frame[cols["account"]].astype(str).str.strip(),
        "instrument": frame[cols["instrument"]].astype(str).str.strip(),
        size_col: pd.to_numeric(frame[cols[size_col]], errors="coerce").astype(float),
    })
    if "adv" in cols:
        out["adv"] = pd.to_numeric(frame[cols["adv"]], errors="coerce").astype(float)
    known = set(instruments) if instruments is not None else None
    for i in range(len(out)):
        row = i + 1
        if frame[cols["account"]].isna().iloc[i] or not out["account"].iloc[i]:
            issues.append(Issue(row, "account", None, "account is empty"))
        inst = out["instrument"].iloc[i]
        if frame[cols["instrument"]].isna().iloc[i] or not inst:
            issues.append(Issue(row, "instrument", None, "instrument is empty"))
        elif known is not None and inst not in known:
            issues.append(Issue(row, "instrument", inst, "instrument not in the price history"))
        v = out[size_col].iloc[i]
        if not np.isfinite(v):
            issues.append(Issue(row, size_col, frame[cols[size_col]].iloc[i],
                                f"{size_col} must be a finite number"))
        if "adv" in out and not (np.isfinite(out["adv"].iloc[i]) and out["adv"].iloc[i] > 0):
            issues.append(Issue(row, "adv", frame[cols["adv"]].iloc[i],
                                "adv (average daily traded value) must be a positive number"))
    if len(out) == 0:
        issues.append(Issue(None, None, None, "no positions"))
    if issues:
        raise ValidationError(issues, subject=subject)
    return out


def read_positions_csv(source: Source, *, instruments: list[str] | None = None,
                       subject: str = "positions file") -> pd.DataFrame:
    """Read and validate positions (CSV: account, instrument, quantity or weight[, adv])."""
    return validate_positions(_read_csv(source, subject), instruments=instruments, subject=subject)


def load_default_positions() -> pd.DataFrame:
    """The positions shipped with the engine (three accounts over the bundled stocks)."""
    return read_positions_csv(DEFAULT_POSITIONS, subject="default positions")


def position_values(positions: pd.DataFrame, *, prices: pd.DataFrame,
                    notional: float | None = None) -> pd.Series:
    """Market value per instrument (currency), summed over accounts, at the last price.

    ``quantity`` positions are valued at the last price; ``weight`` positions as weight × notional.

    Returns
    -------
    Series indexed by instrument (in price-column order), currency units; signed (short < 0).

    Raises
    ------
    InputError
        Weights given without a positive ``notional``; instruments missing from the prices.
    """
    missing = sorted(set(positions["instrument"]) - set(prices.columns))
    if missing:
        raise ValidationError([Issue(None, "instrument", m, "instrument not in the price history")
                               for m in missing], subject="positions")
    if "quantity" in positions:
        last = prices.iloc[-1]
        vals = positions["quantity"].to_numpy() * last.loc[positions["instrument"]].to_numpy()
    else:
        if notional is None or not np.isfinite(notional) or notional <= 0:
            raise InputError("positions are given as weights: state a positive notional "
                             "(portfolio value in currency), e.g. --notional 1000000")
        vals = positions["weight"].to_numpy() * float(notional)
    s = pd.Series(vals, index=positions["instrument"].to_numpy()).groupby(level=0).sum()
    return s.reindex([c for c in prices.columns if c in s.index])


def loss_series(prices: pd.DataFrame, *, column: str | None = None,
                weights: pd.Series | None = None) -> pd.Series:
    """Daily losses ``L_t = -r_t`` of one price column, or of a portfolio with fixed weights.

    Parameters
    ----------
    column : str, optional
        An instrument of ``prices``.
    weights : Series, optional
        Weights (or currency values) by instrument; losses are ``-sum_i w_i r_{t,i}``
        (rebalanced to the same weights every day).

    Returns
    -------
    Series of shape (n_days - 1,), indexed by date; a fraction of the value (or currency when
    ``weights`` are values).

    Raises
    ------
    InputError
        Neither or both of ``column``/``weights``; an unknown column or instrument.
    """
    if (column is None) == (weights is None):
        if column is None and prices.shape[1] == 1:
            column = str(prices.columns[0])
        else:
            raise InputError("choose one price column (--column NAME) or a weights file "
                             f"(--weights FILE); the prices hold {', '.join(map(str, prices.columns))}")
    if column is not None:
        if column not in prices.columns:
            raise InputError(f"column {column!r} is not in the prices; choose one of "
                             f"{', '.join(map(str, prices.columns))}")
        p = prices[column].to_numpy(dtype=float)
        return pd.Series(-(p[1:] / p[:-1] - 1.0), index=prices.index[1:], name=column)
    missing = sorted(set(weights.index) - set(prices.columns))
    if missing:
        raise ValidationError([Issue(None, "instrument", m, "instrument not in the price history")
                               for m in missing], subject="weights")
    r = simple_returns(prices[list(weights.index)]).to_numpy()
    return pd.Series(-(r @ weights.to_numpy(dtype=float)), index=prices.index[1:],
                     name="portfolio")


def simple_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Simple returns ``r_t = P_t / P_{t-1} - 1``; shape (n_days - 1, n_instruments), decimal."""
    arr = prices.to_numpy(dtype=float)
    return pd.DataFrame(arr[1:] / arr[:-1] - 1.0, index=prices.index[1:], columns=prices.columns)
