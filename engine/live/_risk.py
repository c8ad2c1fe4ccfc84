"""The risk score, limit breaches, trading states and the pre-trade check.

Risk score
----------
Six components, each scored 0-100 (0 = no risk, 100 = at or beyond its limit), weighted as in
the product brief; the score is exactly the weighted sum
``(25 position + 20 leverage + 15 concentration + 10 correlation + 10 liquidity + 20 pl) / 100``
(integer weights in percent, so the sum never leaves [0, 100] by rounding).

=============  ======  =====================================================================
component      weight  rule (``v_i = q_i x mark_i``, currency)
=============  ======  =====================================================================
position       25 %    ``100 min(1, max_i |v_i| / max_position_size)``
leverage       20 %    ``100 min(1, current_leverage / max_leverage)`` (100 when equity <= 0
                       with exposure)
concentration  15 %    ``100 H``, ``H = sum_i w_i^2`` the Herfindahl index of the exposure
                       shares ``w_i = |v_i| / sum |v|``: one position 100, n equal ones 100/n
                       (= HHI / 100 on the 0-10,000 scale of the US merger guidelines); 0
                       without positions
correlation    10 %    ``100 max(0, correlation_risk)``, the signed exposure-weighted mean
                       pairwise correlation (:func:`engine.live.exposure_correlation`); 0 when
                       it cannot be measured (fewer than 20 returns)
liquidity      10 %    ``100 min(1, max_i days_i / max_liquidation_days)``, days to liquidate
                       ``days_i = |v_i| / (participation_rate x ADV_i)`` as engine.market's
                       liquidity sensor (ADV: average daily traded value, currency)
pl             20 %    ``100 min(1, max(max(0, -daily_pl) / max_daily_loss,
                       drawdown / max_drawdown))``
=============  ======  =====================================================================

risk_level: ``low`` below 25, ``medium`` from 25, ``high`` from 50, ``critical`` from 75.

Limit breaches (breach: metric strictly above its limit, as engine.market's limits):
``max_position_size`` (one per instrument, ``|v_i|``), ``max_leverage``, ``max_daily_loss``
(``-daily_pl``), ``max_drawdown`` and ``margin`` (``margin_utilization`` above 1: the margin the
exposure requires exceeds equity).

Trading states
--------------
``ACTIVE``, ``REDUCING`` and ``HALTED``, as NautilusTrader's ``TradingState``
(``crates/model/src/enums.rs``: "Only order commands which would cancel order, or reduce
position sizes are permitted" when REDUCING; "Trading is completely halted" when HALTED) and
its risk engine's gateway (``crates/risk/src/engine/mod.rs``, ``execution_gateway``):

- ``HALTED`` rejects every trade;
- ``REDUCING`` accepts a trade only when it reduces the position of its instrument: the
  position is not flat, the trade is on the other side, and it is no larger than the position.
  This is stricter than Nautilus, which denies a buy only when net long and a sell only when net
  short, and so lets a trade open a flat instrument or overshoot into a flip;
- ``ACTIVE`` accepts every trade.

A circuit breaker (:class:`CircuitBreaker`, off by default) moves an account to REDUCING or
HALTED when a chosen limit is breached; it never lowers the state (resuming is a person's act).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engine.live._inputs import AccountLimits
from engine.live._positions import AccountSnapshot

__all__ = [
    "COMPONENTS",
    "LIMIT_KEYS",
    "RISK_LEVELS",
    "WEIGHTS",
    "AccountRisk",
    "Breach",
    "CircuitBreaker",
    "RiskLevel",
    "RiskScoreConfig",
    "TradeCheck",
    "TradingState",
    "assess_risk",
    "check_trade",
    "circuit_breaker_state",
    "limit_breaches",
    "risk_components",
    "risk_level",
    "risk_score",
]

#: The components, in the order of the brief.
COMPONENTS: tuple[str, ...] = ("position", "leverage", "concentration", "correlation",
                               "liquidity", "pl")
#: Weight of each component, percent (sum 100).
WEIGHT_PERCENT: dict[str, int] = {"position": 25, "leverage": 20, "concentration": 15,
                                  "correlation": 10, "liquidity": 10, "pl": 20}
#: Weight of each component, fraction.
WEIGHTS: dict[str, float] = {k: w / 100 for k, w in WEIGHT_PERCENT.items()}
RiskLevel = Literal["low", "medium", "high", "critical"]
#: Each level and the lowest score that reaches it.
RISK_LEVELS: tuple[tuple[str, float], ...] = (("low", 0.0), ("medium", 25.0), ("high", 50.0),
                                              ("critical", 75.0))
#: The limits a breach can name.
LIMIT_KEYS: tuple[str, ...] = ("max_position_size", "max_leverage", "max_daily_loss",
                               "max_drawdown", "margin")


class TradingState(StrEnum):
    """An account's trading state (NautilusTrader's ``TradingState``)."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


