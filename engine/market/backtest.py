"""Rolling VaR backtests: exceptions, Kupiec POF, Christoffersen, the Basel traffic light.

A backtest day ``t`` uses the ``window`` losses before ``t`` to forecast ``VaR_t``; an exception
is ``L_t > VaR_t`` (ARCHITECTURE.md, "Market risk conventions").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, ConfigDict

from engine.errors import InputError
from engine.market.var import METHODS, check_confidence, cornish_fisher_z, quantile_rank

__all__ = [
    "BASEL_PLUS_FACTORS",
    "BacktestResult",
    "BacktestRun",
    "TrafficLight",
    "backtest",
    "christoffersen",
    "kupiec_pof",
    "rolling_var",
    "traffic_light",
]

#: Basel Committee (1996), "Supervisory framework for the use of backtesting in conjunction with
#: the internal models approach to market risk capital requirements", Table 2: plus-factors of the
#: yellow zone at 99 % and 250 days, by exception count.
BASEL_PLUS_FACTORS: dict[int, float] = {5: 0.40, 6: 0.50, 7: 0.65, 8: 0.75, 9: 0.85}
GREEN_CUTOFF = 0.95
YELLOW_CUTOFF = 0.9999
BASE_MULTIPLIER = 3.0


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def _exception_counts(confidence: float, observations: int,
                      exceptions: int) -> tuple[float, int, int, float]:
    """Checked (confidence, observations, exceptions, expected exception rate 1 - confidence)."""
    c = check_confidence(confidence)
    n, x = int(observations), int(exceptions)
    if n < 1 or not 0 <= x <= n:
        raise InputError(f"need 0 <= exceptions <= observations and observations >= 1 "
                         f"(got {x} of {n})")
    return c, n, x, 1.0 - c


def kupiec_pof(exceptions: int, *, observations: int, confidence: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures likelihood-ratio test.

    ``LR_POF = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x]`` with ``p = 1 - c``,
    ``x`` exceptions in ``n`` days (``0 ln 0 = 0``); asymptotically chi-squared with 1 degree of
    freedom under correct coverage.

    Returns
    -------
    (LR, p-value) : tuple of float

    Raises
    ------
    InputError
        ``n < 1``, ``x`` outside [0, n], confidence outside (0, 1).

    References
    ----------
    Kupiec (1995), "Techniques for verifying the accuracy of risk measurement models",
    Journal of Derivatives 3(2), 73-84.
    """
    from scipy.stats import chi2

    c, n, x, p = _exception_counts(confidence, observations, exceptions)
    phat = x / n
    ll0 = _xlogy(n - x, 1 - p) + _xlogy(x, p)
    ll1 = _xlogy(n - x, 1 - phat) + _xlogy(x, phat)
    lr = max(0.0, -2.0 * (ll0 - ll1))
    return lr, float(chi2.sf(lr, 1))


@dataclass(frozen=True, slots=True)
class ChristoffersenResult:
    """Transition counts and the independence and conditional-coverage tests."""

    n00: int
    n01: int
    n10: int
    n11: int
    lr_ind: float
    p_value_ind: float
    lr_cc: float
    p_value_cc: float


def christoffersen(hits: np.ndarray, confidence: float) -> ChristoffersenResult:
    """Christoffersen's independence and conditional-coverage tests.

    With ``n_ij`` the number of days in state ``j`` following a day in state ``i`` (1 =
    exception), ``pi0 = n01/(n00+n01)``, ``pi1 = n11/(n10+n11)``, ``pi = (n01+n11)/(n - 1)``:

    ``LR_ind = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)]
    + 2 ln[(1-pi0)^n00 pi0^n01 (1-pi1)^n10 pi1^n11]`` ~ chi2(1);
    ``LR_cc = LR_POF + LR_ind`` ~ chi2(2), with ``LR_POF`` of Kupiec over all ``n`` days.

    Parameters
    ----------
    hits : ndarray of shape (n,)
        Exception indicator (bool or 0/1), in date order.

    References
    ----------
    Christoffersen (1998), "Evaluating interval forecasts", International Economic Review 39(4),
    841-862.
    """
    from scipy.stats import chi2

    h = np.asarray(hits).astype(bool)
    if h.ndim != 1 or h.size < 2:
        raise InputError("the Christoffersen test needs at least two days")
    a, b = h[:-1], h[1:]
    n00 = int(np.sum(~a & ~b))
    n01 = int(np.sum(~a & b))
    n10 = int(np.sum(a & ~b))
    n11 = int(np.sum(a & b))
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    ll0 = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    ll1 = (_xlogy(n00, 1 - pi0) + _xlogy(n01, pi0) + _xlogy(n10, 1 - pi1) + _xlogy(n11, pi1))
    lr_ind = max(0.0, -2.0 * (ll0 - ll1))
    lr_pof, _ = kupiec_pof(int(h.sum()), observations=h.size, confidence=confidence)
    lr_cc = lr_pof + lr_ind
    return ChristoffersenResult(n00, n01, n10, n11, lr_ind, float(chi2.sf(lr_ind, 1)), lr_cc,
                                float(chi2.sf(lr_cc, 2)))


