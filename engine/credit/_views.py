"""Tables the credit pages show, derived from engine results (pages lay out; they never compute).

Every function is pure: it takes results the engine produced (a scenario library, a stress
result's metrics, stored cashflows, loan-level rows, an edited assumption table) and returns a
DataFrame in reading order. Large inputs are aggregated here so a chart never carries one point
per loan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from engine.credit._scenarios import FACTOR_RANGES, Scenario, parse_custom_scenarios
from engine.credit.models import PoolData
from engine.errors import NotFoundError
from engine.limits import parse_json

__all__ = [
    "COMPARED_METRICS",
    "scenario_factor_table",
    "metrics_against_base",
    "cashflow_chart_frame",
    "loan_level_by",
    "top_loans",
    "loan_path_frame",
    "assumption_changes",
    "histogram_frame",
    "scenarios_to_json",
    "scenarios_from_json",
]

#: Metrics compared against the base case on the results page, in display order.
COMPARED_METRICS: tuple[str, ...] = (
    "npv", "total_principal", "total_interest", "total_loss", "loss_percent",
    "weighted_average_life", "duration", "irr",
)


def scenario_factor_table(library: Mapping[str, Scenario]) -> pd.DataFrame:
    """Scenarios side by side: one row per scenario, one column per market factor.

    Parameters
    ----------
    library : mapping of key to Scenario
        As given by :func:`engine.credit.workflow.scenario_library`.

    Returns
    -------
    DataFrame of shape (n_scenarios, 4 + 6)
        ``key``, ``name``, ``source``, ``description``, then the six factors of
        :data:`FACTOR_RANGES` (shocks and spreads as annual decimals, multipliers unitless).
    """
    rows = [{"key": k, "name": s.name, "source": s.source, "description": s.description,
             **s.market_factors.model_dump()} for k, s in library.items()]
    cols = ["key", "name", "source", "description", *FACTOR_RANGES]
    return pd.DataFrame(rows, columns=cols)


def metrics_against_base(metrics: pd.DataFrame, *,
                         compared: tuple[str, ...] = COMPARED_METRICS) -> pd.DataFrame:
    """Each scenario's metrics and their change from the base case.

    Parameters
    ----------
    metrics : DataFrame
        ``StressTestResult.metrics_frame()``: one row per scenario with ``scenario``, ``name``,
        ``status`` and the metric columns. The row whose ``scenario`` is ``"base"`` is the base.
    compared : tuple of str
        Metrics to compare; a metric missing from ``metrics`` is skipped.

    Returns
    -------
    DataFrame of shape (n_scenarios, 3 + 2 * n_metrics)
        ``scenario``, ``name``, ``status``, then for each metric ``<metric>`` and
        ``<metric>_change`` (scenario − base, same unit; NaN when the base or the scenario
        failed), and ``npv_change_percent`` as the runner gave it (percent of base NPV).
        Base first.
    """
    cols = [m for m in compared if m in metrics.columns]
    out = metrics[["scenario", "name", "status"]].copy()
    base = metrics[(metrics["scenario"] == "base") & (metrics["status"] == "success")]
    for m in cols:
        values = pd.to_numeric(metrics[m], errors="coerce").astype("float64")
        values = values.where(metrics["status"] == "success")
        out[m] = values
        ref = float(pd.to_numeric(base[m], errors="coerce").iloc[0]) if len(base) else np.nan
        out[f"{m}_change"] = values - ref
    if "npv_change_percent" in metrics.columns:  # the runner's own figure, kept as it is
        out["npv_change_percent"] = pd.to_numeric(metrics["npv_change_percent"],
                                                  errors="coerce").astype("float64")
    order = np.argsort((out["scenario"] != "base").to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def cashflow_chart_frame(cashflows: pd.DataFrame, *, names: Mapping[str, str] | None = None,
                         max_points: int = 400) -> pd.DataFrame:
    """Pool cashflows per scenario and month, thinned for plotting.

    Parameters
    ----------
    cashflows : DataFrame
        ``StressTestResult.cashflows_frame()`` (long form: ``scenario``, ``period`` and the
        cashflow columns, currency units per month).
    names : mapping of scenario key to display name, optional
        Adds a ``scenario_name`` column (the key when a name is missing).
    max_points : int
        At most this many periods per scenario are kept (every k-th month, the last kept), so a
        600-month horizon with many scenarios stays light in the browser.

    Returns
    -------
    DataFrame
        The input's rows for the kept periods, with ``scenario_name`` and
        ``cumulative_loss`` (running sum of ``loss`` per scenario, currency units).
    """
    if cashflows.empty:
        return cashflows.assign(scenario_name=pd.Series(dtype="string"),
                                cumulative_loss=pd.Series(dtype="float64"))
    df = cashflows.sort_values(["scenario", "period"]).copy()
    df["cumulative_loss"] = df.groupby("scenario", sort=False)["loss"].cumsum()
    n = int(df["period"].max())
    step = max(1, int(np.ceil(n / max_points)))
    keep = (df["period"] % step == 0) | (df["period"] == df.groupby("scenario")["period"].transform("max"))
    df = df[keep].copy()
    names = dict(names or {})
    df["scenario_name"] = df["scenario"].map(lambda k: names.get(k, k))
    return df.reset_index(drop=True)


def loan_level_by(loan_level: pd.DataFrame, by: str = "grade") -> pd.DataFrame:
    """Loan-level results of one scenario aggregated by a loan attribute.

    Parameters
    ----------
    loan_level : DataFrame of shape (n_assets, ...)
        One scenario's loan-level rows (``starting_balance``, ``npv``, ``total_default``,
        ``total_loss`` in currency units).
    by : str
        ``grade`` or ``asset_class``; a missing value is shown as "(none)".

    Returns
    -------
    DataFrame
        ``by``, ``n_assets``, ``starting_balance``, ``npv``, ``total_default``, ``total_loss``
        (sums, currency units) and ``loss_percent`` (total loss / starting balance × 100).
    """
    key = loan_level[by].astype("string").fillna("(none)")
    out = (loan_level.assign(_k=key).groupby("_k", sort=True)
           .agg(n_assets=("asset_id", "size"), starting_balance=("starting_balance", "sum"),
                npv=("npv", "sum"), total_default=("total_default", "sum"),
                total_loss=("total_loss", "sum"))
           .reset_index().rename(columns={"_k": by}))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["loss_percent"] = np.where(out["starting_balance"] > 0,
                                       out["total_loss"] / out["starting_balance"] * 100.0, np.nan)
    return out


def top_loans(loan_level: pd.DataFrame, *, by: str = "total_loss", n: int = 20) -> pd.DataFrame:
    """The ``n`` loans with the largest ``by`` (ties kept in file order)."""
    return (loan_level.sort_values(by, ascending=False, kind="stable").head(n)
            .reset_index(drop=True))


def loan_path_frame(pool: PoolData, *, asset_id: str, scenario: Scenario, horizon: int,
                    delinquent_cdr: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Month-by-month path of one loan under one scenario (closed form, :func:`engine.credit._cashflows.loan_paths`).

    Parameters
    ----------
    pool : PoolData
        The stored pool the loan belongs to.
    asset_id : str
        The loan.
    scenario : Scenario
        Its market factors are applied.
    horizon : int
        Months to project.
    delinquent_cdr : mapping of asset_class to annual CDR, optional
        The CDR floor of delinquent loans the run applied (decimal); default none.

    Returns
    -------
    DataFrame of shape (horizon, 5)
        ``period`` (months), ``balance``, ``cumulative_default``, ``cumulative_loss`` (currency
        units) and ``cumulative_default_probability`` (decimal).

    Raises
    ------
    NotFoundError
        If ``asset_id`` is not in the pool.
    """
    frame = pool.frame
    row = frame[frame["asset_id"] == asset_id]
    if row.empty:
        raise NotFoundError(f"loan {asset_id!r} is not in pool {pool.pool_id!r}")
    from engine.credit._cashflows import LoanArrays, loan_paths  # numba: only when drawn

    loans = LoanArrays.from_frame(row.reset_index(drop=True), delinquent_cdr=delinquent_cdr)
    paths = loan_paths(loans, factors=scenario.market_factors, horizon=horizon)
    return pd.DataFrame({
        "period": np.arange(1, horizon + 1, dtype=np.int64),
        "balance": paths["balance"][0],
        "cumulative_default": paths["cumulative_default"][0],
        "cumulative_loss": paths["cumulative_loss"][0],
        "cumulative_default_probability": paths["cumulative_default_probability"][0],
    })