_STATE_RANK = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class RiskScoreConfig(BaseModel):
    """Parameters of the liquidity component.

    Attributes
    ----------
    participation_rate : float, default 0.10
        Share of an instrument's ADV one may trade in a day (engine.market's default).
    default_adv : float, default 50,000,000
        ADV assumed for an instrument not in ``adv``, currency per day (engine.market's
        default).
    adv : mapping of str to float
        ADV by instrument, currency per day.
    max_liquidation_days : float, default 1
        Days to liquidate at which the liquidity component reaches 100: a desk that trades
        within the day should be able to leave any position within a day.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    participation_rate: float = Field(default=0.10, gt=0, le=1)
    default_adv: float = Field(default=50_000_000.0, gt=0, allow_inf_nan=False)
    adv: dict[str, float] = Field(default_factory=dict)
    max_liquidation_days: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class Breach(BaseModel):
    """One limit breached: the limit, the measured value and the limit's value."""

    model_config = ConfigDict(frozen=True)

    limit: str
    value: float
    threshold: float
    instrument: str | None = None


class AccountRisk(BaseModel):
    """The ``risk`` panel of one account.

    Attributes
    ----------
    risk_score : float
        0-100, the weighted sum of ``risk_components``.
    risk_level : {"low", "medium", "high", "critical"}
    total_exposure : float
        Currency.
    current_leverage, margin_utilization : float
        Multiples (``inf`` when equity <= 0 with exposure; JSON ``null``).
    var_95 : float or None
        Currency; None with too little history.
    correlation_risk : float or None
        In [-1, 1]; None with too little history.
    instrument_count : int
    risk_limit_breaches : list of Breach
    risk_components : dict of str to float
        The six scores, keys :data:`COMPONENTS`.
    trading_state : TradingState
    """

    model_config = ConfigDict(frozen=True)

    risk_score: float
    risk_level: RiskLevel
    total_exposure: float
    current_leverage: float
    margin_utilization: float
    var_95: float | None
    correlation_risk: float | None
    instrument_count: int
    risk_limit_breaches: list[Breach]
    risk_components: dict[str, float]
    trading_state: TradingState


def _capped(ratio: float) -> float:
    if math.isnan(ratio):
        return 0.0
    return 100.0 * min(1.0, max(0.0, ratio))


