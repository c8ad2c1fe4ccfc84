"""Degradation against thresholds, and the DEPLOY / RESTRICT / REDESIGN decision.

Decision rule (documented; constants below):

1. A scenario *fails* when any of its metrics is FAIL. Scenarios not evaluated (e.g. a SUBGROUP
   slice with too few rows) do not count and are listed in the rationale.
2. Severity-weighted failure share ``S = sum(severity of failing scenarios) /
   sum(severity of evaluated scenarios)``, in [0, 1].
3. **REDESIGN** when ``S >= 0.5`` or a scenario with severity >= 4 fails on the primary metric
   (AUC for a classifier, RMSE for a regressor): the model breaks under severe stress.
   **RESTRICT** when some scenario fails but not REDESIGN: deploy with limits on where it is used.
   **DEPLOY** when no scenario fails.
"""

from __future__ import annotations

from engine.mlrisk._models import METRIC_DIRECTIONS, Thresholds

__all__ = [
    "DECISION_RULE",
    "PRIMARY_METRIC",
    "REDESIGN_SHARE",
    "CRITICAL_SEVERITY",
    "degradation_pct",
    "worsening_pct",
    "metric_status",
    "decide",
    "ACTIONS",
]

DECISION_RULE = (
    "A scenario fails when any of its metrics is FAIL; scenarios not evaluated do not count. "
    "Severity-weighted failure share S = sum(severity of failing scenarios) / sum(severity of "
    "evaluated scenarios). REDESIGN when S >= 0.5 or a scenario of severity >= 4 fails on the "
    "primary metric (AUC for a classifier, RMSE for a regressor); RESTRICT when some scenario "
    "fails otherwise; DEPLOY when none fails."
)
REDESIGN_SHARE = 0.5
CRITICAL_SEVERITY = 4
PRIMARY_METRIC = {"classification": "AUC", "regression": "RMSE"}

ACTIONS = {
    "NOISE": "Make the model robust to noisy inputs (regularise, smooth or bucket the feature) and monitor its volatility.",
    "FEATURE_SHIFT": "Monitor the feature's PSI against the 0.10 / 0.25 bands and plan recalibration or retraining on shifted data.",
    "MISSINGNESS": "Add data-quality checks on the feed and a tested fallback (imputation or manual review) for missing values.",
    "OUT_OF_DISTRIBUTION": "Guard inputs against the training range: flag or route out-of-range cases to manual review.",
    "SUBGROUP": "Review the segment's performance; restrict use or build a segment model before using it there.",
    "ECE": "Recalibrate the scores (Platt scaling or isotonic regression) and re-check ECE.",
}


def degradation_pct(baseline: float | None, stressed: float | None) -> float | None:
    """``(baseline - stressed) / baseline * 100``; ``None`` when undefined (missing or zero baseline).

    Positive means the value fell. For a higher-is-better metric (AUC) that is a worsening; for a
    lower-is-better metric (RMSE, ECE) a worsening shows as a negative number.
    """
    if baseline is None or stressed is None or baseline == 0:
        return None
    return (baseline - stressed) / baseline * 100.0


def worsening_pct(metric: str, *, baseline: float | None, stressed: float | None) -> float | None:
    """Degradation signed by the metric's direction: positive always means worse."""
    d = degradation_pct(baseline, stressed)
    if d is None:
        return None
    return d if METRIC_DIRECTIONS[metric] else -d


def metric_status(metric: str, *, baseline: float | None, stressed: float | None, threshold: float) -> str:
    """PASS or FAIL of one metric under one scenario.

    Relative metrics FAIL when the worsening exceeds ``threshold`` percent of the baseline (a zero
    baseline FAILs on any worsening). ``subgroup_delta`` FAILs when the stressed largest delta
    exceeds the absolute bound ``threshold``. ``NOT_EVALUATED`` when a value is missing.
    """
    if stressed is None or (baseline is None and metric != "subgroup_delta"):
        return "NOT_EVALUATED"
    if metric == "subgroup_delta":
        return "FAIL" if stressed > threshold else "PASS"
    w = worsening_pct(metric, baseline=baseline, stressed=stressed)
    if w is None:  # zero baseline
        worse = stressed < baseline if METRIC_DIRECTIONS[metric] else stressed > baseline
        return "FAIL" if worse else "PASS"
    return "FAIL" if w > threshold else "PASS"


