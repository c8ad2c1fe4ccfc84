"""The ten sensors: their metrics (a precomputed :class:`RiskSnapshot`) and their readiness.

=======================  ==============================================================  =========
sensor                   metric (breach when metric > threshold)                         rule(s)
=======================  ==============================================================  =========
var_breach               VaR at each limit confidence, currency                          var_<c>
stress_failure           worst stress-replay loss, currency; and the number of windows   stress_loss,
                         whose loss exceeds ``stress_loss.max``                           scenario_failures
tail_risk                ES / VaR at ``es_confidence`` (tail ratio; 1.19 for a normal)   tail_ratio
concentration            largest |position value| / gross exposure                       concentration
leverage                 gross exposure / capital                                        leverage
liquidity                max days to liquidate: |v_i| / (participation_rate x ADV_i)     liquidity
correlation_breakdown    mean pairwise correlation over the short window minus over      correlation_breakdown
                         the long window
volatility_spike         portfolio return volatility, short window / long window         volatility_spike
drawdown                 fall of the portfolio value from its peak over                  drawdown
                         ``drawdown_window`` days, fraction of the peak
turnover                 sum |v_now - v_prev| / gross exposure now                        turnover
=======================  ==============================================================  =========

Readiness (for the gradual mode): a sensor's false-positive rate per week is the number of false
positives recorded against its breaches in the last ``false_positive_window_days`` divided by the
weeks observed in that window (at least one week). Status ``MONITORING`` while the sensor has
been observed for fewer than ``min_observation_days``; else ``HIGH_FP`` when the rate is at or
above ``false_positive_threshold_per_week``, ``READY`` below it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from engine.errors import InputError
from engine.market.data_io import position_values, simple_returns
from engine.market.limits import LimitsConfig
from engine.market.stress import PREDEFINED_WINDOWS, StressWindow, replay_all
from engine.market.var import monte_carlo_losses, portfolio_losses, var_es

__all__ = [
    "SENSORS",
    "SENSOR_METRICS",
    "RiskSnapshot",
    "SensorStatus",
    "Status",
    "compute_snapshot",
    "conf_key",
    "sensor_rules",
    "sensor_status",
    "sensor_statuses",
]

Status = Literal["READY", "HIGH_FP", "MONITORING"]

SENSORS: tuple[str, ...] = (
    "var_breach", "stress_failure", "tail_risk", "concentration", "leverage", "liquidity",
    "correlation_breakdown", "volatility_spike", "drawdown", "turnover",
)

#: What each sensor measures, for tables and docs.
SENSOR_METRICS: dict[str, str] = {
    "var_breach": "VaR at each limit confidence (currency) vs the VaR limit",
    "stress_failure": "worst stress-replay loss (currency) and count of windows beyond it",
    "tail_risk": "tail ratio ES / VaR at the ES confidence",
    "concentration": "largest |position| / gross exposure",
    "leverage": "gross exposure / capital",
    "liquidity": "max days to liquidate = |position| / (participation x ADV)",
    "correlation_breakdown": "mean pairwise correlation, short minus long window",
    "volatility_spike": "portfolio volatility, short / long window",
    "drawdown": "fall from peak portfolio value over the drawdown window (fraction)",
    "turnover": "sum |position change| / gross exposure",
}


def conf_key(confidence: float) -> str:
    """The text key of a confidence: ``0.99 -> "0.99"``."""
    return f"{float(confidence):g}"


class RiskSnapshot(BaseModel):
    """Precomputed risk of a portfolio on one date: every sensor's metric."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    gross_exposure: float
    var: dict[str, float]  #: confidence key -> VaR, currency
    var_method: str
    es_confidence: float
    es: float
    var_at_es_confidence: float
    stress_losses: dict[str, float]
    concentration: float
    leverage: float
    liquidity: float
    correlation_breakdown: float
    volatility_spike: float
    drawdown: float
    turnover: float

    @property
    def tail_ratio(self) -> float:
        return self.es / self.var_at_es_confidence if self.var_at_es_confidence > 0 else 0.0


def _mean_corr(r: np.ndarray) -> float:
    if r.shape[1] < 2:
        return 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.corrcoef(r, rowvar=False)
    iu = np.triu_indices_from(c, k=1)
    vals = c[iu]
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if vals.size else 0.0


