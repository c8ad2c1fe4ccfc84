"""Portfolio analytics of an account, from its equity curve.

Definitions (quantstats ``stats.sharpe``, ``stats.volatility``, ``stats.max_drawdown`` and
``utils.to_excess_returns``, ranaroussi/quantstats at commit fbd10dae; the same as empyrical's
``sharpe_ratio``, ``annual_volatility`` and ``max_drawdown``, quantopian/empyrical at 40f61b4f):

- **Equity curve.** The account's equity at the end of each closed UTC day, preceded by the
  initial capital (the baseline before the first day, as quantstats' phantom baseline and
  empyrical's starting value) and followed by the equity now (the day in progress).
- **Daily returns.** Simple returns of that curve, ``E_t / E_{t-1} - 1``; a return whose
  previous equity is 0 or less is undefined and left out. ``daily_return`` is the last one:
  ``equity now / equity at the end of the previous UTC day - 1``.
- **Risk-free rate.** An annual rate ``rf``, de-annualised to ``(1 + rf)^(1/252) - 1`` per day
  and subtracted from each daily return (quantstats ``to_excess_returns``); default 0.
- **Sharpe ratio** = ``mean(excess) / std(excess, ddof=1) x sqrt(252)``.
- **Volatility** = ``std(returns, ddof=1) x sqrt(252)``, annualised, decimal.
- **Max drawdown** = ``min_t E_t / max_{s <= t} E_s - 1`` over the curve, a fraction <= 0
  (negative, as both libraries report it).
- Annualisation factor :data:`TRADING_DAYS` = 252 trading days a year. Sharpe and volatility are
  ``None`` with fewer than two returns, and the Sharpe ratio also when the returns do not vary.

Attribution: each instrument's P&L (realized + unrealized, fees included) and its return
contribution ``pl_i / initial_capital``; the contributions add up to the equity curve's
cumulative return ``(equity now - initial capital) / initial capital``. By sector: the same
sums grouped by sector. The bundled prices carry no sectors, so :data:`BUNDLED_SECTORS` gives
the GICS sector of each bundled stock (``data/constituents.csv``, column ``Sector``, of
datasets/s-and-p-500-companies at commit 011d41fe, for 19 stocks; Range Resources (RRC),
no longer a constituent there, is GICS Energy); the index ``SP500`` is ``Index`` and any other
instrument ``Unclassified``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

__all__ = [
    "BUNDLED_SECTORS",
    "TRADING_DAYS",
    "UNCLASSIFIED",
    "PortfolioAnalytics",
    "annual_volatility",
    "equity_returns",
    "max_drawdown",
    "performance_attribution",
    "portfolio_analytics",
    "sharpe_ratio",
]

#: Trading days a year: the annualisation factor.
TRADING_DAYS = 252
#: The sector of an instrument that has none.
UNCLASSIFIED = "Unclassified"
#: GICS sector of each bundled instrument (module docstring for the source).
BUNDLED_SECTORS: dict[str, str] = {
    "AAPL": "Information Technology", "AMD": "Information Technology",
    "MSFT": "Information Technology", "BAC": "Financials", "JPM": "Financials",
    "BBY": "Consumer Discretionary", "HD": "Consumer Discretionary",
    "CVX": "Energy", "RRC": "Energy", "XOM": "Energy", "GE": "Industrials",
    "JNJ": "Health Care", "LLY": "Health Care", "MRK": "Health Care", "PFE": "Health Care",
    "UNH": "Health Care", "KO": "Consumer Staples", "PEP": "Consumer Staples",
    "PG": "Consumer Staples", "WMT": "Consumer Staples", "SP500": "Index",
}


def equity_returns(curve: pd.Series | np.ndarray) -> np.ndarray:
    """Daily simple returns of an equity curve, leaving out those after equity <= 0.

    Parameters
    ----------
    curve : Series or ndarray of shape (n_points,)
        Equity, currency, baseline first (module docstring).

    Returns
    -------
    ndarray of shape (n_points - 1 - n_undefined,)
        Decimal.
    """
    e = np.asarray(curve, dtype=float)
    prev, now = e[:-1], e[1:]
    ok = prev > 0.0
    return now[ok] / prev[ok] - 1.0


def sharpe_ratio(returns: np.ndarray, *, risk_free: float = 0.0,
                 periods: int = TRADING_DAYS) -> float | None:
    """Annualised Sharpe ratio: ``mean(r - rf_d) / std(r - rf_d, ddof=1) x sqrt(periods)``.

    Parameters
    ----------
    returns : ndarray of shape (n,)
        Daily simple returns, decimal.
    risk_free : float, default 0
        Annual risk-free rate, decimal; ``rf_d = (1 + rf)^(1/periods) - 1``.
    periods : int, default 252
        Return periods a year.

    Returns
    -------
    float or None
        None with fewer than two returns or none that vary.

    References
    ----------
    quantstats ``stats.sharpe`` and ``utils.to_excess_returns``; empyrical ``sharpe_ratio``.
    """
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return None
    excess = r - ((1.0 + risk_free) ** (1.0 / periods) - 1.0)
    sd = float(np.std(excess, ddof=1))
    if not sd > 0.0:
        return None
    return float(np.mean(excess)) / sd * math.sqrt(periods)


def annual_volatility(returns: np.ndarray, *, periods: int = TRADING_DAYS) -> float | None:
    """Annualised volatility ``std(r, ddof=1) x sqrt(periods)``, decimal; None below 2 returns.

    References
    ----------
    quantstats ``stats.volatility``; empyrical ``annual_volatility``.
    """
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return None
    return float(np.std(r, ddof=1)) * math.sqrt(periods)


def max_drawdown(curve: pd.Series | np.ndarray) -> float:
    """Largest fall of an equity curve from its running peak: ``min E_t / max_{s<=t} E_s - 1``.

    Parameters
    ----------
    curve : Series or ndarray of shape (n_points,)
        Equity, currency, baseline first; positive peaks.

    Returns
    -------
    float
        A fraction <= 0 (0 for a curve that never falls, or an empty one).

    References
    ----------
    quantstats ``stats.max_drawdown``; empyrical ``max_drawdown``.
    """
    e = np.asarray(curve, dtype=float)
    if e.size == 0:
        return 0.0
    peak = np.maximum.accumulate(e)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0.0, e / peak - 1.0, 0.0)
    return float(min(0.0, dd.min()))


def performance_attribution(pl: pd.Series, *, initial_capital: float,
                            sectors: Mapping[str, str] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """P&L and return contribution by instrument and by sector.

    Parameters
    ----------
    pl : Series
        P&L (realized + unrealized, fees included) by instrument, currency
        (:meth:`engine.live.Book.pl_by_instrument`).
    initial_capital : float
        The account's initial capital, currency, > 0.
    sectors : mapping of str to str, optional
        Sector of each instrument; default :data:`BUNDLED_SECTORS`; others ``Unclassified``.

    Returns
    -------
    dict
        ``{"by_instrument": {instrument: {"pl": currency, "contribution": decimal}},
        "by_sector": {sector: {...}}}``, each sorted by name; contributions are
        ``pl / initial_capital`` and add up to ``total_pl / initial_capital``.
    """
    table = BUNDLED_SECTORS if sectors is None else sectors
    by_inst = {str(k): {"pl": float(v), "contribution": float(v) / initial_capital}
               for k, v in sorted(pl.items())}
    sums: dict[str, float] = {}
    for inst, v in pl.items():
        s = table.get(str(inst), UNCLASSIFIED)
        sums[s] = sums.get(s, 0.0) + float(v)
    by_sector = {k: {"pl": v, "contribution": v / initial_capital} for k, v in sorted(sums.items())}
    return {"by_instrument": by_inst, "by_sector": by_sector}


class PortfolioAnalytics(BaseModel):
    """The ``portfolio`` panel of one account (module docstring for each definition).

    Attributes
    ----------
    total_value : float
        Equity now, currency.
    daily_return : float or None
        Decimal; None when the previous day's equity is 0 or less.
    sharpe_ratio, volatility : float or None
        Annualised (252), decimal for volatility.
    max_drawdown : float
        Fraction <= 0.
    total_positions : int
        Instruments with a non-zero position.
    performance_attribution : dict
        :func:`performance_attribution`.
    """

    model_config = ConfigDict(frozen=True)

    total_value: float
    daily_return: float | None
    sharpe_ratio: float | None
    max_drawdown: float
    volatility: float | None
    total_positions: int
    performance_attribution: dict[str, dict[str, dict[str, float]]]


def portfolio_analytics(equity_curve: pd.Series, *, equity: float, initial_capital: float,
                        pl_by_instrument: pd.Series, total_positions: int,
                        sectors: Mapping[str, str] | None = None,
                        risk_free: float = 0.0) -> PortfolioAnalytics:
    """The ``portfolio`` panel from the account's equity curve and P&L by instrument.

    Parameters
    ----------
    equity_curve : Series of shape (n_closed_days,)
        End-of-day equity of each closed UTC day, currency (:meth:`engine.live.Book.equity_curve`).
    equity : float
        Equity now, currency.
    initial_capital : float
        Currency, > 0; the curve's baseline.
    pl_by_instrument : Series
        P&L by instrument, currency (:meth:`engine.live.Book.pl_by_instrument`).
    total_positions : int
    sectors : mapping of str to str, optional
        Default :data:`BUNDLED_SECTORS`.
    risk_free : float, default 0
        Annual rate, decimal.

    Returns
    -------
    PortfolioAnalytics
    """
    curve = np.concatenate([[initial_capital], np.asarray(equity_curve, dtype=float), [equity]])
    r = equity_returns(curve)
    daily = curve[-1] / curve[-2] - 1.0 if curve[-2] > 0.0 else None
    return PortfolioAnalytics(
        total_value=equity, daily_return=daily,
        sharpe_ratio=sharpe_ratio(r, risk_free=risk_free), max_drawdown=max_drawdown(curve),
        volatility=annual_volatility(r), total_positions=total_positions,
        performance_attribution=performance_attribution(pl_by_instrument,
                                                        initial_capital=initial_capital,
                                                        sectors=sectors))
