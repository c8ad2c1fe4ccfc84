"""Positions at average cost, marks, P&L and account ratios of many accounts at once.

Conventions (NautilusTrader's position model, ``crates/model/src/position.rs``,
``Position::apply``, ``handle_buy_order_fill`` / ``handle_sell_order_fill`` and
``calculate_avg_px``; its flip split in ``crates/execution/src/engine/mod.rs``,
``flip_position``; nautechsystems/nautilus_trader at commit a95c8042):

- **Position.** A signed quantity (long > 0, short < 0) at an average cost. A trade on the side
  of the position (or on a flat one) adds to it at the quantity-weighted average of the old
  cost and the trade price: ``(|q| a + |t| p) / (|q| + |t|)``.
- **Reduce.** A trade against the position closes ``min(|t|, |q|)`` and realizes
  ``(p - a) x closed x sign(q)``; the rest of the position keeps its average cost.
- **Flip.** A trade larger than the position closes all of it (realizing as above) and opens
  the remainder ``|t| - |q|`` at the trade price (Nautilus splits the fill in two the same
  way). A full close leaves the position flat, its average cost reset.
- **Fees** are charged to realized P&L when the trade happens, in full (Nautilus charges each
  fill's commission to its position's realized P&L; on a flip it splits it pro rata between the
  closed and the new position, which sums to the same account figure).
- **Zero.** A quantity within 1e-12 of the larger of ``|q|`` and ``|t|`` is zero (Nautilus
  rounds quantities to the instrument's size precision; this is the float equivalent).
- **Marking.** A position is marked at the latest price-feed price at or before the time; a
  trade's own price never marks (a trade moves quantity and cost, not the mark).
- **P&L**, per account, currency: ``unrealized = sum q (mark - a)``; ``realized`` = the sum of
  realizations less fees; ``total_pl = realized + unrealized``; ``daily_pl = total_pl now -
  total_pl at the end of the previous UTC day`` (0 before the first day ends);
  ``market_value = sum q mark``; ``total_exposure = sum |q| mark``.
- **Ratios.** ``equity = initial_capital + total_pl``; ``current_leverage = total_exposure /
  equity``; ``margin_utilization = total_exposure x required_margin_ratio / equity``; both are
  ``inf`` when equity <= 0 with exposure left (0 without exposure). ``instrument_count`` (and
  ``position_count``: positions net per instrument, so the two agree) = instruments with a
  non-zero position.
- **Drawdown** (for the ``max_drawdown`` limit), currency: the end-of-day high-water mark of
  equity (at least the initial capital) less equity now, at least 0.

The identity ``total_pl = sum(sell qty x price) - sum(buy qty x price) - fees + sum(q x mark)``
(the P&L of the cash flows) holds exactly in real arithmetic; a property test checks it.

Speed: a trade or a price tick is O(1) (a few scalar operations on the book's arrays); an
account's snapshot is O(n_instruments) with numpy; the end of a UTC day (once per day) is
O(n_accounts x n_instruments). Memory: three float arrays of n_accounts x n_instruments
(quantity, average cost, realized P&L): 1.2 MB for 50 accounts x 1,000 instruments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from engine.errors import InputError
from engine.live._inputs import AccountsConfig

__all__ = [
    "NS_PER_DAY",
    "QTY_TOLERANCE",
    "AccountSnapshot",
    "Book",
    "Fill",
    "PLSnapshot",
    "apply_fill",
    "merge_events",
    "timestamps_ns",
]

#: Nanoseconds in a UTC day (timestamps are ns since 1970-01-01 UTC).
NS_PER_DAY = 86_400 * 10**9
#: Relative tolerance under which a quantity is zero (see the module docstring).
QTY_TOLERANCE = 1e-12


class Fill(NamedTuple):
    """A position after one trade: signed quantity, average cost, and the P&L the trade realized."""

    quantity: float
    avg_cost: float
    realized: float


def apply_fill(quantity: float, *, avg_cost: float, trade_quantity: float, price: float,
               fees: float = 0.0) -> Fill:
    """One trade applied to one position, at average cost (module docstring, "Position").

    Parameters
    ----------
    quantity : float
        The position's signed quantity before the trade (long > 0, short < 0).
    avg_cost : float
        Its average cost, currency per unit (ignored when flat).
    trade_quantity : float
        The trade's signed quantity: + for a buy, - for a sell; non-zero.
    price : float
        The trade price, currency per unit.
    fees : float, default 0
        The trade's fees, currency; they reduce the realized P&L.

    Returns
    -------
    Fill
        ``(quantity, avg_cost, realized)`` after the trade; ``realized`` is this trade's
        realized P&L (currency) net of ``fees``; ``avg_cost`` is 0 when the position is flat.

    Raises
    ------
    InputError
        A zero or non-finite ``trade_quantity``.

    Examples
    --------
    Long 10 at 100; sell 15 at 110: 10 close for +100, 5 open short at 110.

    >>> apply_fill(10.0, avg_cost=100.0, trade_quantity=-15.0, price=110.0)
    Fill(quantity=-5.0, avg_cost=110.0, realized=100.0)
    """
    q, t = quantity, trade_quantity
    if not (t != 0.0 and math.isfinite(t)):
        raise InputError(f"a trade quantity must be a non-zero number; got {t!r}")
    realized = -fees
    if q == 0.0 or (q > 0.0) == (t > 0.0):
        new = q + t
        return Fill(new, (abs(q) * avg_cost + abs(t) * price) / abs(new), realized)
    closed = min(abs(t), abs(q))
    realized += (price - avg_cost) * closed * (1.0 if q > 0.0 else -1.0)
    new = q + t
    if abs(new) <= QTY_TOLERANCE * max(abs(q), abs(t)):
        return Fill(0.0, 0.0, realized)
    if (new > 0.0) == (q > 0.0):
        return Fill(new, avg_cost, realized)
    return Fill(new, price, realized)


class PLSnapshot(BaseModel):
    """An account's P&L (the ``pl`` panel); currency except ``position_count``."""

    model_config = ConfigDict(frozen=True)

    total_pl: float
    unrealized_pl: float
    realized_pl: float
    daily_pl: float
    position_count: int
    market_value: float


