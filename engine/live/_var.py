"""The return window of the live desk: daily closes, var_95 and the exposure correlation.

- **Daily closes.** The close of an instrument on a UTC day is its last feed price that day. A
  day on which the feed prices some instruments but not this one carries its previous close (a
  zero return); a day on which the feed prices nothing (a holiday) is not a day of the table;
  before its first price an instrument has no close. The window uses completed days only (a day has no close until it
  ends), so it changes once a day and one window serves every account.
- **Returns.** Daily close-to-close simple returns ``r_t = C_t / C_{t-1} - 1``
  (:func:`engine.market.data_io.simple_returns`), the last :data:`VAR_LOOKBACK_DAYS` (252) of
  them; for a portfolio, the days before the last of its instruments has its first return are
  left out (closes are carried forward, so after its first return an instrument has one every
  day).
- **var_95.** Historical 1-day VaR at 95 % of the current positions held fixed: losses
  ``L_t = -sum_i v_i r_{t,i}`` with ``v_i = q_i x mark_i`` (currency), VaR the
  ``ceil(0.95 n)``-th smallest loss, no interpolation: engine.market's convention
  (:func:`engine.market.var.portfolio_losses`, :func:`engine.market.var.historical_var`).
  ``None`` with fewer than :data:`MIN_VAR_OBSERVATIONS` returns (below 20 returns the 95 %
  quantile is the single worst loss, ``ceil(0.95 n) = n``); 0 without positions.
- **correlation_risk.** The exposure-weighted mean pairwise correlation of the positions,
  signed so that a hedge counts against it:
  ``rho_bar = sum_{i != j} v_i v_j rho_ij / sum_{i != j} |v_i| |v_j|``, in [-1, 1], with
  ``rho_ij`` the Pearson correlation of daily returns over the window. A long-long pair of
  correlated stocks pushes it up; a long-short pair of the same stocks pushes it down. An
  instrument whose returns do not move in the window is uncorrelated with every other. 0 with
  fewer than two positions; ``None`` with too little history (as var_95).

Speed: both are O(n_days x n_held). The correlation is computed without the n x n matrix:
with ``z`` the standardised returns, ``sum_{i,j} v_i v_j rho_ij = |z v|^2 / (n_days - 1)``, so one
account with 1,000 positions costs one (252 x 1,000) product, not a 1,000 x 1,000 matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.errors import InputError

__all__ = [
    "MIN_VAR_OBSERVATIONS",
    "VAR_CONFIDENCE",
    "VAR_LOOKBACK_DAYS",
    "ReturnWindow",
    "daily_closes",
    "exposure_correlation",
    "var_95",
]

#: Daily returns in the VaR and correlation window.
VAR_LOOKBACK_DAYS = 252
#: The VaR confidence.
VAR_CONFIDENCE = 0.95
#: Fewest returns for a var_95 (see the module docstring).
MIN_VAR_OBSERVATIONS = 20


def daily_closes(prices: pd.DataFrame, *, before: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Daily closes of a long price feed: the last price of each instrument on each UTC day.

    Parameters
    ----------
    prices : DataFrame
        A validated long feed (``timestamp``, ``instrument``, ``price``).
    before : Timestamp or str, optional
        Use only prices strictly before this time (UTC); pass the start of the as-of UTC day to
        keep completed days only.

    Returns
    -------
    DataFrame of shape (n_days, n_instruments)
        Indexed by UTC date (midnight, UTC), one column per instrument, forward-filled;
        NaN before an instrument's first price.
    """
    feed = prices
    if before is not None:
        cut = pd.Timestamp(before)
        cut = cut.tz_localize("UTC") if cut.tz is None else cut.tz_convert("UTC")
        feed = feed[feed["timestamp"] < cut]
    if feed.empty:
        return pd.DataFrame(dtype=float)
    day = feed["timestamp"].dt.floor("D")
    closes = (feed.assign(date=day).sort_values("timestamp", kind="stable")
              .pivot_table(index="date", columns="instrument", values="price", aggfunc="last"))
    closes.columns = [str(c) for c in closes.columns]
    return closes.ffill()


