"""Alert rules: pure functions from an account's risk, and what was raised before, to new alerts.

What raises an alert (``alert_type``, severity):

=================  ==========================================================  ============
alert_type         raised when                                                 severity
=================  ==========================================================  ============
``limit_breach``   a limit is breached (:func:`engine.live.limit_breaches`),   see below
                   one alert per limit (and per instrument for position size)
``risk_level``     the risk level rises above the previous update's level      medium: info,
                   (a fall raises nothing)                                     high: warning,
                                                                               critical:
                                                                               critical
``risk_trend``     the risk score rose at each of the last N updates           warning
                   (``trend_updates``, default 5: N + 1 scores strictly
                   increasing)
=================  ==========================================================  ============

Breach severities (:data:`BREACH_SEVERITY`): ``max_position_size`` and ``max_leverage`` warning;
``max_daily_loss``, ``max_drawdown`` and ``margin`` critical (a loss or a margin shortfall has
already happened; a large position or leverage is a risk that has not yet).

**De-duplication.** Each condition has a key (``limit_breach:max_leverage``,
``limit_breach:max_position_size:AAPL``, ``risk_level:high``, ``risk_trend``). An alert is raised
when its condition starts (it was not active at the previous update); while the condition
persists nothing more is raised; once it clears, the key is released, and a later recurrence
raises a new alert. A risk level is active while the level is at or above it, so a level that
dips and comes back raises again.

**Escalation.** An alert not acknowledged within ``escalate_after`` (default 15 minutes) of
``triggered_at`` escalates once: ``escalated_at`` is set and a ``warning`` becomes ``critical``. A
``critical`` alert is already at the top of the three severities; it keeps its severity and is
marked escalated (for the next person on call). ``info`` alerts never escalate.

Alert ids are deterministic (a hash of account, key and time), so a replay run twice over the
same inputs raises the same alerts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.canonical import canonical_bytes
from engine.live._risk import RISK_LEVELS, AccountRisk, Breach

__all__ = [
    "BREACH_SEVERITY",
    "LEVEL_SEVERITY",
    "Alert",
    "AlertConfig",
    "AlertState",
    "AlertType",
    "Severity",
    "escalate",
    "evaluate_alerts",
]

Severity = Literal["info", "warning", "critical"]
AlertType = Literal["limit_breach", "risk_level", "risk_trend"]
#: Severity of a breach of each limit.
BREACH_SEVERITY: dict[str, Severity] = {
    "max_position_size": "warning", "max_leverage": "warning", "max_daily_loss": "critical",
    "max_drawdown": "critical", "margin": "critical",
}
#: Severity of the risk level rising into each level.
LEVEL_SEVERITY: dict[str, Severity] = {"medium": "info", "high": "warning", "critical": "critical"}
_LEVEL_RANK = {name: k for k, (name, _) in enumerate(RISK_LEVELS)}
_UP: dict[str, Severity] = {"info": "info", "warning": "critical", "critical": "critical"}


class Alert(BaseModel):
    """One alert, with the brief's fields and its de-duplication ``key``.

    Attributes
    ----------
    alert_id : str
        16 hex characters, deterministic.
    severity : {"info", "warning", "critical"}
    risk_score : float
        The account's risk score when it was raised.
    triggered_at : datetime
        UTC.
    escalated_at : datetime or None
        When it escalated (:func:`escalate`).
    key : str
        The condition (module docstring, "De-duplication").
    """

    model_config = ConfigDict(frozen=True)

    alert_id: str
    account_id: str
    alert_type: AlertType
    severity: Severity
    title: str
    message: str
    risk_score: float
    triggered_at: datetime
    is_acknowledged: bool = False
    escalated_at: datetime | None = None
    key: str


class AlertConfig(BaseModel):
    """Alert parameters.

    Attributes
    ----------
    trend_updates : int, default 5
        N: the risk score must rise at each of the last N updates to raise a trend alert.
    escalate_after : timedelta, default 15 minutes
        Time an alert may stay unacknowledged before it escalates.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    trend_updates: int = Field(default=5, ge=2, le=1000)
    escalate_after: timedelta = Field(default=timedelta(minutes=15), gt=timedelta(0))


class AlertState(BaseModel):
    """What the rules remember of an account between updates.

    Attributes
    ----------
    active : frozenset of str
        Keys of the conditions active at the last update.
    scores : tuple of float
        The last ``trend_updates + 1`` risk scores, oldest first.
    """

    model_config = ConfigDict(frozen=True)

    active: frozenset[str] = frozenset()
    scores: tuple[float, ...] = ()