class AccountSnapshot(BaseModel):
    """An account's positions summed up at one time (module docstring for each definition).

    Attributes
    ----------
    as_of : datetime or None
        The time of the last event applied (UTC), None before any.
    pl : PLSnapshot
    total_exposure, equity, peak_equity, drawdown, largest_position : float
        Currency. ``largest_position`` is the largest ``|q| x mark`` of one instrument.
    current_leverage, margin_utilization : float
        Multiples (``inf`` when equity <= 0 with exposure).
    instrument_count : int
    """

    model_config = ConfigDict(frozen=True)

    account_id: str
    as_of: datetime | None
    pl: PLSnapshot
    total_exposure: float
    equity: float
    peak_equity: float
    drawdown: float
    current_leverage: float
    margin_utilization: float
    instrument_count: int
    largest_position: float


def _ratio(num: float, equity: float) -> float:
    if num == 0.0:
        return 0.0
    return num / equity if equity > 0.0 else math.inf


class Book:
    """Positions, marks and P&L of every account of a desk over a fixed set of instruments.

    Events must come in time order (:meth:`apply_trade`, :meth:`set_price`); the first event of
    a new UTC day first closes the previous day (the P&L ``daily_pl`` is measured against, the
    end-of-day equity curve and the high-water mark).

    Parameters
    ----------
    accounts : AccountsConfig
        The accounts (initial capital and limits), in their order.
    instruments : sequence of str
        Every instrument that may trade or be priced.

    Attributes
    ----------
    quantity, avg_cost, realized : ndarray of shape (n_accounts, n_instruments)
        Signed quantities (units), average costs (currency per unit) and realized P&L net of
        fees (currency) by account and instrument.
    mark : ndarray of shape (n_instruments,)
        The latest price of each instrument (NaN before its first).
    """

    def __init__(self, accounts: AccountsConfig, *, instruments: Sequence[str]) -> None:
        self.accounts = accounts
        self.account_ids: list[str] = accounts.ids
        self.instruments: list[str] = [str(i) for i in instruments]
        if len(set(self.instruments)) != len(self.instruments):
            raise InputError("an instrument is listed twice; list each once")
        self._acc = {a: k for k, a in enumerate(self.account_ids)}
        self._ins = {s: k for k, s in enumerate(self.instruments)}
        shape = (len(self.account_ids), len(self.instruments))
        self.quantity = np.zeros(shape)
        self.avg_cost = np.zeros(shape)
        self.realized = np.zeros(shape)
        self.mark = np.full(shape[1], np.nan)
        self.initial_capital = np.array([a.initial_capital for a in accounts.accounts])
        self.margin_ratio = np.array([a.limits.required_margin_ratio for a in accounts.accounts])
        self.prev_day_pl = np.zeros(shape[0])
        self.peak_equity = self.initial_capital.copy()
        self.time: int | None = None  # ns since the epoch, UTC
        self._day: int | None = None
        self._next_day = -(2**62)
        self.eod_days: list[int] = []  # UTC days (since the epoch) that have closed
        self.eod_equity: list[np.ndarray] = []  # equity of every account at each of their ends

    # ----------------------------------------------------------------- lookups

    def account_index(self, account_id: str) -> int:
        """The row of ``account_id``.

        Raises
        ------
        InputError
            If the account is not in the book.
        """
        try:
            return self._acc[account_id]
        except KeyError:
            raise InputError(f"account {account_id!r} is not in the accounts file; the accounts "
                             f"are {', '.join(self.account_ids)}") from None

    def instrument_index(self, instrument: str) -> int:
        """The column of ``instrument``.

        Raises
        ------
        InputError
            If the instrument is not in the book.
        """
        try:
            return self._ins[instrument]
        except KeyError:
            raise InputError(f"instrument {instrument!r} is not in the price feed") from None

    # ----------------------------------------------------------------- events

    def _advance(self, ts: int) -> None:
        if self.time is not None and ts < self.time:
            raise InputError(f"events must come in time order: {_iso(ts)} comes after "
                             f"{_iso(self.time)}")
        if ts >= self._next_day:
            if self._day is not None:
                self._close_day()
            self._day = ts // NS_PER_DAY
            self._next_day = (self._day + 1) * NS_PER_DAY
        self.time = ts

    def _close_day(self) -> None:
        pl = self.total_pl()
        equity = self.initial_capital + pl
        self.prev_day_pl = pl
        np.maximum(self.peak_equity, equity, out=self.peak_equity)
        self.eod_days.append(int(self._day))  # type: ignore[arg-type]
        self.eod_equity.append(equity)

    def apply_trade(self, account: int, *, instrument: int, quantity: float, price: float,
                    fees: float = 0.0, ts: int) -> float:
        """Apply one trade (O(1)).

        Parameters
        ----------
        account, instrument : int
            Row and column (:meth:`account_index`, :meth:`instrument_index`).
        quantity : float
            Signed: + buy, - sell; units.
        price, fees : float
            Currency per unit, and currency.
        ts : int
            The trade's time, ns since the epoch, UTC; not before the previous event.

        Returns
        -------
        float
            The P&L the trade realized, net of fees, currency.

        Raises
        ------
        InputError
            An event out of time order.
        """
        self._advance(ts)
        q = float(self.quantity[account, instrument])
        fill = apply_fill(q, avg_cost=float(self.avg_cost[account, instrument]),
                          trade_quantity=quantity, price=price, fees=fees)
        self.quantity[account, instrument] = fill.quantity
        self.avg_cost[account, instrument] = fill.avg_cost
        self.realized[account, instrument] += fill.realized
        return fill.realized

    def advance(self, ts: int) -> None:
        """Move the clock to ``ts`` without a trade or a price (e.g. for a rejected trade).

        The first event of a new UTC day closes the previous day, whatever the event is.

        Raises
        ------
        InputError
            ``ts`` before the previous event.
        """
        self._advance(ts)

    def set_price(self, instrument: int, *, price: float, ts: int) -> None:
        """Mark ``instrument`` at ``price`` from time ``ts`` on (O(1)).

        Raises
        ------
        InputError
            An event out of time order.
        """
        self._advance(ts)
        self.mark[instrument] = price

    def apply_events(self, events: pd.DataFrame) -> np.ndarray:
        """Apply a time-ordered stream of trades and price ticks.

        Parameters
        ----------
        events : DataFrame of shape (n_events, 6)
            Columns ``ts`` (int64 ns UTC), ``kind`` (0 trade, 1 price), ``account`` (int; any
            value for a price), ``instrument`` (int), ``quantity`` (signed; any value for a
            price), ``price``, ``fees``; as :func:`merge_events` returns.

        Returns
        -------
        ndarray of shape (n_events,)
            The realized P&L of each trade net of fees (0 for a price), currency.

        Raises
        ------
        InputError
            An event out of time order.
        """
        ts = events["ts"].to_numpy(dtype=np.int64).tolist()
        kind = events["kind"].to_numpy().tolist()
        acc = events["account"].to_numpy().tolist()
        ins = events["instrument"].to_numpy().tolist()
        qty = events["quantity"].to_numpy(dtype=float).tolist()
        px = events["price"].to_numpy(dtype=float).tolist()
        fee = events["fees"].to_numpy(dtype=float).tolist()
        out = np.zeros(len(ts))
        for k in range(len(ts)):
            if kind[k] == 0:
                out[k] = self.apply_trade(acc[k], instrument=ins[k], quantity=qty[k], price=px[k],
                                          fees=fee[k], ts=ts[k])
            else:
                self.set_price(ins[k], price=px[k], ts=ts[k])
        return out

    # ----------------------------------------------------------------- state

    def copy(self) -> Book:
        """An independent copy: its arrays and closed days are copied, its accounts shared
        (frozen). Used to compute a batch of events that may have to be computed again."""
        new = object.__new__(Book)
        new.__dict__.update(self.__dict__)
        for name in ("quantity", "avg_cost", "realized", "mark", "prev_day_pl", "peak_equity"):
            setattr(new, name, getattr(self, name).copy())
        new.eod_days = list(self.eod_days)
        new.eod_equity = list(self.eod_equity)
        return new

    def restore(self, *, quantity: np.ndarray, avg_cost: np.ndarray, realized: np.ndarray,
                mark: np.ndarray, time: int | None, eod_days: Sequence[int],
                eod_pl: np.ndarray, eod_equity: np.ndarray) -> None:
        """Set the book to a stored state, as it was after its last event.

        The day's reference P&L is the last closed day's ``total_pl`` and the high-water mark
        the largest of the initial capital and every end-of-day equity, exactly as
        :meth:`apply_trade` and :meth:`set_price` leave them (so a restored book goes on as if it
        had never stopped).

        Parameters
        ----------
        quantity, avg_cost, realized : ndarray of shape (n_accounts, n_instruments)
            Units, currency per unit, currency.
        mark : ndarray of shape (n_instruments,)
            Latest prices, NaN where none yet.
        time : int or None
            The last event's time, ns since the epoch UTC (None before any event).
        eod_days : sequence of int
            The closed UTC days (days since the epoch), in order.
        eod_pl, eod_equity : ndarray of shape (n_closed_days, n_accounts)
            ``total_pl`` and equity of every account at the end of each closed day, currency.

        Raises
        ------
        InputError
            Arrays whose shapes do not match the book.
        """
        shape = self.quantity.shape
        arrays = [np.asarray(a, dtype=float) for a in (quantity, avg_cost, realized)]
        days = [int(d) for d in eod_days]
        pl = np.asarray(eod_pl, dtype=float).reshape(len(days), shape[0])
        equity = np.asarray(eod_equity, dtype=float).reshape(len(days), shape[0])
        marks = np.asarray(mark, dtype=float)
        if any(a.shape != shape for a in arrays) or marks.shape != (shape[1],):
            raise InputError(f"a stored book of another shape cannot be restored into a book of "
                             f"{shape[0]} accounts x {shape[1]} instruments")
        self.quantity, self.avg_cost, self.realized = (a.copy() for a in arrays)
        self.mark = marks.copy()
        self.eod_days = days
        self.eod_equity = [row.copy() for row in equity]
        self.prev_day_pl = pl[-1].copy() if days else np.zeros(shape[0])
        self.peak_equity = np.maximum(self.initial_capital, equity.max(axis=0, initial=-np.inf))
        self.time = None if time is None else int(time)
        self._day = None if time is None else int(time) // NS_PER_DAY
        self._next_day = -(2**62) if self._day is None else (self._day + 1) * NS_PER_DAY

    # ----------------------------------------------------------------- figures

    def total_pl(self) -> np.ndarray:
        """``total_pl`` of every account, currency; shape (n_accounts,).

        Raises
        ------
        InputError
            A non-zero position in an instrument that has no price yet.
        """
        q = self.quantity
        held = q != 0.0
        unreal = np.where(held, q * (self.mark - self.avg_cost), 0.0)
        self._check_marked(held)
        return self.realized.sum(axis=1) + unreal.sum(axis=1)

    def _check_marked(self, held: np.ndarray) -> None:
        bad = held & np.isnan(self.mark)
        if bad.any():
            a, i = (int(x[0]) for x in np.nonzero(bad))
            raise InputError(f"account {self.account_ids[a]!r} holds {self.instruments[i]!r}, "
                             "which has no price yet; a position is marked only by the price feed")

    def values(self, account: int) -> np.ndarray:
        """Signed market value ``q x mark`` of each instrument, currency; shape (n_instruments,)."""
        q = self.quantity[account]
        held = q != 0.0
        self._check_marked(held[None, :])
        return np.where(held, q * self.mark, 0.0)

    def snapshot(self, account: int) -> AccountSnapshot:
        """The account's P&L, exposure and ratios now (O(n_instruments)).

        Raises
        ------
        InputError
            A non-zero position in an instrument that has no price yet.
        """
        q = self.quantity[account]
        held = q != 0.0
        self._check_marked(held[None, :])
        mark = np.where(held, self.mark, 0.0)
        unrealized = float(np.dot(q, mark - np.where(held, self.avg_cost[account], 0.0)))
        realized = float(self.realized[account].sum())
        total = realized + unrealized
        exposure_i = np.abs(q) * mark
        exposure = float(exposure_i.sum())
        equity = float(self.initial_capital[account]) + total
        peak = max(float(self.peak_equity[account]), equity)
        count = int(held.sum())
        pl = PLSnapshot(total_pl=total, unrealized_pl=unrealized, realized_pl=realized,
                        daily_pl=total - float(self.prev_day_pl[account]), position_count=count,
                        market_value=float(np.dot(q, mark)))
        return AccountSnapshot(
            account_id=self.account_ids[account],
            as_of=None if self.time is None else _datetime(self.time), pl=pl,
            total_exposure=exposure, equity=equity, peak_equity=peak, drawdown=peak - equity,
            current_leverage=_ratio(exposure, equity),
            margin_utilization=_ratio(exposure * float(self.margin_ratio[account]), equity),
            instrument_count=count, largest_position=float(exposure_i.max(initial=0.0)))

    def positions(self, account: int) -> pd.DataFrame:
        """The account's non-zero positions and every instrument it has realized P&L in.

        Returns
        -------
        DataFrame
            One row per instrument: ``instrument``, ``quantity`` (units), ``avg_cost``, ``mark``
            (currency per unit), ``market_value``, ``unrealized_pl``, ``realized_pl`` and
            ``total_pl`` (currency).
        """
        q = self.quantity[account]
        keep = (q != 0.0) | (self.realized[account] != 0.0)
        held = q[keep] != 0.0
        mark = self.mark[keep]
        unreal = np.where(held, q[keep] * (mark - self.avg_cost[account][keep]), 0.0)
        real = self.realized[account][keep]
        return pd.DataFrame({
            "instrument": np.array(self.instruments, dtype=object)[keep], "quantity": q[keep],
            "avg_cost": self.avg_cost[account][keep], "mark": mark,
            "market_value": np.where(held, q[keep] * mark, 0.0), "unrealized_pl": unreal,
            "realized_pl": real, "total_pl": real + unreal,
        })

    def pl_by_instrument(self, account: int) -> pd.Series:
        """``realized + unrealized`` P&L of each instrument the account traded, currency."""
        frame = self.positions(account)
        return pd.Series(frame["total_pl"].to_numpy(), index=frame["instrument"].to_numpy(),
                         name="total_pl")

    def equity_curve(self, account: int) -> pd.Series:
        """End-of-day equity of the account for each closed UTC day, currency.

        Returns
        -------
        Series of shape (n_closed_days,)
            Indexed by the UTC dates (DatetimeIndex at midnight, UTC).
        """
        index = pd.DatetimeIndex(pd.to_datetime(np.array(self.eod_days, dtype=np.int64) * NS_PER_DAY,
                                                utc=True), name="date")
        values = [float(e[account]) for e in self.eod_equity]
        return pd.Series(values, index=index, name="equity", dtype=float)