def assumption_changes(original: pd.DataFrame, *, edited: pd.DataFrame,
                       fields: tuple[str, ...]) -> pd.DataFrame:
    """The cells a user changed in an assumption table, as rows for ``AssumptionTable.override``.

    Rows are matched by (``asset_class``, ``grade``), so the edited table may be reordered; an
    edited row the original lacks counts as changed in every field it fills.

    Parameters
    ----------
    original, edited : DataFrame
        ``AssumptionTable.to_frame()`` before and after editing, keyed by ``asset_class`` and
        ``grade`` (missing grade = any grade).
    fields : tuple of str
        The value columns that may be edited.

    Returns
    -------
    DataFrame
        ``asset_class``, ``grade`` and each field, one row per changed (asset_class, grade),
        NaN where the value was left unchanged; empty when nothing changed.
    """
    def key(frame: pd.DataFrame, i: int) -> tuple[str, str | None]:
        grade = frame["grade"].iloc[i] if "grade" in frame.columns else None
        grade = None if grade is None or pd.isna(grade) or str(grade).strip() == "" else str(grade)
        return str(frame["asset_class"].iloc[i]), grade

    before = {key(original, i): i for i in range(len(original))}
    rows = []
    for j in range(len(edited)):
        cls, grade = key(edited, j)
        i = before.get((cls, grade))
        changed = {}
        for f in fields:
            if f not in edited.columns:
                continue
            b = edited[f].iloc[j]
            a = original[f].iloc[i] if i is not None else np.nan
            if pd.isna(a) and pd.isna(b):
                continue
            if pd.isna(a) or pd.isna(b) or not np.isclose(float(a), float(b), rtol=0, atol=1e-12):
                changed[f] = b
        if changed:
            rows.append({"asset_class": cls, "grade": grade, **changed})
    return pd.DataFrame(rows, columns=["asset_class", "grade", *fields])


