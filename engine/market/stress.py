"""Historical stress replay: today's positions held through a past window of prices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from engine.errors import InputError

__all__ = ["PREDEFINED_WINDOWS", "StressResult", "StressWindow", "replay", "replay_all"]


class StressWindow(BaseModel):
    """A named historical window ``[start, end]`` (inclusive dates)."""

    model_config = ConfigDict(frozen=True)

    name: str
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _iso(cls, v: str) -> str:
        try:
            return str(pd.Timestamp(v).date())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a date: {v!r} (use YYYY-MM-DD)") from exc

    @model_validator(mode="after")
    def _ordered(self) -> StressWindow:
        if self.start >= self.end:
            raise ValueError(f"window {self.name!r}: start {self.start} must precede end {self.end}")
        return self


#: Predefined windows (S&P 500 drawdowns of -47.0 % and -33.9 %, see the data's PROVENANCE.md).
PREDEFINED_WINDOWS: tuple[StressWindow, ...] = (
    StressWindow(name="2008 crisis", start="2008-09-01", end="2009-03-31"),
    StressWindow(name="2020 crash", start="2020-02-15", end="2020-04-30"),
)


class StressResult(BaseModel):
    """The portfolio's loss and drawdown over one window (currency; loss positive)."""

    model_config = ConfigDict(frozen=True)

    name: str
    start: str
    end: str
    days: int
    loss: float  #: start value minus end value
    loss_pct: float  #: loss / start gross value
    max_drawdown: float  #: largest fall from a running peak, fraction of the peak value
    max_drawdown_amount: float  #: the same in currency
    worst_day_loss: float  #: largest one-day loss in currency


def replay(prices: pd.DataFrame, *, values: pd.Series, window: StressWindow) -> StressResult:
    """Replay ``window`` on buy-and-hold positions worth ``values`` at the window's base date.

    The base is the last close before ``window.start`` (the first close in the window if there is
    none); position ``i`` is worth ``v_i P_{i,t} / P_{i,base}`` on day ``t``.

    Parameters
    ----------
    prices : DataFrame of shape (n_days, n_assets)
        Validated prices indexed by date.
    values : Series of shape (n_positions,)
        Position values in currency, indexed by instrument (signed).

    Raises
    ------
    InputError
        The window does not overlap the price history, or an instrument is missing.
    """
    missing = [i for i in values.index if i not in prices.columns]
    if missing:
        raise InputError(f"instruments {missing} are not in the price history")
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    i0 = int(prices.index.searchsorted(start, side="left"))
    i1 = int(prices.index.searchsorted(end, side="right"))
    if i1 - i0 < 1:
        raise InputError(f"stress window {window.name!r} ({window.start} … {window.end}) has no "
                         f"prices; the history covers {prices.index[0].date()} … "
                         f"{prices.index[-1].date()}")
    base = max(i0 - 1, 0)
    p = prices[list(values.index)].to_numpy(dtype=float)[base:i1]
    v = values.to_numpy(dtype=float)
    path = (p / p[0]) @ v  # portfolio value per day, shape (days,)
    peak = np.maximum.accumulate(path)
    dd_amount = peak - path
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, dd_amount / peak, 0.0)
    daily = -np.diff(path)
    gross = float(np.abs(v).sum())
    loss = float(path[0] - path[-1])
    return StressResult(
        name=window.name, start=str(prices.index[i0].date()), end=str(prices.index[i1 - 1].date()),
        days=i1 - i0, loss=loss, loss_pct=loss / gross if gross else 0.0,
        max_drawdown=float(dd.max()), max_drawdown_amount=float(dd_amount.max()),
        worst_day_loss=float(daily.max()) if daily.size else 0.0)


def replay_all(
    prices: pd.DataFrame,
    *,
    values: pd.Series,
    windows: Sequence[StressWindow] = PREDEFINED_WINDOWS,
    skip_uncovered: bool = True,
) -> list[StressResult]:
    """Replay every window; predefined windows outside the history are skipped when asked."""
    out = []
    for w in windows:
        try:
            out.append(replay(prices, values=values, window=w))
        except InputError:
            if not skip_uncovered:
                raise
    return out
