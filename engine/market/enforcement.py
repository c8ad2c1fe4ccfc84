"""Limit enforcement: one decision per rule, and the three modes.

Mode logic (every decision carries action, reason, mode and sensor):

==========  ===========================  =====================================================
breached?   mode                         action taken (``enforced``)
==========  ===========================  =====================================================
no          any                          ``none`` (False)
yes         any, rule action ``none``    ``none`` (False)
yes         monitoring                   ``warn`` (False): always warn, never enforce
yes         gradual, sensor READY        the rule's action (True)
yes         gradual, HIGH_FP/MONITORING  ``warn`` (False)
yes         full                         the rule's action (True)
==========  ===========================  =====================================================

A rule is breached when its metric is strictly above its threshold. The reason states the metric
and the limit for reading (:func:`engine.market.readings.comparison`: "$1,219,960", "9.2%"); the
numbers themselves stay in ``metric`` and ``threshold``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from engine.errors import InputError
from engine.market.limits import ACTIONS, MODES, LimitsConfig
from engine.market.readings import action_words, comparison
from engine.market.sensors import RiskSnapshot, sensor_rules

__all__ = ["Decision", "Evaluation", "SEVERITY", "decide", "evaluate"]

SEVERITY: dict[str, int] = {a: i for i, a in enumerate(ACTIONS)}


class Decision(BaseModel):
    """The outcome of one rule."""

    model_config = ConfigDict(frozen=True)

    sensor: str
    rule: str
    metric: float
    threshold: float
    utilisation: float  #: metric / threshold (the metric itself when the threshold is 0)
    breached: bool
    configured_action: str
    action: str
    enforced: bool
    mode: str
    status: str
    reason: str


def decide(
    *,
    sensor: str,
    rule: str,
    metric: float,
    threshold: float,
    configured_action: str,
    mode: str,
    status: str = "MONITORING",
) -> Decision:
    """Decide one rule (see the module's table).

    Parameters
    ----------
    metric, threshold : float
        The sensor's metric and the rule's maximum (breach when ``metric > threshold``).
    configured_action : {"none", "warn", "throttle", "reduce_position", "halt"}
    mode : {"monitoring", "gradual", "full"}
    status : {"READY", "HIGH_FP", "MONITORING"}
        The sensor's readiness; used by the gradual mode only.

    Raises
    ------
    InputError
        Unknown mode or action.
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if configured_action not in SEVERITY:
        raise InputError(f"unknown action {configured_action!r}: use one of {', '.join(ACTIONS)}")
    util = metric / threshold if threshold > 0 else metric
    breached = metric > threshold
    enforced = False
    said = comparison(rule, metric=metric, threshold=threshold)  # numbers kept apart, unformatted
    would = f" (would {action_words(configured_action)})"
    if not breached:
        action, reason = "none", said
    elif configured_action == "none":
        action, reason = "none", f"{said}; rule action is none"
    elif mode == "monitoring":
        action = "warn"
        reason = f"{said}; monitoring mode: warn only{'' if configured_action == 'warn' else would}"
    elif mode == "full" or status == "READY":
        action, enforced = configured_action, True
        why = "full mode" if mode == "full" else f"gradual mode, sensor {sensor} READY"
        reason = f"{said}; {why}: {action_words(configured_action)}"
    else:
        action = "warn"
        why = ("false-positive rate at or above the threshold" if status == "HIGH_FP"
               else "not observed long enough")
        reason = (f"{said}; gradual mode, sensor {sensor} {status} ({why}): warn only{would}")
    return Decision(sensor=sensor, rule=rule, metric=metric, threshold=threshold,
                    utilisation=util, breached=breached, configured_action=configured_action,
                    action=action, enforced=enforced, mode=mode, status=status, reason=reason)


class Evaluation(BaseModel):
    """Every rule's decision and the overall (most severe) action."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    mode: str
    action: str
    sensor: str | None  #: the sensor behind the overall action (None when no action)
    reason: str
    decisions: list[Decision]
    latency_us: float

    def breaches(self) -> list[Decision]:
        return [d for d in self.decisions if d.breached]

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([d.model_dump() for d in self.decisions])


def evaluate(
    snapshot: RiskSnapshot,
    *,
    config: LimitsConfig,
    mode: str | None = None,
    statuses: Mapping[str, str] | None = None,
) -> Evaluation:
    """Evaluate every rule of ``config`` on a precomputed snapshot.

    Parameters
    ----------
    mode : str, optional
        Default: ``config.mode``.
    statuses : mapping sensor -> status, optional
        Readiness per sensor (default ``MONITORING`` for every sensor).

    Returns
    -------
    Evaluation
        ``action`` is the most severe decision's action; ties go to the first rule in sensor
        order. ``latency_us`` is the wall time of the evaluation.
    """
    t0 = time.perf_counter()
    m = mode or config.mode
    st = statuses or {}
    decisions = [
        decide(sensor=s, rule=r, metric=metric, threshold=thr, configured_action=a, mode=m,
               status=st.get(s, "MONITORING"))
        for s, r, metric, thr, a in sensor_rules(snapshot, config)
    ]
    top = max(decisions, key=lambda d: SEVERITY[d.action])
    if SEVERITY[top.action] == 0:
        sensor, reason = None, "every rule within its limit" if not any(
            d.breached for d in decisions) else "breaches carry no action"
    else:
        sensor, reason = top.sensor, top.reason
    latency = (time.perf_counter() - t0) * 1e6
    return Evaluation(as_of=snapshot.as_of, mode=m, action=top.action, sensor=sensor,
                      reason=reason, decisions=decisions, latency_us=latency)
