"""Value at Risk and Expected Shortfall: historical, parametric normal, Cornish-Fisher, Monte Carlo.

Conventions (ARCHITECTURE.md, "Market risk conventions"):

- simple returns ``r_t = P_t / P_{t-1} - 1``; loss ``L_t = -r_t`` (times the position value for
  currency); VaR and ES are reported as positive losses;
- historical VaR at confidence ``c`` over ``n`` losses is the ``ceil(c * n)``-th smallest loss, no
  interpolation; ES at ``c`` is the mean of the losses at or beyond that VaR (``L >= VaR``);
- horizon scaling: a ``h``-day figure is the 1-day figure times ``sqrt(h)`` (square-root-of-time
  rule, Basel Committee 1996 amendment; assumes i.i.d. returns and ignores the drift).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from engine.errors import InputError

__all__ = [
    "METHODS",
    "Method",
    "RiskFigure",
    "VaRReport",
    "check_confidence",
    "compare_methods",
    "cornish_fisher_es",
    "cornish_fisher_var",
    "historical_es",
    "historical_var",
    "monte_carlo_losses",
    "parametric_es",
    "parametric_var",
    "portfolio_losses",
    "quantile_rank",
    "var_es",
]

Method = Literal["historical", "parametric", "cornish_fisher", "monte_carlo"]
METHODS: tuple[str, ...] = ("historical", "parametric", "cornish_fisher", "monte_carlo")

CONFIDENCE_RULE = "confidence must lie strictly between 0 and 1 (e.g. 0.99 for 99 %)"


def check_confidence(confidence: float) -> float:
    """Return ``confidence`` as float; raise :class:`InputError` unless 0 < c < 1."""
    try:
        c = float(confidence)
    except (TypeError, ValueError) as exc:
        raise InputError(f"confidence {confidence!r}: {CONFIDENCE_RULE}") from exc
    if not (0.0 < c < 1.0) or not math.isfinite(c):
        raise InputError(f"confidence {confidence!r}: {CONFIDENCE_RULE}")
    return c


def quantile_rank(confidence: float, n: int) -> int:
    """The 1-based rank ``k = ceil(c * n)`` of the VaR among ``n`` sorted losses.

    ``c * n`` is rounded to 9 decimals first, so that ``0.95 * 20`` (19.000000000000004 in binary
    floating point) gives 19, as a reader counts. ``k`` is at least 1.
    """
    c = check_confidence(confidence)
    if n < 1:
        raise InputError("need at least one loss to compute a VaR")
    return max(1, min(n, math.ceil(round(c * n, 9))))


def _losses_2d(losses: np.ndarray) -> tuple[np.ndarray, bool]:
    arr = np.asarray(losses, dtype=float)
    if arr.ndim not in (1, 2):
        raise InputError("losses must be of shape (n,) or (n, m)")
    if arr.shape[0] == 0:
        raise InputError("need at least one loss to compute a VaR")
    if not np.all(np.isfinite(arr)):
        raise InputError("losses contain NaN or infinite values")
    return (arr[:, None], True) if arr.ndim == 1 else (arr, False)


def historical_var(losses: np.ndarray, confidence: float) -> np.ndarray | float:
    """Historical-simulation VaR: the ``ceil(c * n)``-th smallest loss.

    Parameters
    ----------
    losses : ndarray of shape (n,) or (n, m)
        Losses (positive = loss), one column per series; units as given.
    confidence : float
        In (0, 1).

    Returns
    -------
    float, or ndarray of shape (m,)
        Found with ``np.partition`` (O(n)), no sort and no interpolation.

    Raises
    ------
    InputError
        Confidence outside (0, 1); empty or non-finite losses.
    """
    arr, flat = _losses_2d(losses)
    k = quantile_rank(confidence, arr.shape[0])
    var = np.partition(arr, k - 1, axis=0)[k - 1]
    return float(var[0]) if flat else var


def historical_es(losses: np.ndarray, confidence: float) -> np.ndarray | float:
    """Historical ES: the mean of the losses at or beyond the historical VaR (``L >= VaR``).

    Shapes and errors as :func:`historical_var`.
    """
    arr, flat = _losses_2d(losses)
    var = np.atleast_1d(historical_var(arr, confidence))
    tail = arr >= var[None, :]
    es = np.where(tail, arr, 0.0).sum(axis=0) / tail.sum(axis=0)
    return float(es[0]) if flat else es


def _moments(losses: np.ndarray) -> tuple[float, float]:
    arr = np.asarray(losses, dtype=float)
    if arr.ndim != 1 or arr.size < 2:
        raise InputError("need at least two losses for a parametric VaR")
    if not np.all(np.isfinite(arr)):
        raise InputError("losses contain NaN or infinite values")
    return float(arr.mean()), float(arr.std(ddof=1))


def parametric_var(losses: np.ndarray, confidence: float) -> float:
    """Parametric normal VaR: ``mu + sigma * z_c``, with ``mu``, ``sigma`` (ddof=1) of the losses.

    Parameters
    ----------
    losses : ndarray of shape (n,)
        Losses, n >= 2.
    confidence : float
        In (0, 1); ``z_c = norm.ppf(c)``.

    References
    ----------
    J.P. Morgan/Reuters (1996), *RiskMetrics — Technical Document*, 4th ed.
    """
    from scipy.stats import norm

    c = check_confidence(confidence)
    mu, sigma = _moments(losses)
    return mu + sigma * float(norm.ppf(c))


def parametric_es(losses: np.ndarray, confidence: float) -> float:
    """Parametric normal ES: ``mu + sigma * phi(z_c) / (1 - c)``."""
    from scipy.stats import norm

    c = check_confidence(confidence)
    mu, sigma = _moments(losses)
    return mu + sigma * float(norm.pdf(norm.ppf(c))) / (1.0 - c)


def _cf_shape(losses: np.ndarray) -> tuple[float, float, float, float]:
    from scipy.stats import kurtosis, skew

    mu, sigma = _moments(losses)
    s = float(skew(losses, bias=True))
    k = float(kurtosis(losses, fisher=True, bias=True))
    if not (math.isfinite(s) and math.isfinite(k)):  # constant losses
        s, k = 0.0, 0.0
    return mu, sigma, s, k


def cornish_fisher_z(z: np.ndarray | float, *, skewness: float, excess_kurtosis: float):
    """Cornish-Fisher expansion of a standard normal quantile ``z``.

    ``z + (z**2 - 1) S / 6 + (z**3 - 3 z) K / 24 - (2 z**3 - 5 z) S**2 / 36`` with ``S`` the
    skewness and ``K`` the excess kurtosis of the losses (Zangari 1996; Favre & Galeano 2002).
    """
    S, K = skewness, excess_kurtosis
    return z + (z**2 - 1) * S / 6 + (z**3 - 3 * z) * K / 24 - (2 * z**3 - 5 * z) * S**2 / 36


def cornish_fisher_var(losses: np.ndarray, confidence: float) -> float:
    """Cornish-Fisher (modified) VaR: ``mu + sigma * z_cf(c)``.

    Skewness and excess kurtosis of the *losses* are the biased sample moments
    (``scipy.stats.skew(bias=True)``, ``kurtosis(fisher=True, bias=True)``).

    References
    ----------
    Zangari (1996), "A VaR methodology for portfolios that include options", RiskMetrics Monitor;
    Favre & Galeano (2002), "Mean-modified Value-at-Risk optimization with hedge funds",
    Journal of Alternative Investments 5(2).
    """
    from scipy.stats import norm

    c = check_confidence(confidence)
    mu, sigma, s, k = _cf_shape(losses)
    return mu + sigma * float(cornish_fisher_z(float(norm.ppf(c)), skewness=s, excess_kurtosis=k))


def cornish_fisher_es(losses: np.ndarray, confidence: float) -> float:
    """Cornish-Fisher ES: the mean of the Cornish-Fisher quantile over the tail beyond ``c``.

    ``ES = mu + sigma / (1 - c) * integral_{z_c}^{inf} z_cf(z) phi(z) dz``, in closed form with the
    normal tail moments ``M0 = 1 - Phi(z_c)``, ``M1 = phi(z_c)``, ``M2 = z_c phi(z_c) + M0``,
    ``M3 = (z_c**2 + 2) phi(z_c)`` (Boudt, Peterson & Croux 2008 use the same expansion).
    """
    from scipy.stats import norm

    c = check_confidence(confidence)
    mu, sigma, S, K = _cf_shape(losses)
    z = float(norm.ppf(c))
    phi = float(norm.pdf(z))
    m0, m1 = 1.0 - c, phi
    m2, m3 = z * phi + m0, (z**2 + 2) * phi
    tail = m1 + S / 6 * (m2 - m0) + K / 24 * (m3 - 3 * m1) - S**2 / 36 * (2 * m3 - 5 * m1)
    return mu + sigma * tail / (1.0 - c)


def portfolio_losses(returns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Portfolio losses ``L_t = -sum_i v_i r_{t,i}``.

    Parameters
    ----------
    returns : ndarray of shape (n_days, n_assets)
        Simple returns, decimal.
    values : ndarray of shape (n_assets,)
        Position values (currency) or weights (then losses are fractions of the portfolio).

    Returns
    -------
    ndarray of shape (n_days,)
    """
    r = np.asarray(returns, dtype=float)
    v = np.asarray(values, dtype=float)
    if r.ndim != 2 or v.ndim != 1 or r.shape[1] != v.shape[0]:
        raise InputError(f"returns of shape {r.shape} do not match {v.shape[0]} position values")
    return -(r @ v)