def timestamps_ns(values: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds since the epoch; shape (n,)."""
    index = pd.DatetimeIndex(values)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return index.as_unit("ns").asi8.copy()


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _datetime(ns: int) -> datetime:
    """ns since the epoch as a UTC datetime (to the microsecond below, as datetime holds)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, unit="ns", tz=timezone.utc).isoformat()


def merge_events(trades: pd.DataFrame, *, prices: pd.DataFrame, book: Book) -> pd.DataFrame:
    """Trades and price ticks as one stream in replay order, coded for :meth:`Book.apply_events`.

    Order: by time; at equal times trades come before prices, then each in file order. Take
    snapshots after the last event of a time: a trade at the time of its instrument's first
    price is marked by that price, which follows it.

    Parameters
    ----------
    trades : DataFrame
        A validated blotter (:func:`engine.live.validate_trades`).
    prices : DataFrame
        A validated long feed (:func:`engine.live.validate_price_feed`).
    book : Book
        Gives the account rows and instrument columns.

    Returns
    -------
    DataFrame of shape (n_trades + n_ticks, 8)
        Columns ``ts`` (int64 ns UTC), ``kind`` (0 trade, 1 price), ``account``, ``instrument``
        (int), ``quantity`` (signed), ``price``, ``fees`` and ``source_row`` (the 0-based row in
        its own input).

    Raises
    ------
    InputError
        An account or instrument that is not in the book.
    """
    def codes(values: pd.Series, lookup: dict[str, int], what: str) -> np.ndarray:
        out = values.map(lookup)
        if out.isna().any():
            bad = values[out.isna()].iloc[0]
            raise InputError(f"{what} {bad!r} is not in the book")
        return out.to_numpy(dtype=np.int64)

    sign = np.where(trades["side"].to_numpy() == "buy", 1.0, -1.0)
    t = pd.DataFrame({
        "ts": timestamps_ns(trades["timestamp"]),
        "kind": np.zeros(len(trades), dtype=np.int8),
        "account": codes(trades["account_id"], book._acc, "account"),
        "instrument": codes(trades["instrument"], book._ins, "instrument"),
        "quantity": sign * trades["quantity"].to_numpy(dtype=float),
        "price": trades["price"].to_numpy(dtype=float),
        "fees": trades["fees"].to_numpy(dtype=float),
        "source_row": np.arange(len(trades)),
    })
    p = pd.DataFrame({
        "ts": timestamps_ns(prices["timestamp"]),
        "kind": np.ones(len(prices), dtype=np.int8),
        "account": np.full(len(prices), -1, dtype=np.int64),
        "instrument": codes(prices["instrument"], book._ins, "instrument"),
        "quantity": np.zeros(len(prices)), "price": prices["price"].to_numpy(dtype=float),
        "fees": np.zeros(len(prices)), "source_row": np.arange(len(prices)),
    })
    events = pd.concat([t, p], ignore_index=True)
    return events.sort_values(["ts", "kind", "source_row"], kind="stable").reset_index(drop=True)
