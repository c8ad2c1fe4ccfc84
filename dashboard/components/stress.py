"""The Stress test page's own pieces: the form's settings read from a stored run (so the form can
show the run on screen, or say how it differs), the run's valuation said in words (discounting,
horizon and residual), the Treasury curve chart, the results table's columns for reading, and
the downloads built only when the user asks for them.

Every number comes from the stored run (:func:`dashboard.components.credit.cached_run`) or from an
engine function; this module only maps stored settings onto the form's fields and names columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import state
from dashboard.components.format import USD, USD_CHANGE, pct
from engine.credit import Scenario
from engine.credit.models import StressTestResult
from engine.credit.workflow import StressRun
from engine.display import term

__all__ = ["FormSettings", "FORM_KEYS", "OPTIONAL_KEYS", "settings_of_run", "settings_of_form",
           "form_differences", "put_in_form", "DISCOUNTING", "RESIDUAL_VALUATION",
           "ROLL_FORWARD", "RESIDUAL_CONVENTION", "discounting_label", "discounting_text",
           "horizon_cuts", "horizon_text", "curve_chart", "RESULT_COLUMNS", "RESIDUAL_COLUMNS",
           "result_columns", "GROUP_COLUMNS", "LOAN_COLUMNS", "words", "drill_columns",
           "reports_available", "report_bytes", "report_filename"]

#: The form's widget keys (page prefix ``stress_``), by setting.
FORM_KEYS: dict[str, str] = {
    "pool_id": "stress_pool", "scenarios": "stress_scenarios", "discount_pct": "stress_discount",
    "analysis_date": "stress_date", "periods": "stress_periods", "loan_level": "stress_loan_level",
    "discounting": "stress_discounting", "curve_date": "stress_curve_date",
    "spread_bp": "stress_spread", "residual": "stress_residual",
}

#: The keys of widgets the page draws only when they apply (the flat rate, the curve's date and
#: spread, the residual valuation): the page keeps their values across the reruns that hide them.
OPTIONAL_KEYS: tuple[str, ...] = ("stress_discount", "stress_curve_date", "stress_spread",
                                  "stress_residual")

#: How each setting is named when the form and the run shown differ.
_SETTING_NAMES: dict[str, str] = {
    "pool_id": "pool", "scenarios": "scenarios", "discounting": "discounting",
    "discount_pct": "discount rate", "curve_date": "curve date", "spread_bp": "curve spread",
    "analysis_date": "analysis date", "periods": "projection periods",
    "residual": "residual valuation",
}

#: The discounting choices: request value → what the form says.
DISCOUNTING: dict[str, str] = {"flat": "Flat rate", "curve": "Treasury curve"}

#: The residual valuation choices: request value → what the form says.
RESIDUAL_VALUATION: dict[str, str] = {"par": "At par", "run_off": "Scenario's run-off"}

#: The roll-forward convention (engine.credit._runner.roll_forward), as the form states it.
ROLL_FORWARD = (
    "The pool is as of its cutoff date. A later analysis date rolls it forward by the whole "
    "months between them: every performing or delinquent loan ages by those months and its "
    "balance becomes its expected run-off under the base assumptions (no scenario factors); "
    "loans that mature before the date are removed; a loan in default keeps the calendar month "
    "of its recovery and is removed once that month has passed; paid-off loans are kept as "
    "they are. Recoveries of loans that default inside the rolled months are not modelled. A "
    "date before the cutoff is refused.")

#: The residual valuation convention (engine.credit._runner, ``residual_valuation``).
RESIDUAL_CONVENTION = (
    "With a horizon shorter than the run-off, the balance left at the horizon is valued at par "
    "(its balance, no further defaults), or at the present value of the scenario's own run-off "
    "beyond the horizon (the same stress, discounted the same way).")


@dataclass(frozen=True)
class FormSettings:
    """What the Stress test form holds (or would hold to repeat a run).

    Attributes
    ----------
    pool_id : str
    scenarios : tuple of str
        Scenario keys besides the base case (which always runs), in library order.
    discount_pct : float
        Annual discount rate in percent (5.0 = 5 %), as the form shows it.
    analysis_date : date
    periods : int
        Months to project; 0 = to the longest remaining term.
    loan_level : bool
        Keep loan-level results (changes no figure, so it is not compared).
    discounting : {"flat", "curve"}
    curve_date : date or None
        The Treasury curve's date (curve discounting); None: the analysis date.
    spread_bp : float
        Spread over the zero curve in basis points (100 bp = 1 %), curve discounting.
    residual : {"par", "run_off"}
        Valuation of the balance left at a horizon shorter than the run-off.
    """

    pool_id: str
    scenarios: tuple[str, ...]
    discount_pct: float
    analysis_date: date
    periods: int
    loan_level: bool
    discounting: str = "flat"
    curve_date: date | None = None
    spread_bp: float = 0.0
    residual: str = "par"


def settings_of_run(run: StressRun, *, library: Mapping[str, Scenario]) -> FormSettings:
    """The form's settings that repeat a stored run.

    The scenarios are those the run computed (a request for ``all`` lists them), in the order of
    ``library``; the discount rate, analysis date and horizon are the run's own.

    Parameters
    ----------
    run : StressRun
        A stored run (:func:`engine.credit.workflow.load_run`).
    library : mapping of key to Scenario
        The scenario library, for the order of the keys.
    """
    ran = [k for k in run.result.scenarios if k != "base"]
    ordered = [k for k in library if k in ran] + [k for k in ran if k not in library]
    request = run.request
    curve = request.discounting == "curve"
    asked = run.result.valuation.get("curve_date")
    return FormSettings(
        pool_id=run.result.pool_id or (request.pool_id or ""),
        scenarios=tuple(ordered),
        discount_pct=round(float(run.result.discount_rate) * 100.0, 6),
        analysis_date=run.result.analysis_date,
        periods=int(request.projection_periods or 0),
        loan_level=bool(request.include_loan_level),
        discounting=request.discounting,
        curve_date=(request.curve_date or (date.fromisoformat(asked) if asked else None)
                    if curve else None),
        spread_bp=round(float(request.curve_spread) * 10_000.0, 6),
        residual=request.residual_valuation)


def settings_of_form() -> FormSettings | None:
    """The settings the form holds in this session, or None before the form was drawn."""
    s = st.session_state
    if any(k not in s for k in FORM_KEYS.values()):
        return None
    return FormSettings(
        pool_id=s[FORM_KEYS["pool_id"]], scenarios=tuple(s[FORM_KEYS["scenarios"]]),
        discount_pct=round(float(s[FORM_KEYS["discount_pct"]]), 6),
        analysis_date=s[FORM_KEYS["analysis_date"]], periods=int(s[FORM_KEYS["periods"]]),
        loan_level=bool(s[FORM_KEYS["loan_level"]]),
        discounting=s[FORM_KEYS["discounting"]],
        curve_date=(s[FORM_KEYS["curve_date"]] if s[FORM_KEYS["discounting"]] == "curve"
                    else None),
        spread_bp=round(float(s[FORM_KEYS["spread_bp"]]), 6),
        residual=s[FORM_KEYS["residual"]])


def _applies(field: str, form: FormSettings, run: FormSettings) -> bool:
    """Whether ``field`` changes a figure for both settings: the flat rate only when both
    discount flat, the curve's date and spread only when both discount on the curve, the
    residual valuation only when both cut the run-off at a horizon."""
    if field == "discount_pct":
        return form.discounting == run.discounting == "flat"
    if field in ("curve_date", "spread_bp"):
        return form.discounting == run.discounting == "curve"
    if field == "residual":
        return bool(form.periods) and bool(run.periods)
    return True


def form_differences(form: FormSettings, run: FormSettings) -> list[str]:
    """The names of the settings in which the form differs from a run ("pool", "discount rate",
    …), in the form's order; loan-level results are not compared (they change no figure), nor
    is a setting that does not apply to both (the flat rate when one discounts on the curve)."""
    out = []
    for field in _SETTING_NAMES:
        if not _applies(field, form, run):
            continue
        mine, theirs = getattr(form, field), getattr(run, field)
        if field == "scenarios":
            mine, theirs = set(mine), set(theirs)
        if mine != theirs:
            out.append(_SETTING_NAMES[field])
    return out


def put_in_form(settings: FormSettings, *, pools: Mapping[str, Any],
                library: Mapping[str, Scenario]) -> list[str]:
    """Set the form's widgets to ``settings`` (call before the widgets are drawn, or from a
    callback).

    A pool no longer stored, or a scenario no longer in the library, cannot be chosen: the form
    keeps its pool, and the missing scenarios are left out.

    Returns
    -------
    list of str
        What could not be put in the form ("pool", "scenarios").
    """
    s = st.session_state
    missing = []
    if settings.pool_id in pools:
        s[FORM_KEYS["pool_id"]] = settings.pool_id
    else:
        missing.append("pool")
    chosen = [k for k in settings.scenarios if k in library and k != "base"]
    if len(chosen) != len(settings.scenarios):
        missing.append("scenarios")
    s[FORM_KEYS["scenarios"]] = chosen
    s[FORM_KEYS["discount_pct"]] = float(settings.discount_pct)
    s[FORM_KEYS["analysis_date"]] = settings.analysis_date
    s[FORM_KEYS["periods"]] = int(settings.periods)
    s[FORM_KEYS["loan_level"]] = bool(settings.loan_level)
    s[FORM_KEYS["discounting"]] = settings.discounting
    if settings.discounting == "curve":  # a flat run keeps the form's curve date and spread
        if settings.curve_date is not None:
            s[FORM_KEYS["curve_date"]] = settings.curve_date
        s[FORM_KEYS["spread_bp"]] = float(settings.spread_bp)
    s[FORM_KEYS["residual"]] = settings.residual
    return missing


# --------------------------------------------------------------------------- the run's valuation

def discounting_label(result: StressTestResult) -> tuple[str, str]:
    """The headline of a stored run's discounting: (label, value) of a metric.

    ``("Discount rate (annual)", "5.00%")`` for a flat rate; ``("UST curve 2018-06-29",
    "+150 bp")`` for the Treasury curve (the file's date the run used, and the spread; short
    enough for a metric in a sixth of the page).
    """
    v = result.valuation
    if v.get("discounting") != "curve":
        return "Discount rate (annual)", pct(result.discount_rate)
    return f"UST curve {v.get('curve_date_used')}", _bp(v.get("curve_spread", 0.0))


def _bp(spread: float) -> str:
    return f"{float(spread) * 10_000.0:+.0f} bp"


def discounting_text(result: StressTestResult) -> str:
    """A stored run's discounting in one sentence (Markdown-safe: dates and numbers only).

    Flat: the rate, monthly compounded, plus each scenario's rate shocks and spread widening.
    Curve: the Treasury par yield curve of the date used (and the date asked when it differs),
    bootstrapped to zero rates, plus the spread and each scenario's shifts, continuously
    compounded.
    """
    v = result.valuation
    if v.get("discounting") != "curve":
        return (f"Discounting: flat {pct(result.discount_rate)} a year, monthly compounded, plus "
                "each scenario's interest-rate shock, discount-rate shock and spread widening.")
    used, asked = v.get("curve_date_used"), v.get("curve_date")
    moved = f" (asked {asked}, not in the file: the nearest earlier date)" if asked != used else ""
    spread = float(v.get("curve_spread", 0.0))
    return (f"Discounting: US Treasury zero curve of {used}{moved}, bootstrapped from the par "
            f"yields, plus a spread of {_bp(spread)} ({pct(spread)}) and each scenario's "
            "interest-rate shock, discount-rate shock and spread widening, all added to the "
            "continuously compounded zero rate.")


def horizon_cuts(result: StressTestResult) -> bool:
    """Whether the run's horizon stops before the pool's full run-off (then a balance is left).

    From the run's ``full_run_off_months``; a run stored without it is judged by its residual
    balance.
    """
    full = result.valuation.get("full_run_off_months")
    if full is not None:
        return int(result.projection_periods) < int(full)
    return any((r.metrics.get("residual_balance") or 0.0) > 0.0
               for r in result.scenarios.values() if r.status == "success")


def horizon_text(result: StressTestResult) -> str:
    """What a horizon that cuts the run-off leaves, and how it is valued (Markdown-safe)."""
    v = result.valuation
    full = v.get("full_run_off_months")
    months = f" of the {full}-month run-off" if full is not None else ""
    how = ("at the present value of each scenario's own run-off beyond the horizon (same "
           "stress, same discounting; loss beyond the horizon in the table)"
           if v.get("residual_valuation") == "run_off"
           else "at par: its balance, with no further defaults")
    return (f"The {result.projection_periods}-month horizon stops short{months}: the balance "
            "left at the horizon (residual share: its share of the starting balance, per "
            f"scenario in the table) is valued {how}.")


def curve_chart(frame: pd.DataFrame, *, spread: float = 0.0) -> go.Figure:
    """The Treasury curve: zero rate and par yield (and zero rate plus spread) against maturity.

    Parameters
    ----------
    frame : DataFrame
        :attr:`engine.credit.workflow.TreasuryCurveView.frame` (maturity_years, zero_rate,
        discount_rate, par_yield; annual decimals).
    spread : float
        Drawn as a third line (zero rate + spread) when not 0.

    Returns
    -------
    plotly.graph_objects.Figure
        Lines in percent; the legend in one row above the plot (it wraps on a phone).
    """
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=frame["maturity_years"], y=frame["zero_rate"], mode="lines",
        name="Zero rate (continuous)", line={"color": "#1f4e79", "width": 2},
        hovertemplate="%{x:.2f} years<br>zero rate %{y:.3%}<extra></extra>"))
    if spread:
        fig.add_trace(go.Scatter(
            x=frame["maturity_years"], y=frame["discount_rate"], mode="lines",
            name=f"Zero rate {_bp(spread)}", line={"color": "#c8702a", "width": 2, "dash": "dash"},
            hovertemplate="%{x:.2f} years<br>discount rate %{y:.3%}<extra></extra>"))
    par = frame.dropna(subset=["par_yield"])
    fig.add_trace(go.Scatter(
        x=par["maturity_years"], y=par["par_yield"], mode="markers", name="Par yield (file)",
        marker={"color": "#2e7d32", "size": 8, "symbol": "circle"},
        hovertemplate="%{x:.2f} years<br>par yield %{y:.2%}<extra></extra>"))
    fig.update_layout(
        height=320, font={"size": 12}, showlegend=True,
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0})
    fig.update_xaxes(title_text="Maturity (years)", automargin=True)
    fig.update_yaxes(title_text="Rate (annual)", tickformat=".1%", automargin=True)
    return fig


# --------------------------------------------------------------------------- the results table

#: The results table's columns, in reading order (every figure of the run; the change of loss,
#: WAL and duration against the base case are in the metrics CSV and the charts).
RESULT_COLUMNS: tuple[str, ...] = (
    "name", "npv", "npv_change", "npv_change_percent", "total_loss", "loss_percent",
    "weighted_average_life", "duration", "irr", "status")

#: Added after the loss columns when the horizon cuts the run-off: the residual's share of the
#: starting balance and its value (and, valued by the run-off, the loss beyond the horizon).
RESIDUAL_COLUMNS: tuple[str, ...] = ("residual_share", "residual_value", "loss_beyond_horizon")


def result_columns() -> dict[str, Any]:
    """``column_config`` of the results table: reader's names, USD named, help for every
    abbreviation (:func:`engine.display.term`)."""
    col = st.column_config
    npv, wal, irr = term("npv"), term("wal"), term("irr")
    return {
        "name": col.TextColumn("Scenario", pinned=True, width=200),
        "npv": col.NumberColumn(f"{npv.name} (USD)", format=USD, help=npv.help),
        "npv_change": col.NumberColumn(f"{npv.name} change (USD)", format=USD_CHANGE,
                                       help="Scenario NPV minus base NPV."),
        "npv_change_percent": col.NumberColumn(f"{npv.name} change (%)", format="%+.2f%%",
                                               help="Change as a percentage of the base NPV."),
        "total_loss": col.NumberColumn("Loss (USD)", format=USD,
                                       help="Credit loss: defaulted balance not recovered over "
                                            "the horizon."),
        "loss_percent": col.NumberColumn("Loss (%)", format="%.2f%%",
                                         help="Credit loss as a percentage of the starting "
                                              "balance."),
        "weighted_average_life": col.NumberColumn(f"{wal.name} (years)", format="%.2f",
                                                  help=wal.help),
        "duration": col.NumberColumn("Duration (years)", format="%.2f",
                                     help=term("duration").help),
        "irr": col.NumberColumn(f"{irr.name} (annual)", format="percent", help=irr.help),
        "status": col.TextColumn("Status", width="small"),
        "residual_share": col.NumberColumn(
            "Residual share", format="percent",
            help="Balance left at the horizon as a share of the starting balance."),
        "residual_value": col.NumberColumn(
            "Residual value (USD)", format=USD,
            help="Present value, at the analysis date, of the balance left at the horizon "
                 "(part of the NPV)."),
        "loss_beyond_horizon": col.NumberColumn(
            "Loss beyond horizon (USD)", format=USD,
            help="Credit loss after the horizon in the scenario's run-off of the residual."),
    }


#: The loan drill-down's columns: the group table and the table of the largest losses.
GROUP_COLUMNS: tuple[str, ...] = ("n_assets", "starting_balance", "total_loss", "loss_percent")
LOAN_COLUMNS: tuple[str, ...] = ("asset_id", "grade", "asset_class", "starting_balance", "npv",
                                 "total_default", "total_loss", "cumulative_default_probability",
                                 "weighted_average_life")


def words(code: object) -> str:
    """A code value as words: ``consumer_loan`` reads "Consumer loan"."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def drill_columns(by: str) -> dict[str, Any]:
    """``column_config`` of the drill-down tables (grouped by ``by``, and the largest losses)."""
    col = st.column_config
    npv, wal = term("npv"), term("wal")
    return {
        by: col.TextColumn(words(by), pinned=True),
        "asset_id": col.TextColumn("Loan id", pinned=True),
        "grade": col.TextColumn("Grade"),
        "asset_class": col.TextColumn("Asset class"),
        "n_assets": col.NumberColumn("Loans", format="%,d"),
        "starting_balance": col.NumberColumn("Starting balance (USD)", format=USD),
        "npv": col.NumberColumn(f"{npv.name} (USD)", format=USD, help=npv.help),
        "total_default": col.NumberColumn("Defaults (USD)", format=USD,
                                          help="Expected defaulted balance over the horizon."),
        "total_loss": col.NumberColumn("Loss (USD)", format=USD,
                                       help="Expected credit loss: defaults not recovered."),
        "loss_percent": col.NumberColumn("Loss (%)", format="%.2f%%",
                                         help="Loss as a percentage of the starting balance."),
        "cumulative_default_probability": col.NumberColumn(
            "Default probability", format="percent",
            help="Probability that the loan defaults within the horizon (cumulative)."),
        "weighted_average_life": col.NumberColumn(f"{wal.name} (years)", format="%.2f",
                                                  help=wal.help),
    }


# --------------------------------------------------------------------------- reports

def reports_available() -> bool:
    """Whether this installation can build reports (``engine.reports`` importable)."""
    try:
        from engine.reports.workflow import build_report  # noqa: F401
    except ImportError:
        return False
    return True


def report_filename(run_id: str, fmt: str) -> str:
    """The download's file name: ``stress_report_<run id>.<fmt>``."""
    return f"stress_report_{run_id}.{fmt}"


@st.cache_data(max_entries=8, show_spinner=False)
def _report(run_id: str, fmt: str) -> bytes:
    from engine.reports.workflow import build_report

    return build_report("stress", run_id=run_id, fmt=fmt, store=state.store()).content


def report_bytes(run_id: str, fmt: str) -> Callable[[], bytes]:
    """A function that builds the stress run's report when called (on the download's click).

    Stored runs never change, so a built report is kept (8 at most) and a second click is
    immediate.

    Parameters
    ----------
    run_id : str
    fmt : {"html", "pdf"}

    Returns
    -------
    callable
        No arguments; returns the report's bytes. Raises the report's
        :class:`~engine.errors.StressLabError` (Streamlit shows the download as failed).
    """
    return partial(_report, run_id, fmt)