def monte_carlo_losses(
    returns: np.ndarray,
    *,
    values: np.ndarray,
    n_sims: int = 10_000,
    seed: int = 0,
    kind: Literal["normal", "bootstrap"] = "normal",
) -> np.ndarray:
    """Simulated 1-day portfolio losses.

    ``normal``: returns drawn from a multivariate normal with the sample mean and covariance of
    ``returns``; ``bootstrap``: whole days of ``returns`` drawn with replacement (keeps the
    cross-section's dependence and fat tails). Seeded with ``np.random.default_rng(seed)``.

    Returns
    -------
    ndarray of shape (n_sims,)
        Losses in the units of ``values``.
    """
    r = np.asarray(returns, dtype=float)
    if n_sims < 1:
        raise InputError("n_sims must be at least 1")
    rng = np.random.default_rng(seed)
    if kind == "normal":
        mean = r.mean(axis=0)
        cov = np.atleast_2d(np.cov(r, rowvar=False))
        sims = rng.multivariate_normal(mean, cov, size=n_sims, method="cholesky"
                                       if np.all(np.linalg.eigvalsh(cov) > 0) else "eigh")
    elif kind == "bootstrap":
        sims = r[rng.integers(0, r.shape[0], size=n_sims)]
    else:
        raise InputError(f"Monte Carlo kind {kind!r}: use 'normal' or 'bootstrap'")
    return portfolio_losses(sims, values)