def _alert_id(account_id: str, key: str, at: datetime) -> str:
    return hashlib.sha256(canonical_bytes([account_id, key, at.isoformat()])).hexdigest()[:16]


def _breach_text(b: Breach) -> tuple[str, str]:
    where = f" in {b.instrument}" if b.instrument else ""
    names = {"max_position_size": "Position size", "max_leverage": "Leverage",
             "max_daily_loss": "Daily loss", "max_drawdown": "Drawdown",
             "margin": "Margin utilization"}
    title = f"{names.get(b.limit, b.limit)} limit breached{where}"
    return title, f"{b.limit}{where}: {b.value:,.2f} is above the limit of {b.threshold:,.2f}"


def evaluate_alerts(state: AlertState, *, account_id: str, risk: AccountRisk, at: datetime,
                    config: AlertConfig | None = None) -> tuple[AlertState, list[Alert]]:
    """The alerts one risk update raises, and the state to keep for the next update.

    Parameters
    ----------
    state : AlertState
        The state after the previous update (``AlertState()`` for the first).
    account_id : str
    risk : AccountRisk
        The account's risk now (:func:`engine.live.assess_risk`).
    at : datetime
        The update's time (UTC), the alerts' ``triggered_at``.
    config : AlertConfig, optional

    Returns
    -------
    state : AlertState
    alerts : list of Alert
        New alerts only (module docstring, "De-duplication"), in the order breaches, level,
        trend.
    """
    cfg = config or AlertConfig()
    conditions: list[tuple[str, AlertType, Severity, str, str]] = []
    for b in risk.risk_limit_breaches:
        key = f"limit_breach:{b.limit}" + (f":{b.instrument}" if b.instrument else "")
        title, message = _breach_text(b)
        conditions.append((key, "limit_breach", BREACH_SEVERITY.get(b.limit, "warning"), title,
                           message))
    rank = _LEVEL_RANK[risk.risk_level]
    for name, lowest in RISK_LEVELS[1: rank + 1]:
        conditions.append((f"risk_level:{name}", "risk_level", LEVEL_SEVERITY[name],
                           f"Risk level {name}",
                           f"the risk score {risk.risk_score:.1f} reached the {name} level "
                           f"(from {lowest:g})"))
    scores = (*state.scores, float(risk.risk_score))[-(cfg.trend_updates + 1):]
    if len(scores) == cfg.trend_updates + 1 and all(a < b for a, b in zip(scores, scores[1:])):
        conditions.append(("risk_trend", "risk_trend", "warning", "Risk score rising",
                           f"the risk score rose at each of the last {cfg.trend_updates} "
                           f"updates, from {scores[0]:.1f} to {scores[-1]:.1f}"))
    new: list[Alert] = []
    level_keys = [c for c in conditions if c[1] == "risk_level" and c[0] not in state.active]
    for key, kind, severity, title, message in conditions:
        if key in state.active:
            continue
        if kind == "risk_level" and key != level_keys[-1][0]:
            continue  # a jump over several levels raises one alert, for the highest
        new.append(Alert(alert_id=_alert_id(account_id, key, at), account_id=account_id,
                         alert_type=kind, severity=severity, title=title, message=message,
                         risk_score=float(risk.risk_score), triggered_at=at, key=key))
    return AlertState(active=frozenset(c[0] for c in conditions), scores=scores), new


def escalate(alerts: Sequence[Alert], *, now: datetime,
             config: AlertConfig | None = None) -> list[Alert]:
    """The alerts that escalate at ``now`` (module docstring, "Escalation"), escalated.

    Parameters
    ----------
    alerts : sequence of Alert
        Alerts as stored.
    now : datetime
        UTC.
    config : AlertConfig, optional
        ``escalate_after``.

    Returns
    -------
    list of Alert
        Copies of the alerts that escalate now, with ``escalated_at = now`` and the severity
        raised; alerts acknowledged, already escalated, ``info``, or younger than
        ``escalate_after`` are not returned.
    """
    cfg = config or AlertConfig()
    return [a.model_copy(update={"severity": _UP[a.severity], "escalated_at": now})
            for a in alerts
            if not a.is_acknowledged and a.escalated_at is None and a.severity != "info"
            and now - a.triggered_at >= cfg.escalate_after]