class TrafficLight(BaseModel):
    """Basel traffic-light zone of an exception count, and the capital multiplier."""

    model_config = ConfigDict(frozen=True)

    zone: Literal["green", "yellow", "red"]
    exceptions: int
    observations: int
    confidence: float
    cumulative_probability: float
    green_max: int  #: largest green exception count
    yellow_max: int  #: largest yellow exception count
    plus_factor: float
    multiplier: float


def _zone_bounds(n: int, p: float) -> tuple[int, int]:
    from scipy.stats import binom

    xs = np.arange(n + 1)
    cdf = binom.cdf(xs, n, p)
    green_max = int(xs[cdf <= GREEN_CUTOFF].max()) if np.any(cdf <= GREEN_CUTOFF) else -1
    yellow_max = int(xs[cdf <= YELLOW_CUTOFF].max()) if np.any(cdf <= YELLOW_CUTOFF) else -1
    return green_max, yellow_max


def traffic_light(exceptions: int, *, observations: int, confidence: float = 0.99) -> TrafficLight:
    """The Basel traffic-light zone of ``x`` exceptions in ``n`` days at confidence ``c``.

    With ``F`` the binomial CDF of the exception count (``n`` days, probability ``1 - c``):
    green if ``F(x) <= 0.95``, yellow if ``F(x) <= 0.9999``, red above. At 99 % and 250 days this
    gives green 0-4, yellow 5-9, red 10+.

    Plus-factor: 0 in green, 1.00 in red; in yellow, the Basel Table 2 plus-factor (0.40, 0.50,
    0.65, 0.75, 0.85 for 5-9 exceptions at 99 %/250 days) of the smallest 99 %/250-day count whose
    cumulative probability reaches ``F(x)`` (the binomial rule, so that other confidences and day
    counts map onto the table by equal probability; it reproduces the table at 99 %/250 days).
    Multiplier = 3 + plus-factor.

    References
    ----------
    Basel Committee on Banking Supervision (1996), "Supervisory framework for the use of
    'backtesting' in conjunction with the internal models approach to market risk capital
    requirements", Table 2.
    """
    from scipy.stats import binom

    c, n, x, p = _exception_counts(confidence, observations, exceptions)
    cp = float(binom.cdf(x, n, p))
    green_max, yellow_max = _zone_bounds(n, p)
    if cp <= GREEN_CUTOFF:
        zone, plus = "green", 0.0
    elif cp <= YELLOW_CUTOFF:
        zone = "yellow"
        plus = BASEL_PLUS_FACTORS[9]
        for k in sorted(BASEL_PLUS_FACTORS):
            if binom.cdf(k, 250, 0.01) >= cp - 1e-12:
                plus = BASEL_PLUS_FACTORS[k]
                break
    else:
        zone, plus = "red", 1.0
    return TrafficLight(zone=zone, exceptions=x, observations=n, confidence=c,
                        cumulative_probability=cp, green_max=green_max, yellow_max=yellow_max,
                        plus_factor=plus, multiplier=BASE_MULTIPLIER + plus)


def rolling_var(
    losses: np.ndarray,
    *,
    window: int,
    confidence: float,
    method: str = "historical",
    n_sims: int = 10_000,
    seed: int = 0,
) -> np.ndarray:
    """One-day VaR forecasts from a rolling window, vectorised.

    ``VaR[j]`` forecasts day ``t = window + j`` from ``losses[t - window : t]``.

    Parameters
    ----------
    losses : ndarray of shape (n,)
        Losses in date order, n > window.
    window : int
        Number of past losses per forecast.
    method : {"historical", "parametric", "cornish_fisher", "monte_carlo"}
        ``historical``: the ``ceil(c * window)``-th smallest (``np.partition`` over a
        ``sliding_window_view``). ``parametric``: ``mu + sigma z_c``. ``cornish_fisher``: ``mu +
        sigma z_cf`` with the window's biased skewness and excess kurtosis. ``monte_carlo``: ``mu
        + sigma q``, ``q`` the same-rank order statistic of ``n_sims`` standard normal draws
        (seeded, common to every window).

    Returns
    -------
    ndarray of shape (n - window,)

    Raises
    ------
    InputError
        ``window < 2`` or ``window >= n`` (longer than the history), unknown method, bad
        confidence.
    """
    from scipy.stats import norm

    c = check_confidence(confidence)
    x = np.asarray(losses, dtype=float)
    n = x.size
    if window < 2:
        raise InputError(f"window {window}: must be at least 2 days")
    if window >= n:
        raise InputError(f"window of {window} days is longer than the history: only {n} losses "
                         f"({n - 1} usable before the last day); shorten the window or supply "
                         "more history")
    if method not in METHODS:
        raise InputError(f"method {method!r}: use one of {', '.join(METHODS)}")
    w = sliding_window_view(x[:-1], window)  # shape (n - window, window), row j ends at t-1
    if method == "historical":
        k = quantile_rank(c, window)
        return np.partition(w, k - 1, axis=1)[:, k - 1]
    mu = w.mean(axis=1)
    d = w - mu[:, None]
    m2 = np.mean(d * d, axis=1)
    sigma = np.sqrt(m2 * window / (window - 1))
    if method == "parametric":
        return mu + sigma * float(norm.ppf(c))
    if method == "cornish_fisher":
        d2 = d * d  # products, not d**3 / d**4: numpy's float power is ~20x slower
        with np.errstate(invalid="ignore", divide="ignore"):
            skew = np.mean(d2 * d, axis=1) / (m2 * np.sqrt(m2))
            kurt = np.mean(d2 * d2, axis=1) / (m2 * m2) - 3.0
        skew = np.where(np.isfinite(skew), skew, 0.0)
        kurt = np.where(np.isfinite(kurt), kurt, 0.0)
        z_cf = cornish_fisher_z(float(norm.ppf(c)), skewness=skew, excess_kurtosis=kurt)
        return mu + sigma * z_cf
    z = np.random.default_rng(seed).standard_normal(n_sims)
    k = quantile_rank(c, n_sims)
    q = float(np.partition(z, k - 1)[k - 1])
    return mu + sigma * q