def compute_snapshot(
    prices: pd.DataFrame,
    *,
    positions: pd.DataFrame,
    config: LimitsConfig,
    as_of: str | pd.Timestamp | None = None,
    previous_positions: pd.DataFrame | None = None,
    stress_windows: Sequence[StressWindow] = PREDEFINED_WINDOWS,
    notional: float | None = None,
    n_sims: int = 10_000,
    seed: int = 0,
) -> RiskSnapshot:
    """Every sensor's metric for ``positions`` on ``as_of`` (default: the last price date).

    Parameters
    ----------
    prices : DataFrame of shape (n_days, n_assets)
        Validated prices; only dates up to ``as_of`` are used.
    positions : DataFrame
        Validated positions (account, instrument, quantity or weight[, adv]).
    config : LimitsConfig
        VaR confidences, windows, capital, liquidity parameters.
    previous_positions : DataFrame, optional
        Positions before the latest trades, for turnover (0 when not given).

    Raises
    ------
    InputError
        ``as_of`` before the history has ``var_window`` + 1 prices; instruments missing.
    """
    if as_of is not None:
        prices = prices.loc[: pd.Timestamp(as_of)]
    need = max(config.var_window, config.long_window, config.drawdown_window) + 1
    if len(prices) < need:
        raise InputError(f"need at least {need} prices up to the evaluation date for the "
                         f"configured windows; found {len(prices)}")
    values = position_values(positions, prices=prices, notional=notional)
    v = values.to_numpy(dtype=float)
    gross = float(np.abs(v).sum())
    rets = simple_returns(prices[list(values.index)])
    r = rets.to_numpy(dtype=float)
    hist = r[-config.var_window:]
    losses = portfolio_losses(hist, v)
    sims = (monte_carlo_losses(hist, values=v, n_sims=n_sims, seed=seed)
            if config.var_method == "monte_carlo" else None)
    var = {}
    for lim in config.limits.var:
        var[conf_key(lim.confidence)], _ = var_es(losses, method=config.var_method,
                                                  confidence=lim.confidence, simulated=sims)
    var_ec, es = var_es(losses, method=config.var_method, confidence=config.es_confidence,
                        simulated=sims)
    stress = {s.name: s.loss for s in replay_all(prices, values=values, windows=stress_windows)}
    if "adv" in positions:
        adv = positions.groupby("instrument")["adv"].max().reindex(values.index).fillna(
            config.default_adv).to_numpy()
    else:
        adv = np.full(v.shape, config.default_adv)
    liquidity = float(np.max(np.abs(v) / (config.participation_rate * adv)))
    port_all = r @ (v / gross if gross else v)
    short, long_ = port_all[-config.short_window:], port_all[-config.long_window:]
    vol_long = float(np.std(long_, ddof=1))
    vol_spike = float(np.std(short, ddof=1)) / vol_long if vol_long > 0 else 0.0
    corr = _mean_corr(r[-config.short_window:]) - _mean_corr(r[-config.long_window:])
    pv = (prices[list(values.index)].to_numpy(dtype=float)[-config.drawdown_window:]
          / prices[list(values.index)].to_numpy(dtype=float)[-1]) @ v
    peak = float(pv.max())
    drawdown = float((peak - pv[-1]) / peak) if peak > 0 else 0.0
    turnover = 0.0
    if previous_positions is not None:
        prev = position_values(previous_positions, prices=prices, notional=notional)
        both = values.index.union(prev.index)
        turnover = float(np.abs(values.reindex(both).fillna(0.0)
                                - prev.reindex(both).fillna(0.0)).sum() / gross) if gross else 0.0
    return RiskSnapshot(
        as_of=str(prices.index[-1].date()), gross_exposure=gross, var=var,
        var_method=config.var_method, es_confidence=config.es_confidence, es=es,
        var_at_es_confidence=var_ec, stress_losses=stress,
        concentration=float(np.abs(v).max() / gross) if gross else 0.0,
        leverage=gross / config.capital, liquidity=liquidity, correlation_breakdown=corr,
        volatility_spike=vol_spike, drawdown=drawdown, turnover=turnover)