def threshold_for(metric: str, thresholds: Thresholds) -> float:
    return thresholds.for_metric(metric)


def decide(rows: list[dict], *, scenarios: list[dict], task: str) -> dict:
    """The decision from the degradation rows.

    Parameters
    ----------
    rows : list of dict
        performance_degradation_report rows (scenario_id, metric_name, status, worsening_pct, …).
    scenarios : list of dict
        scenario_id, stress_type, severity_level, evaluated (bool), reason.

    Returns
    -------
    dict
        decision, rule, severity_weighted_failure_share, rationale (list of str), key_failures
        (list of rows, severity then worsening, at most 10), recommended_actions (list of str).
    """
    primary = PRIMARY_METRIC[task]
    by_id = {s["scenario_id"]: s for s in scenarios}
    evaluated = [s for s in scenarios if s["evaluated"]]
    failing_ids = sorted({r["scenario_id"] for r in rows if r["status"] == "FAIL"},
                         key=lambda i: [s["scenario_id"] for s in scenarios].index(i))
    total = sum(s["severity_level"] for s in evaluated)
    failed = sum(by_id[i]["severity_level"] for i in failing_ids)
    share = failed / total if total else 0.0
    critical = [r for r in rows if r["status"] == "FAIL" and r["metric_name"] == primary
                and by_id[r["scenario_id"]]["severity_level"] >= CRITICAL_SEVERITY]
    rationale = []
    if not evaluated:
        decision = "REDESIGN"
        rationale.append("No scenario could be evaluated, so robustness is not shown.")
    elif share >= REDESIGN_SHARE or critical:
        decision = "REDESIGN"
    elif failing_ids:
        decision = "RESTRICT"
    else:
        decision = "DEPLOY"
    rationale.append(
        f"{len(failing_ids)} of {len(evaluated)} evaluated scenario(s) fail; severity-weighted failure "
        f"share {share:.2f} (REDESIGN at {REDESIGN_SHARE:.2f} or more)."
    )
    for r in critical:
        rationale.append(
            f"Severity-{by_id[r['scenario_id']]['severity_level']} scenario {r['scenario_id']} fails on "
            f"{primary} (worsening {r['worsening_pct']:.2f} % > threshold {r['threshold']:g} %)."
        )
    for s in scenarios:
        if not s["evaluated"]:
            rationale.append(f"Scenario {s['scenario_id']} not evaluated: {s['reason']}.")
    fails = [r for r in rows if r["status"] == "FAIL"]
    fails.sort(key=lambda r: (-by_id[r["scenario_id"]]["severity_level"],
                              -(r["worsening_pct"] if r["worsening_pct"] is not None else float("inf")),
                              r["scenario_id"], r["metric_name"]))
    key = [{"scenario_id": r["scenario_id"], "metric_name": r["metric_name"],
            "severity_level": by_id[r["scenario_id"]]["severity_level"],
            "baseline_value": r["baseline_value"], "stressed_value": r["stressed_value"],
            "worsening_pct": r["worsening_pct"], "threshold": r["threshold"]} for r in fails[:10]]
    actions = []
    for i in failing_ids:
        a = ACTIONS[by_id[i]["stress_type"]]
        if a not in actions:
            actions.append(a)
    if any(r["metric_name"] == "ECE" for r in fails):
        actions.append(ACTIONS["ECE"])
    if decision == "DEPLOY":
        actions.append("Deploy with standard monitoring: PSI of the inputs against the 0.10 / 0.25 bands, "
                       "quarterly AUC and ECE review.")
    elif decision == "RESTRICT":
        actions.append("Deploy only where the failing conditions are absent, with a documented usage limit and "
                       "re-validation after remediation.")
    else:
        actions.append("Do not deploy: redesign the model (features, training data covering stress conditions) "
                       "and re-run this validation.")
    return {
        "decision": decision,
        "rule": DECISION_RULE,
        "severity_weighted_failure_share": share,
        "failing_scenarios": failing_ids,
        "rationale": rationale,
        "key_failures": key,
        "recommended_actions": actions,
    }
