"""The mode logic as a table of cases, and a whole evaluation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.errors import InputError
from engine.market.enforcement import decide, evaluate
from engine.market.sensors import SENSORS, compute_snapshot, sensor_status

# (metric, threshold, configured action, mode, status) -> (action, enforced)
CASES = [
    # within the limit: nothing, whatever the mode
    (0.9, 1.0, "halt", "monitoring", "READY", "none", False),
    (0.9, 1.0, "halt", "gradual", "READY", "none", False),
    (1.0, 1.0, "halt", "full", "READY", "none", False),  # equal is not a breach
    # a breach whose rule action is none stays none
    (1.5, 1.0, "none", "full", "READY", "none", False),
    # monitoring: always warn, never enforce
    (1.5, 1.0, "halt", "monitoring", "READY", "warn", False),
    (1.5, 1.0, "throttle", "monitoring", "HIGH_FP", "warn", False),
    (1.5, 1.0, "warn", "monitoring", "MONITORING", "warn", False),
    # gradual: enforce only a READY sensor
    (1.5, 1.0, "reduce_position", "gradual", "READY", "reduce_position", True),
    (1.5, 1.0, "reduce_position", "gradual", "HIGH_FP", "warn", False),
    (1.5, 1.0, "halt", "gradual", "MONITORING", "warn", False),
    # full: always enforce
    (1.5, 1.0, "halt", "full", "HIGH_FP", "halt", True),
    (1.5, 1.0, "throttle", "full", "MONITORING", "throttle", True),
    (1.5, 1.0, "warn", "full", "READY", "warn", True),
]


@pytest.mark.parametrize(("metric", "thr", "configured", "mode", "status", "action", "enforced"),
                         CASES)
def test_mode_table(metric, thr, configured, mode, status, action, enforced):
    d = decide(sensor="var_breach", rule="var_0.99", metric=metric, threshold=thr,
               configured_action=configured, mode=mode, status=status)
    assert (d.action, d.enforced) == (action, enforced)
    assert d.mode == mode and d.sensor == "var_breach" and d.reason
    assert d.breached == (metric > thr)
    assert d.utilisation == pytest.approx(metric / thr)


def test_reason_says_what_would_have_happened():
    d = decide(sensor="drawdown", rule="drawdown", metric=0.3, threshold=0.2,
               configured_action="halt", mode="gradual", status="HIGH_FP")
    assert "HIGH_FP" in d.reason and "would halt" in d.reason


@pytest.mark.parametrize(("mode", "action"), [("bogus", "warn"), ("full", "explode")])
def test_unknown_mode_or_action_is_refused(mode, action):
    with pytest.raises(InputError):
        decide(sensor="s", rule="r", metric=1, threshold=0, configured_action=action, mode=mode)


def test_evaluate_covers_every_sensor_and_picks_the_most_severe(small_prices, small_positions,
                                                                small_config):
    snap = compute_snapshot(small_prices, positions=small_positions, config=small_config)
    assert {d.sensor for d in evaluate(snap, config=small_config).decisions} == set(SENSORS)
    # Force two breaches: a tiny VaR limit (throttle) and a tiny drawdown limit (reduce_position).
    lim = small_config.limits.model_copy(update={"var": [
        small_config.limits.var[1].model_copy(update={"max": 1e-9})]})
    sen = small_config.sensors.model_copy(update={"drawdown": small_config.sensors.drawdown
                                                  .model_copy(update={"max": 0.0})})
    cfg = small_config.model_copy(update={"limits": lim, "sensors": sen})
    snap = compute_snapshot(small_prices, positions=small_positions, config=cfg)
    assert snap.drawdown > 0
    full = evaluate(snap, config=cfg, mode="full")
    assert full.action == "reduce_position" and full.sensor == "drawdown"
    mon = evaluate(snap, config=cfg, mode="monitoring")
    assert mon.action == "warn" and not any(d.enforced for d in mon.decisions)
    grad = evaluate(snap, config=cfg, mode="gradual", statuses={"var_breach": "READY"})
    assert grad.action == "throttle" and grad.sensor == "var_breach"


# sensor readiness: (days observed, false positives in window) -> (rate, status)
T = datetime(2024, 3, 1)


@pytest.mark.parametrize(
    ("observed_days", "fp_days_ago", "rate", "status"),
    [
        (3, [], 0.0, "MONITORING"),  # observed for fewer than 7 days
        (14, [], 0.0, "READY"),
        (14, [1], 0.5, "READY"),  # one FP over two weeks
        (14, [1, 2], 1.0, "HIGH_FP"),  # at the threshold of 1 per week
        (60, [1, 2, 40], 0.5, "READY"),  # 40 days ago is outside the 28-day window: 2 / 4 weeks
        (7, [1, 2], 2.0, "HIGH_FP"),  # 2 FPs in one week
    ],
)
def test_sensor_status_table(observed_days, fp_days_ago, rate, status):
    s = sensor_status("var_breach", as_of=T, first_seen=T - timedelta(days=observed_days),
                      false_positive_times=[T - timedelta(days=d) for d in fp_days_ago])
    assert s.false_positive_rate_per_week == pytest.approx(rate)
    assert s.status == status and s.ready == (status == "READY")


def test_sensor_never_evaluated_is_monitoring():
    assert sensor_status("leverage", as_of=T, first_seen=None,
                         false_positive_times=[]).status == "MONITORING"
