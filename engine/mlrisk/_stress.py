"""Stress transformations of the test features, and the default scenario handbook."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.errors import Issue, ValidationError
from engine.mlrisk._data import PreparedData, _same_value
from engine.mlrisk._models import Handbook, Scenario, parse_handbook

__all__ = ["apply_stress", "subgroup_mask", "check_handbook", "default_handbook"]


def apply_stress(
    values: np.ndarray, *, scenario: Scenario, stats: dict[str, float]
) -> tuple[np.ndarray, dict]:
    """Stressed copy of one numeric feature.

    Parameters
    ----------
    values : ndarray of shape (n_samples,)
        The feature in the test split, its own units.
    scenario : Scenario
        NOISE, FEATURE_SHIFT, MISSINGNESS or OUT_OF_DISTRIBUTION; randomness from
        ``np.random.default_rng(scenario.seed)``.
    stats : dict
        The feature's training-split ``mean``, ``median``, ``std``, ``min``, ``max``.

    Returns
    -------
    (ndarray of shape (n_samples,), dict)
        The stressed values and what was done (e.g. the imputation strategy and value, the number
        of rows changed).

    Notes
    -----
    - NOISE: ``x + N(0, (m * std)^2)``, m = std_dev_multiplier, std of the training split.
    - FEATURE_SHIFT: ``x * (1 + shift_percentage)`` or ``x + shift_amount``.
    - MISSINGNESS: ``round(p * n)`` rows drawn without replacement set to NaN, then imputed with
      the training mean or median.
    - OUT_OF_DISTRIBUTION: ``round(fraction * n)`` rows (all when fraction is 1) mapped to
      ``max + (x - min) * (scale_factor - 1)``: beyond the training maximum, order preserved.

    Raises
    ------
    ValueError
        For a SUBGROUP scenario (it selects rows and changes no value).
    """
    x = np.asarray(values, dtype=float).copy()
    p = scenario.parameters
    rng = np.random.default_rng(scenario.seed)
    n = x.size
    if scenario.stress_type == "NOISE":
        sigma = p["std_dev_multiplier"] * stats["std"]
        x = x + rng.normal(0.0, sigma, n)
        return x, {"sigma": sigma, "rows_changed": n}
    if scenario.stress_type == "FEATURE_SHIFT":
        if "shift_percentage" in p:
            return x * (1.0 + p["shift_percentage"]), {"mode": "multiplicative", "rows_changed": n}
        return x + p["shift_amount"], {"mode": "additive", "rows_changed": n}
    if scenario.stress_type == "MISSINGNESS":
        k = int(round(p["missing_percentage"] * n))
        rows = rng.choice(n, size=k, replace=False)
        x[rows] = np.nan
        fill = stats[p["imputation"]]
        x[np.isnan(x)] = fill
        return x, {"imputation": p["imputation"], "imputed_value": fill, "rows_changed": k}
    if scenario.stress_type == "OUT_OF_DISTRIBUTION":
        k = n if p["fraction"] >= 1.0 else int(round(p["fraction"] * n))
        rows = np.arange(n) if k == n else np.sort(rng.choice(n, size=k, replace=False))
        span = stats["max"] - stats["min"]
        x[rows] = stats["max"] + (x[rows] - stats["min"]) * (p["scale_factor"] - 1.0)
        return x, {"training_min": stats["min"], "training_max": stats["max"], "rows_changed": k,
                   "span": span}
    raise ValueError(f"{scenario.stress_type} does not transform values")


def subgroup_mask(column: pd.Series, value: object) -> np.ndarray:
    """Boolean mask of shape (n_samples,) of the rows where ``column == value`` (numbers compared as
    numbers, everything else as text)."""
    return _same_value(column, value).to_numpy(dtype=bool)


def check_handbook(handbook: Handbook, *, data: PreparedData, columns: list[str]) -> None:
    """Check every scenario names a usable column of this dataset.

    Raises
    ------
    ValidationError
        One issue per scenario (row = its position) whose feature is not a numeric model feature,
        or whose SUBGROUP column is not in the table.
    """
    issues = []
    for i, s in enumerate(handbook.scenarios, start=1):
        if s.stress_type == "SUBGROUP":
            col = s.parameters["column"]
            if col not in columns:
                issues.append(Issue(i, "parameters.column", col, f"scenario {s.scenario_id!r}: column not in the table"))
        else:
            f = s.parameters["feature"]
            if f not in data.numeric_features:
                why = ("is categorical; stress a numeric feature" if f in data.categorical_features
                       else "is not a feature of the model")
                issues.append(Issue(i, "parameters.feature", f, f"scenario {s.scenario_id!r}: {f!r} {why}"))
    if issues:
        raise ValidationError(issues, subject="scenario handbook")


_TAIWAN_DEFAULT = [
    {
        "scenario_id": "volatility_noise", "stress_type": "NOISE", "seed": 101, "severity_level": 2,
        "parameters": {"feature": "BILL_AMT1", "std_dev_multiplier": 0.5},
        "description": "Gaussian noise of half a standard deviation on the latest bill amount.",
        "real_world_event": "Market volatility spike (e.g. 2008 financial crisis) making monthly balances erratic.",
        "expected_business_impact": "Noisier default scores; more misranked applicants at the approval cut-off.",
    },
    {
        "scenario_id": "rate_shift", "stress_type": "FEATURE_SHIFT", "seed": 102, "severity_level": 3,
        "parameters": {"feature": "PAY_AMT1", "shift_percentage": -0.30},
        "description": "Repayments 30 % lower across the book.",
        "real_world_event": "+300 bp policy-rate shock squeezing household cash flow (cf. Taiwan card debt crisis 2005-06).",
        "expected_business_impact": "Under-estimated default risk if the model leans on recent repayments.",
    },
    {
        "scenario_id": "missing_credit_limit", "stress_type": "MISSINGNESS", "seed": 103, "severity_level": 2,
        "parameters": {"feature": "LIMIT_BAL", "missing_percentage": 0.30, "imputation": "median"},
        "description": "30 % of credit limits missing, imputed with the training median.",
        "real_world_event": "Bureau or core-banking feed outage during a stress period.",
        "expected_business_impact": "Flattened risk ranking for affected accounts; manual review load.",
    },
    {
        "scenario_id": "beyond_range_bills", "stress_type": "OUT_OF_DISTRIBUTION", "seed": 104, "severity_level": 4,
        "parameters": {"feature": "BILL_AMT1", "scale_factor": 1.5, "fraction": 0.25},
        "description": "A quarter of bill amounts pushed beyond the training maximum (scale factor 1.5).",
        "real_world_event": "Inflation or credit-line expansion moving balances outside anything seen in training.",
        "expected_business_impact": "Extrapolated scores with no training support; limits set on unreliable PDs.",
    },
    {
        "scenario_id": "subgroup_high_school", "stress_type": "SUBGROUP", "seed": 105, "severity_level": 3,
        "parameters": {"column": "EDUCATION", "value": 3},
        "description": "Performance on cardholders with high-school education (EDUCATION = 3).",
        "real_world_event": "Fair-lending review or a downturn concentrated in one customer segment.",
        "expected_business_impact": "Mispriced risk and conduct exposure in that segment.",
    },
]


def default_handbook(data: PreparedData | None = None, *, groups: pd.DataFrame | None = None) -> Handbook:
    """The default handbook: volatility noise, a rate shift, missing data, beyond-range values and a
    subgroup slice.

    For the bundled dataset (or ``data=None``) the scenarios use BILL_AMT1, PAY_AMT1, LIMIT_BAL and
    EDUCATION = 3. For another table they are mapped to its numeric features in order (first,
    second, third, first) and to the most frequent level of its first subgroup column (or the
    first categorical feature); a table with no subgroup column gets no SUBGROUP scenario.
    """
    rows = [dict(r, parameters=dict(r["parameters"])) for r in _TAIWAN_DEFAULT]
    if data is None:
        return parse_handbook(rows)
    wanted = {"BILL_AMT1", "PAY_AMT1", "LIMIT_BAL"}
    sub_ok = "EDUCATION" in (groups.columns if groups is not None else [])
    if wanted <= set(data.numeric_features) and sub_ok:
        return parse_handbook(rows)
    num = list(data.numeric_features)
    if not num:
        raise ValidationError([Issue(None, None, None, "no numeric feature to stress; add one")],
                              subject="default handbook")
    pick = [num[i % len(num)] for i in (0, 1, 2, 0)]
    for row, f in zip(rows[:4], pick):
        row["parameters"]["feature"] = f
        row["description"] = f"{row['stress_type']} on {f} (default handbook mapped to this table)."
    rows = rows[:4]
    if groups is not None and len(groups.columns):
        col = groups.columns[0]
        top = groups[col].dropna().value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        if len(top):
            value = top.index[0]
            value = value.item() if hasattr(value, "item") else value
            rows.append(dict(_TAIWAN_DEFAULT[4], parameters={"column": col, "value": value},
                             description=f"Performance on {col} = {value}."))
    return parse_handbook(rows)