def var_es(
    losses: np.ndarray,
    *,
    method: str,
    confidence: float,
    es_confidence: float | None = None,
    simulated: np.ndarray | None = None,
) -> tuple[float, float]:
    """VaR at ``confidence`` and ES at ``es_confidence`` (default: the same) by one method.

    ``simulated`` (Monte Carlo losses) is required for ``method="monte_carlo"``; the historical
    rule is then applied to the simulated losses.
    """
    ec = confidence if es_confidence is None else es_confidence
    if method == "historical":
        return historical_var(losses, confidence), historical_es(losses, ec)
    if method == "parametric":
        return parametric_var(losses, confidence), parametric_es(losses, ec)
    if method == "cornish_fisher":
        return cornish_fisher_var(losses, confidence), cornish_fisher_es(losses, ec)
    if method == "monte_carlo":
        if simulated is None:
            raise InputError("Monte Carlo VaR needs simulated losses")
        return historical_var(simulated, confidence), historical_es(simulated, ec)
    raise InputError(f"method {method!r}: use one of {', '.join(METHODS)}")


class RiskFigure(BaseModel):
    """One figure of a :class:`VaRReport`: a method's VaR or ES at one confidence."""

    model_config = ConfigDict(frozen=True)

    method: str
    measure: Literal["VaR", "ES"]
    confidence: float
    value: float  #: currency units over ``horizon_days``
    value_pct: float  #: as a fraction of the gross position value


