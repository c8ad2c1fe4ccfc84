"""degradation_pct, PASS/FAIL by direction, and the DEPLOY / RESTRICT / REDESIGN rule."""

from __future__ import annotations

import pytest

from engine.mlrisk import decide, degradation_pct, metric_status, worsening_pct


def test_degradation_pct_formula():
    assert degradation_pct(0.80, 0.76) == pytest.approx(5.0)       # (0.80 - 0.76) / 0.80 * 100
    assert degradation_pct(10.0, 11.0) == pytest.approx(-10.0)    # RMSE up 10 % shows as -10
    assert degradation_pct(0.0, 0.1) is None
    assert degradation_pct(None, 0.1) is None


def test_worsening_is_signed_by_direction():
    assert worsening_pct("AUC", baseline=0.80, stressed=0.76) == pytest.approx(5.0)
    assert worsening_pct("RMSE", baseline=10.0, stressed=11.0) == pytest.approx(10.0)
    assert worsening_pct("ECE", baseline=0.02, stressed=0.01) == pytest.approx(-50.0)


@pytest.mark.parametrize(("metric", "base", "stressed", "threshold", "status"), [
    ("AUC", 0.80, 0.761, 5.0, "PASS"),     # 4.875 % worse
    ("AUC", 0.80, 0.759, 5.0, "FAIL"),     # 5.125 % worse
    ("AUC", 0.80, 0.90, 5.0, "PASS"),      # better
    ("RMSE", 10.0, 10.9, 10.0, "PASS"),    # 9 % worse
    ("RMSE", 10.0, 11.1, 10.0, "FAIL"),    # 11 % worse
    ("RMSE", 10.0, 8.0, 10.0, "PASS"),     # better (degradation_pct +20)
    ("ECE", 0.0, 0.01, 5.0, "FAIL"),       # zero baseline, any worsening fails
    ("subgroup_delta", 0.02, 0.09, 0.10, "PASS"),   # absolute bound
    ("subgroup_delta", 0.02, 0.11, 0.10, "FAIL"),
    ("AUC", 0.80, None, 5.0, "NOT_EVALUATED"),
])
def test_metric_status(metric, base, stressed, threshold, status):
    assert metric_status(metric, baseline=base, stressed=stressed, threshold=threshold) == status


def _row(sid, metric, status, worsening=1.0):
    return {"scenario_id": sid, "metric_name": metric, "status": status, "worsening_pct": worsening,
            "threshold": 5.0, "baseline_value": 0.8, "stressed_value": 0.7}


SCENARIOS = [
    {"scenario_id": "a", "stress_type": "NOISE", "severity_level": 1, "evaluated": True, "reason": None},
    {"scenario_id": "b", "stress_type": "FEATURE_SHIFT", "severity_level": 2, "evaluated": True, "reason": None},
    {"scenario_id": "c", "stress_type": "OUT_OF_DISTRIBUTION", "severity_level": 4, "evaluated": True, "reason": None},
    {"scenario_id": "d", "stress_type": "SUBGROUP", "severity_level": 5, "evaluated": False, "reason": "3 rows"},
]


def test_deploy_when_nothing_fails():
    d = decide([_row("a", "AUC", "PASS"), _row("c", "AUC", "PASS")], scenarios=SCENARIOS, task="classification")
    assert d["decision"] == "DEPLOY"
    assert d["severity_weighted_failure_share"] == 0.0
    assert any("not evaluated" in r for r in d["rationale"])  # scenario d is reported


def test_restrict_when_minor_failures():
    # failing a (1) + b (2) of evaluated 1 + 2 + 4 = 7 -> S = 3/7 < 0.5, no critical primary failure
    rows = [_row("a", "ECE", "FAIL"), _row("b", "AUC", "FAIL"), _row("c", "ECE", "PASS")]
    d = decide(rows, scenarios=SCENARIOS, task="classification")
    assert d["decision"] == "RESTRICT"
    assert d["severity_weighted_failure_share"] == pytest.approx(3 / 7)
    assert d["failing_scenarios"] == ["a", "b"]


def test_redesign_when_severe_scenario_fails_primary_metric():
    d = decide([_row("c", "AUC", "FAIL", 7.0)], scenarios=SCENARIOS, task="classification")
    assert d["decision"] == "REDESIGN"           # S = 4/7 as well, and severity 4 fails on AUC
    d2 = decide([_row("c", "ECE", "FAIL")], scenarios=[s for s in SCENARIOS if s["scenario_id"] != "a"] + [
        {"scenario_id": "a", "stress_type": "NOISE", "severity_level": 5, "evaluated": True, "reason": None}],
        task="classification")
    assert d2["decision"] == "RESTRICT"           # 4 / (2 + 4 + 5) = 0.36, ECE is not the primary metric
    assert d2["key_failures"][0]["scenario_id"] == "c"


def test_key_failures_ordered_by_severity_then_worsening():
    rows = [_row("a", "AUC", "FAIL", 50.0), _row("b", "ECE", "FAIL", 9.0), _row("b", "AUC", "FAIL", 20.0)]
    d = decide(rows, scenarios=SCENARIOS, task="classification")
    assert [(k["scenario_id"], k["metric_name"]) for k in d["key_failures"]] == [("b", "AUC"), ("b", "ECE"), ("a", "AUC")]