def risk_components(snapshot: AccountSnapshot, *, values: np.ndarray, instruments: Sequence[str],
                    limits: AccountLimits, correlation: float | None,
                    config: RiskScoreConfig | None = None) -> dict[str, float]:
    """The six component scores of one account (module docstring for each rule).

    Parameters
    ----------
    snapshot : AccountSnapshot
        The account now (:meth:`engine.live.Book.snapshot`).
    values : ndarray of shape (n_instruments,)
        Signed market values ``q x mark``, currency (:meth:`engine.live.Book.values`).
    instruments : sequence of str
        The instrument of each value (for the ADV lookup).
    limits : AccountLimits
    correlation : float or None
        The account's ``correlation_risk`` (:func:`engine.live.exposure_correlation`).
    config : RiskScoreConfig, optional
        Liquidity parameters; default :class:`RiskScoreConfig`.

    Returns
    -------
    dict of str to float
        Keys :data:`COMPONENTS`, each in [0, 100].
    """
    cfg = config or RiskScoreConfig()
    a = np.abs(np.asarray(values, dtype=float))
    gross = float(a.sum())
    adv = np.array([cfg.adv.get(i, cfg.default_adv) for i in instruments], dtype=float)
    days = float((a / (cfg.participation_rate * adv)).max(initial=0.0))
    loss = max(0.0, -snapshot.pl.daily_pl)
    return {
        "position": _capped(float(a.max(initial=0.0)) / limits.max_position_size),
        "leverage": _capped(snapshot.current_leverage / limits.max_leverage),
        "concentration": _capped(float(np.sum((a / gross) ** 2)) if gross > 0 else 0.0),
        "correlation": _capped(correlation or 0.0),
        "liquidity": _capped(days / cfg.max_liquidation_days),
        "pl": _capped(max(loss / limits.max_daily_loss, snapshot.drawdown / limits.max_drawdown)),
    }


def risk_score(components: Mapping[str, float]) -> float:
    """The weighted sum of the six component scores, in [0, 100].

    Parameters
    ----------
    components : mapping of str to float
        Each of :data:`COMPONENTS`, in [0, 100].

    Returns
    -------
    float
        ``sum_k W_k c_k / 100`` with the weights ``W_k`` in percent (:data:`WEIGHT_PERCENT`).

    Raises
    ------
    KeyError
        A component missing.
    """
    return sum(WEIGHT_PERCENT[k] * float(components[k]) for k in COMPONENTS) / 100.0


def risk_level(score: float) -> RiskLevel:
    """The level of a score: low < 25 <= medium < 50 <= high < 75 <= critical."""
    level = "low"
    for name, lowest in RISK_LEVELS:
        if score >= lowest:
            level = name
    return level  # type: ignore[return-value]


def limit_breaches(snapshot: AccountSnapshot, *, values: np.ndarray, instruments: Sequence[str],
                   limits: AccountLimits) -> list[Breach]:
    """Every limit the account breaches now (metric strictly above the limit).

    Parameters
    ----------
    snapshot : AccountSnapshot
    values : ndarray of shape (n_instruments,)
        Signed market values, currency.
    instruments : sequence of str
        The instrument of each value.
    limits : AccountLimits

    Returns
    -------
    list of Breach
        In the order of :data:`LIMIT_KEYS`; position breaches by instrument order.
    """
    a = np.abs(np.asarray(values, dtype=float))
    out = [Breach(limit="max_position_size", value=float(a[i]), threshold=limits.max_position_size,
                  instrument=str(instruments[i]))
           for i in np.flatnonzero(a > limits.max_position_size)]
    checks = (("max_leverage", snapshot.current_leverage, limits.max_leverage),
              ("max_daily_loss", -snapshot.pl.daily_pl, limits.max_daily_loss),
              ("max_drawdown", snapshot.drawdown, limits.max_drawdown),
              ("margin", snapshot.margin_utilization, 1.0))
    out += [Breach(limit=k, value=v, threshold=t) for k, v, t in checks if v > t]
    return out