@dataclass(frozen=True)
class ReturnWindow:
    """The last :data:`VAR_LOOKBACK_DAYS` daily simple returns of every instrument.

    Built once (per day) and shared by every account: it keeps, besides the returns, each
    instrument's first complete row, the returns with NaN as 0 and the standardised returns,
    so that an account whose instruments all have the whole window costs one matrix-vector
    product for var_95 and one for the correlation.

    Attributes
    ----------
    instruments : tuple of str
        Column order of ``returns``.
    returns : ndarray of shape (n_days, n_instruments)
        Simple returns, decimal; NaN where an instrument has no close yet.
    """

    instruments: tuple[str, ...]
    returns: np.ndarray
    _start: np.ndarray = field(init=False, repr=False, compare=False)
    _filled: np.ndarray = field(init=False, repr=False, compare=False)
    _z: np.ndarray = field(init=False, repr=False, compare=False)
    _moving: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        r = np.asarray(self.returns, dtype=float)
        if r.ndim != 2 or r.shape[1] != len(self.instruments):
            raise InputError(f"returns of shape {r.shape} do not match {len(self.instruments)} "
                             "instruments")
        finite = np.isfinite(r)
        # first row from which every later return is finite (n_days when none)
        tail_ok = np.flip(np.logical_and.accumulate(np.flip(finite, axis=0), axis=0), axis=0)
        start = (np.where(tail_ok.any(axis=0), np.argmax(tail_ok, axis=0), r.shape[0])
                 if r.shape[0] else np.zeros(r.shape[1], dtype=np.int64))
        filled = np.where(finite, r, 0.0)
        z, moving = _standardise(filled)
        whole = start == 0
        object.__setattr__(self, "returns", r)
        object.__setattr__(self, "_start", start)
        object.__setattr__(self, "_filled", filled)
        object.__setattr__(self, "_z", np.where(whole[None, :], z, 0.0))
        object.__setattr__(self, "_moving", moving & whole)

    def _rows(self, v: np.ndarray) -> tuple[int, np.ndarray]:
        """Usable rows for positions ``v`` (from the latest first-complete row of the held
        instruments) and the held columns."""
        v = np.asarray(v, dtype=float)
        if v.shape != (len(self.instruments),):
            raise InputError(f"{v.shape[0] if v.ndim else 0} position values do not match the "
                             f"{len(self.instruments)} instruments of the return window")
        held = np.flatnonzero(v != 0.0)
        first = int(self._start[held].max(initial=0))
        return first, held

    @classmethod
    def from_closes(cls, closes: pd.DataFrame, *, instruments: list[str] | None = None,
                    lookback: int = VAR_LOOKBACK_DAYS) -> ReturnWindow:
        """The window of the last ``lookback`` returns of ``closes`` (:func:`daily_closes`).

        Parameters
        ----------
        closes : DataFrame of shape (n_days, n_instruments)
            Daily closes.
        instruments : list of str, optional
            Column order (e.g. a :class:`~engine.live.Book`'s instruments); an instrument
            without closes gets NaN returns. Default: the columns of ``closes``.
        lookback : int, default 252
            Returns kept.

        Raises
        ------
        InputError
            ``lookback`` < 1.
        """
        from engine.market.data_io import simple_returns

        if lookback < 1:
            raise InputError("the VaR lookback must be at least 1 day")
        cols = list(closes.columns) if instruments is None else list(instruments)
        table = closes.reindex(columns=cols).astype(float)
        if len(table) < 2:
            return cls(tuple(cols), np.empty((0, len(cols))))
        with np.errstate(invalid="ignore"):
            r = simple_returns(table).to_numpy(dtype=float)[-lookback:]
        return cls(tuple(cols), r)



def var_95(values: np.ndarray, *, window: ReturnWindow,
           confidence: float = VAR_CONFIDENCE) -> float | None:
    """Historical 1-day VaR of the positions ``values`` (module docstring).

    Parameters
    ----------
    values : ndarray of shape (n_instruments,)
        Signed market values ``q x mark``, currency, in the window's instrument order.
    window : ReturnWindow
    confidence : float, default 0.95

    Returns
    -------
    float or None
        VaR, currency, a positive loss (it may be negative for a portfolio that gained on
        almost every day); 0 without positions; None with fewer than 20 usable returns.

    Raises
    ------
    InputError
        ``values`` of the wrong length; a confidence outside (0, 1).
    """
    from engine.market.var import historical_var, portfolio_losses

    v = np.asarray(values, dtype=float)
    first, held = window._rows(v)
    if held.size == 0:
        return 0.0
    n = window.returns.shape[0] - first
    if n < MIN_VAR_OBSERVATIONS:
        return None
    losses = portfolio_losses(window._filled[first:], v)
    return float(historical_var(losses, confidence))


def exposure_correlation(values: np.ndarray, *, window: ReturnWindow) -> float | None:
    """The signed exposure-weighted mean pairwise correlation (module docstring).

    Parameters
    ----------
    values : ndarray of shape (n_instruments,)
        Signed market values, currency, in the window's instrument order.
    window : ReturnWindow

    Returns
    -------
    float or None
        In [-1, 1]; 0 with fewer than two positions; None with fewer than 20 usable returns.

    Raises
    ------
    InputError
        ``values`` of the wrong length.
    """
    v = np.asarray(values, dtype=float)
    first, held = window._rows(v)
    if held.size < 2:
        return 0.0
    n = window.returns.shape[0] - first
    if n < MIN_VAR_OBSERVATIONS:
        return None
    if first == 0:
        z, moving = window._z, window._moving
    else:  # some held instrument started inside the window: standardise the common rows
        z, moving = _standardise(window._filled[first:])
    zv = z @ v
    all_pairs = float(zv @ zv) / (n - 1) - float(np.sum(np.where(moving, v, 0.0) ** 2))
    a = np.abs(v)
    weight = float(a.sum()) ** 2 - float(np.sum(a * a))
    return float(np.clip(all_pairs / weight, -1.0, 1.0))


def _standardise(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns standardised by column (mean 0, ddof=1 standard deviation 1), 0 for a column
    that does not move, and the mask of the columns that move; shape of ``r``."""
    if r.shape[0] < 2:
        return np.zeros_like(r), np.zeros(r.shape[1], dtype=bool)
    sd = r.std(axis=0, ddof=1)
    moving = sd > 0.0
    z = np.where(moving, (r - r.mean(axis=0)) / np.where(moving, sd, 1.0), 0.0)
    return z, moving