class VaRReport(BaseModel):
    """VaR and ES of a portfolio by every method, in currency, over ``horizon_days``."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    start: str
    observations: int
    horizon_days: int
    horizon_rule: str = "sqrt-of-time: h-day = 1-day x sqrt(h)"
    gross_value: float
    n_sims: int
    seed: int
    mc_kind: str
    figures: list[RiskFigure]

    def to_frame(self) -> pd.DataFrame:
        """Methods as rows; columns ``VaR 95%``, ``VaR 99%``, ..., ``ES 97.5%`` (currency)."""
        rows: dict[str, dict[str, float]] = {}
        for f in self.figures:
            label = f"{f.measure} {f.confidence * 100:g}%"
            rows.setdefault(f.method, {})[label] = f.value
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "method"
        return frame

    def value(self, method: str, *, measure: str, confidence: float) -> float:
        """The figure of ``method``, ``measure`` ("VaR" or "ES") at ``confidence``.

        Raises
        ------
        KeyError
            If the report holds no such figure.
        """
        for f in self.figures:
            if f.method == method and f.measure == measure and abs(f.confidence - confidence) < 1e-12:
                return f.value
        raise KeyError((method, measure, confidence))


def compare_methods(
    returns: pd.DataFrame,
    *,
    values: pd.Series,
    confidences: Sequence[float] = (0.95, 0.99, 0.999),
    es_confidence: float = 0.975,
    horizon_days: int = 1,
    methods: Sequence[str] = METHODS,
    n_sims: int = 10_000,
    seed: int = 0,
    mc_kind: Literal["normal", "bootstrap"] = "normal",
) -> VaRReport:
    """VaR at each confidence and ES at ``es_confidence`` for a portfolio, by every method.

    Parameters
    ----------
    returns : DataFrame of shape (n_days, n_assets)
        Simple returns, decimal, indexed by date; the columns of ``values`` are used.
    values : Series of shape (n_assets,)
        Position values in currency, indexed by instrument.
    horizon_days : int, default 1
        Figures are scaled by ``sqrt(horizon_days)``.

    Raises
    ------
    InputError
        A confidence outside (0, 1), an unknown method, fewer than two days, horizon < 1, an
        instrument of ``values`` missing from ``returns``.
    """
    cs = [check_confidence(c) for c in confidences]
    ec = check_confidence(es_confidence)
    if horizon_days < 1:
        raise InputError("horizon_days must be at least 1")
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise InputError(f"unknown method {bad[0]!r}: use one of {', '.join(METHODS)}")
    missing = [i for i in values.index if i not in returns.columns]
    if missing:
        raise InputError(f"instruments {missing} are not in the price history")
    if len(returns) < 2:
        raise InputError("need at least two days of returns")
    r = returns[list(values.index)].to_numpy(dtype=float)
    v = values.to_numpy(dtype=float)
    losses = portfolio_losses(r, v)
    sims = (monte_carlo_losses(r, values=v, n_sims=n_sims, seed=seed, kind=mc_kind)
            if "monte_carlo" in methods else None)
    gross = float(np.abs(v).sum())
    scale = math.sqrt(horizon_days)
    figures = []
    for m in methods:
        for c in cs:
            var, _ = var_es(losses, method=m, confidence=c, es_confidence=ec, simulated=sims)
            figures.append(RiskFigure(method=m, measure="VaR", confidence=c, value=var * scale,
                                      value_pct=var * scale / gross if gross else 0.0))
        _, es = var_es(losses, method=m, confidence=ec, simulated=sims)
        figures.append(RiskFigure(method=m, measure="ES", confidence=ec, value=es * scale,
                                  value_pct=es * scale / gross if gross else 0.0))
    return VaRReport(as_of=str(returns.index[-1].date()), start=str(returns.index[0].date()),
                     observations=len(returns), horizon_days=horizon_days, gross_value=gross,
                     n_sims=n_sims, seed=seed, mc_kind=mc_kind, figures=figures)