def assess_risk(snapshot: AccountSnapshot, *, values: np.ndarray, instruments: Sequence[str],
                limits: AccountLimits, var: float | None, correlation: float | None,
                state: TradingState = TradingState.ACTIVE,
                config: RiskScoreConfig | None = None) -> AccountRisk:
    """The ``risk`` panel of one account: score, level, components, breaches and state.

    Parameters
    ----------
    snapshot : AccountSnapshot
    values : ndarray of shape (n_instruments,)
        Signed market values, currency.
    instruments : sequence of str
    limits : AccountLimits
    var : float or None
        :func:`engine.live.var_95` of ``values``.
    correlation : float or None
        :func:`engine.live.exposure_correlation` of ``values``.
    state : TradingState, default ACTIVE
    config : RiskScoreConfig, optional

    Returns
    -------
    AccountRisk

    Notes
    -----
    O(n_instruments).
    """
    comps = risk_components(snapshot, values=values, instruments=instruments, limits=limits,
                            correlation=correlation, config=config)
    score = risk_score(comps)
    return AccountRisk(
        risk_score=score, risk_level=risk_level(score), total_exposure=snapshot.total_exposure,
        current_leverage=snapshot.current_leverage,
        margin_utilization=snapshot.margin_utilization, var_95=var, correlation_risk=correlation,
        instrument_count=snapshot.instrument_count,
        risk_limit_breaches=limit_breaches(snapshot, values=values, instruments=instruments,
                                           limits=limits),
        risk_components=comps, trading_state=state)


class TradeCheck(BaseModel):
    """The pre-trade check's answer: accepted, or rejected with the reason."""

    model_config = ConfigDict(frozen=True)

    accepted: bool
    reason: str | None = None


def check_trade(state: TradingState | str, *, position: float, quantity: float) -> TradeCheck:
    """Whether an account in ``state`` may make a trade (module docstring, "Trading states").

    Parameters
    ----------
    state : TradingState or str
        The account's state.
    position : float
        The account's signed position in the trade's instrument before the trade, units.
    quantity : float
        The trade's signed quantity: + buy, - sell; units.

    Returns
    -------
    TradeCheck

    Raises
    ------
    ValueError
        An unknown state.
    """
    state = TradingState(state)
    if state is TradingState.HALTED:
        return TradeCheck(accepted=False, reason="the account is HALTED: every trade is rejected "
                                                 "until someone resumes it")
    if state is TradingState.REDUCING:
        reduces = position != 0.0 and (position > 0.0) != (quantity > 0.0) \
            and abs(quantity) <= abs(position)
        if not reduces:
            return TradeCheck(accepted=False, reason=(
                f"the account is REDUCING: only trades that reduce a position are accepted, and "
                f"a {'buy' if quantity > 0 else 'sell'} of {abs(quantity):g} against a position "
                f"of {position:g} would not"))
    return TradeCheck(accepted=True)


class CircuitBreaker(BaseModel):
    """An automatic move to REDUCING or HALTED on a limit breach; off by default.

    Attributes
    ----------
    enabled : bool, default False
    limits : tuple of str, default ("max_daily_loss",)
        The limits (of :data:`LIMIT_KEYS`) whose breach trips it.
    action : {"REDUCING", "HALTED"}, default "HALTED"
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    limits: tuple[Literal["max_position_size", "max_leverage", "max_daily_loss", "max_drawdown",
                          "margin"], ...] = ("max_daily_loss",)
    action: Literal["REDUCING", "HALTED"] = "HALTED"


def circuit_breaker_state(state: TradingState | str, *, breaches: Sequence[Breach],
                          rule: CircuitBreaker) -> TradingState:
    """The trading state after the circuit breaker has looked at the breaches.

    Parameters
    ----------
    state : TradingState or str
        The state now.
    breaches : sequence of Breach
        The account's breaches now (:func:`limit_breaches`).
    rule : CircuitBreaker

    Returns
    -------
    TradingState
        ``rule.action`` when the rule is enabled, one of its limits is breached and the action is
        more severe than ``state``; otherwise ``state`` unchanged (it never lowers a state).
    """
    state = TradingState(state)
    if not rule.enabled or not any(b.limit in rule.limits for b in breaches):
        return state
    action = TradingState(rule.action)
    return action if _STATE_RANK[action] > _STATE_RANK[state] else state
