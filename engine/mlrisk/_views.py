"""Tables the pages show, read from stored results (a page never recomputes what is stored)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.errors import NotFoundError

__all__ = ["baseline_table", "report_table", "drift_table", "subgroup_matrix", "distribution", "chart_rows",
           "handbook_table"]


def baseline_table(results: dict) -> pd.DataFrame:
    """One row per metric: metric, baseline value."""
    return pd.DataFrame([{"metric": k, "baseline": v} for k, v in results["baseline"]["metrics"].items()])


def report_table(rows: list[dict]) -> pd.DataFrame:
    """The degradation report with the columns in reading order."""
    cols = ["scenario_id", "stress_type", "severity_level", "metric_name", "baseline_value", "stressed_value",
            "degradation_pct", "worsening_pct", "threshold", "threshold_kind", "status"]
    return pd.DataFrame(rows)[cols] if rows else pd.DataFrame(columns=cols)


def chart_rows(rows: list[dict], metric: str) -> pd.DataFrame:
    """Rows of one metric for the baseline-vs-stressed and degradation charts (evaluated rows only)."""
    df = report_table(rows)
    return df[(df["metric_name"] == metric) & (df["status"] != "NOT_EVALUATED")].reset_index(drop=True)


def drift_table(results: dict) -> pd.DataFrame:
    """Per stressed feature and scenario: PSI, PSI_band, KS, KS_p_value, wasserstein_normalised."""
    out = []
    for s in results["scenarios"]:
        if s.get("drift"):
            out.append({"scenario_id": s["scenario_id"], **s["drift"]})
    cols = ["scenario_id", "feature", "PSI", "PSI_band", "KS", "KS_p_value", "wasserstein_normalised"]
    return pd.DataFrame(out, columns=cols)


def subgroup_matrix(results: dict, metric: str) -> pd.DataFrame:
    """Scenario x subgroup matrix of one metric.

    Returns
    -------
    DataFrame of shape (1 + n_scenarios, n_subgroup_levels)
        Index "baseline" then each scenario_id; columns ``"column=level"``; NaN where the level was
        not evaluated (too few rows, one class only, or scenario not evaluated).
    """
    def row(sub: list[dict]) -> dict:
        return {f"{g['column']}={g['level']}": (g["metrics"] or {}).get(metric, np.nan) if g["metrics"] else np.nan
                for g in sub}

    data = {"baseline": row(results["baseline"]["subgroups"])}
    for s in results["scenarios"]:
        data[s["scenario_id"]] = row(s["subgroups"] or [])
    frame = pd.DataFrame.from_dict(data, orient="index")
    cols = [f"{g['column']}={g['level']}" for g in results["baseline"]["subgroups"]]
    extra = [c for c in frame.columns if c not in cols]
    return frame.reindex(columns=cols + extra).astype(float)


def distribution(results: dict, *, scenario_id: str, feature: str) -> pd.DataFrame:
    """A feature's histogram before and after a scenario: bin_left, bin_right, before, after (counts).

    Raises
    ------
    NotFoundError
        If the results hold no such scenario, or no histogram of ``feature`` in it.
    """
    for s in results["scenarios"]:
        if s["scenario_id"] == scenario_id:
            h = s["distributions"].get(feature)
            if h is None:
                raise NotFoundError(f"no distribution of {feature!r} in scenario {scenario_id!r}")
            e = h["edges"]
            return pd.DataFrame({"bin_left": e[:-1], "bin_right": e[1:], "before": h["before"], "after": h["after"]})
    raise NotFoundError(f"no scenario {scenario_id!r} in these results")


def handbook_table(handbook) -> pd.DataFrame:
    """The handbook as a table (parameters as compact text)."""
    return pd.DataFrame([{
        "scenario_id": s.scenario_id, "stress_type": s.stress_type, "severity_level": s.severity_level,
        "parameters": ", ".join(f"{k}={v}" for k, v in s.parameters.items()), "seed": s.seed,
        "description": s.description, "real_world_event": s.real_world_event,
        "expected_business_impact": s.expected_business_impact,
    } for s in handbook.scenarios])