class BacktestResult(BaseModel):
    """Summary of a VaR backtest; JSON keys are the field's standard names."""

    model_config = ConfigDict(frozen=True)

    method: str
    confidence: float
    window: int
    start: str
    end: str
    observations: int
    exceptions: int
    expected_exceptions: float
    exception_rate: float
    kupiec_lr: float
    kupiec_p_value: float
    christoffersen_lr_ind: float
    christoffersen_p_value: float
    christoffersen_lr_cc: float
    christoffersen_cc_p_value: float
    traffic_light: Literal["green", "yellow", "red"]
    cumulative_probability: float
    plus_factor: float
    multiplier: float

    def to_frame(self) -> pd.DataFrame:
        """The summary as a two-column table (statistic, value)."""
        return pd.DataFrame({"statistic": list(self.model_fields),
                             "value": [str(v) for v in self.model_dump().values()]})


@dataclass(frozen=True)
class BacktestRun:
    """A backtest: its summary and its daily series (``loss``, ``VaR``, ``exception``)."""

    result: BacktestResult
    series: pd.DataFrame


def backtest(
    losses: pd.Series,
    *,
    confidence: float,
    window: int,
    method: str = "historical",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    n_sims: int = 10_000,
    seed: int = 0,
) -> BacktestRun:
    """Backtest a rolling 1-day VaR on a loss series.

    Parameters
    ----------
    losses : Series of shape (n,)
        Daily losses (positive = loss) indexed by increasing date.
    confidence, window, method, n_sims, seed
        As :func:`rolling_var`.
    start, end : date-like, optional
        Backtest days (inclusive); the windows may reach before ``start``.

    Raises
    ------
    InputError
        Bad confidence or method; window longer than the history before the first backtest day;
        no backtest day in ``[start, end]``.
    """
    c = check_confidence(confidence)
    if not isinstance(losses.index, pd.DatetimeIndex):
        raise InputError("losses must be indexed by date")
    x = losses.to_numpy(dtype=float)
    if not np.all(np.isfinite(x)):
        raise InputError("losses contain NaN or infinite values")
    end_ts = pd.Timestamp(end) if end is not None else losses.index[-1]
    cut = int(losses.index.searchsorted(end_ts, side="right"))
    x, idx = x[:cut], losses.index[:cut]
    var = rolling_var(x, window=window, confidence=c, method=method, n_sims=n_sims, seed=seed)
    days = idx[window:]
    realised = x[window:]
    if start is not None:
        first = int(days.searchsorted(pd.Timestamp(start), side="left"))
        var, days, realised = var[first:], days[first:], realised[first:]
    if len(days) < 2:
        raise InputError(f"no backtest days between {start} and {end} with {window} days of "
                         "history before them; widen the dates or shorten the window")
    hits = realised > var
    n, xcount = len(days), int(hits.sum())
    lr, pv = kupiec_pof(xcount, observations=n, confidence=c)
    ch = christoffersen(hits, c)
    tl = traffic_light(xcount, observations=n, confidence=c)
    result = BacktestResult(
        method=method, confidence=c, window=window, start=str(days[0].date()),
        end=str(days[-1].date()), observations=n, exceptions=xcount,
        expected_exceptions=n * (1 - c), exception_rate=xcount / n, kupiec_lr=lr,
        kupiec_p_value=pv, christoffersen_lr_ind=ch.lr_ind, christoffersen_p_value=ch.p_value_ind,
        christoffersen_lr_cc=ch.lr_cc, christoffersen_cc_p_value=ch.p_value_cc,
        traffic_light=tl.zone, cumulative_probability=tl.cumulative_probability,
        plus_factor=tl.plus_factor, multiplier=tl.multiplier)
    series = pd.DataFrame({"loss": realised, "VaR": var, "exception": hits},
                          index=pd.DatetimeIndex(days, name="date"))
    return BacktestRun(result=result, series=series)