def sensor_rules(snapshot: RiskSnapshot, config: LimitsConfig) -> list[tuple[str, str, float, float, str]]:
    """Every rule as ``(sensor, rule, metric, threshold, configured action)``, in sensor order."""
    lim, sen = config.limits, config.sensors
    rows: list[tuple[str, str, float, float, str]] = []
    for v in lim.var:
        key = conf_key(v.confidence)
        if key not in snapshot.var:
            raise InputError(f"the risk snapshot has no VaR at {key}; recompute it with these limits")
        rows.append(("var_breach", f"var_{key}", snapshot.var[key], v.max, v.action))
    worst = max(snapshot.stress_losses.values(), default=0.0)
    failures = sum(1 for x in snapshot.stress_losses.values() if x > lim.stress_loss.max)
    rows.append(("stress_failure", "stress_loss", worst, lim.stress_loss.max, lim.stress_loss.action))
    rows.append(("stress_failure", "scenario_failures", float(failures), lim.scenario_failures.max,
                 lim.scenario_failures.action))
    rows.append(("tail_risk", "tail_ratio", snapshot.tail_ratio, lim.tail_ratio.max,
                 lim.tail_ratio.action))
    for name in SENSORS[3:]:
        rule = getattr(sen, name)
        rows.append((name, name, float(getattr(snapshot, name)), rule.max, rule.action))
    return rows


class SensorStatus(BaseModel):
    """A sensor's false-positive rate and readiness for enforcement."""

    model_config = ConfigDict(frozen=True)

    sensor: str
    metric: str
    breaches: int
    false_positives: int
    weeks_observed: float
    false_positive_rate_per_week: float
    threshold_per_week: float
    status: Status
    ready: bool


def sensor_status(
    sensor: str,
    *,
    as_of: datetime,
    first_seen: datetime | None,
    false_positive_times: Sequence[datetime],
    breaches: int = 0,
    threshold_per_week: float = 1.0,
    window_days: int = 28,
    min_observation_days: int = 7,
) -> SensorStatus:
    """Readiness of one sensor on ``as_of``.

    Parameters
    ----------
    first_seen : datetime or None
        First evaluation that included the sensor (None: never evaluated).
    false_positive_times : sequence of datetime
        When each false positive against this sensor's breaches was recorded.

    Returns
    -------
    SensorStatus
        ``rate = n_fp(in window) / max(1, weeks observed within the window)``; ``MONITORING``
        if observed < ``min_observation_days``, ``HIGH_FP`` if ``rate >= threshold``, else
        ``READY``.
    """
    if sensor not in SENSORS:
        raise InputError(f"unknown sensor {sensor!r}: use one of {', '.join(SENSORS)}")
    window_start = as_of - timedelta(days=window_days)
    n_fp = sum(1 for t in false_positive_times if window_start <= t <= as_of)
    observed_days = 0.0 if first_seen is None else max(0.0, (as_of - first_seen).total_seconds()
                                                       / 86400.0)
    weeks = max(1.0, min(observed_days, float(window_days)) / 7.0)
    rate = n_fp / weeks
    if observed_days < min_observation_days:
        status: Status = "MONITORING"
    elif rate >= threshold_per_week:
        status = "HIGH_FP"
    else:
        status = "READY"
    return SensorStatus(sensor=sensor, metric=SENSOR_METRICS[sensor], breaches=breaches,
                        false_positives=n_fp, weeks_observed=round(observed_days / 7.0, 4),
                        false_positive_rate_per_week=rate, threshold_per_week=threshold_per_week,
                        status=status, ready=status == "READY")


def statuses_by_sensor(statuses: Sequence[SensorStatus]) -> Mapping[str, SensorStatus]:
    return {s.sensor: s for s in statuses}


def sensor_statuses(
    *,
    as_of: datetime,
    first_seen: datetime | None,
    breaches: Mapping[str, int],
    false_positive_times: Mapping[str, Sequence[datetime]],
    config: LimitsConfig,
) -> list[SensorStatus]:
    """Every sensor's readiness on ``as_of`` (:func:`sensor_status` in sensor order).

    Parameters
    ----------
    first_seen : datetime or None
        The first stored evaluation (every evaluation covers every sensor).
    breaches : mapping sensor -> int
        Stored breaches per sensor.
    false_positive_times : mapping sensor -> sequence of datetime
        When each false positive against the sensor's breaches was recorded.
    config : LimitsConfig
        The false-positive threshold, window and minimum observation.
    """
    return [sensor_status(s, as_of=as_of, first_seen=first_seen,
                          false_positive_times=false_positive_times.get(s, []),
                          breaches=int(breaches.get(s, 0)),
                          threshold_per_week=config.false_positive_threshold_per_week,
                          window_days=config.false_positive_window_days,
                          min_observation_days=config.min_observation_days)
            for s in SENSORS]