def histogram_frame(values: pd.Series, *, bins: int = 40) -> pd.DataFrame:
    """Counts of ``values`` in ``bins`` equal-width bins (NaN ignored), for a bar chart.

    Returns
    -------
    DataFrame of shape (bins, 3)
        ``left``, ``right`` (bin edges, unit of ``values``) and ``count``; empty when no value.
    """
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
    if v.size == 0:
        return pd.DataFrame(columns=["left", "right", "count"])
    counts, edges = np.histogram(v, bins=bins)
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "count": counts})


def scenarios_to_json(scenarios: Mapping[str, Scenario]) -> str:
    """Scenarios as the request's ``custom_scenarios`` JSON: key → {name, description,
    market_factors} (all six factors)."""
    return json.dumps({k: s.response_dict() for k, s in scenarios.items()}, indent=2)


def scenarios_from_json(text: str | bytes, *, name: str = "the scenario file") -> dict[str, Scenario]:
    """Parse scenarios written by :func:`scenarios_to_json` (or the request's
    ``custom_scenarios``), validating every key, field and factor.

    Parameters
    ----------
    text : str or bytes
        JSON: key → {name, description, market_factors}. Bytes are decoded by
        :func:`engine.limits.parse_json` (UTF-8, or UTF-16 with a byte-order mark); its size and
        nesting depth are bounded.
    name : str
        The file as the user knows it, for messages.

    Returns
    -------
    dict of key to Scenario
        ``source`` is ``custom``.

    Raises
    ------
    InputError
        If the text is not JSON, too large or too deeply nested, not an object, or holds no
        scenario.
    ValidationError
        Every problem at once (see :func:`engine.credit._scenarios.parse_custom_scenarios`): a key that
        shadows a built-in scenario, an unknown field or factor, a factor that is not a number
        (``true`` included) or out of its valid range.
    """
    data = parse_json(text, name=name)
    return parse_custom_scenarios(data, subject=name)
