"""The Stress test page's own pieces: the form's settings read from a stored run (so the form can
show the run on screen, or say how it differs), the results table's columns for reading, and the
downloads built only when the user asks for them.

Every number comes from the stored run (:func:`dashboard.components.credit.cached_run`) or from an
engine function; this module only maps stored settings onto the form's fields and names columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from datetime import date
from typing import Any

import streamlit as st

from dashboard import state
from dashboard.components.format import USD, USD_CHANGE
from engine.credit import Scenario
from engine.credit.workflow import StressRun
from engine.display import term

__all__ = ["FormSettings", "FORM_KEYS", "settings_of_run", "settings_of_form", "form_differences",
           "put_in_form", "RESULT_COLUMNS", "result_columns", "GROUP_COLUMNS", "LOAN_COLUMNS",
           "words", "drill_columns", "reports_available",
           "report_bytes", "report_filename"]

#: The form's widget keys (page prefix ``stress_``), by setting.
FORM_KEYS: dict[str, str] = {
    "pool_id": "stress_pool", "scenarios": "stress_scenarios", "discount_pct": "stress_discount",
    "analysis_date": "stress_date", "periods": "stress_periods", "loan_level": "stress_loan_level",
}

#: How each setting is named when the form and the run shown differ.
_SETTING_NAMES: dict[str, str] = {
    "pool_id": "pool", "scenarios": "scenarios", "discount_pct": "discount rate",
    "analysis_date": "analysis date", "periods": "projection periods",
}


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
    """

    pool_id: str
    scenarios: tuple[str, ...]
    discount_pct: float
    analysis_date: date
    periods: int
    loan_level: bool


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
    return FormSettings(
        pool_id=run.result.pool_id or (run.request.pool_id or ""),
        scenarios=tuple(ordered),
        discount_pct=round(float(run.result.discount_rate) * 100.0, 6),
        analysis_date=run.result.analysis_date,
        periods=int(run.request.projection_periods or 0),
        loan_level=bool(run.request.include_loan_level))


def settings_of_form() -> FormSettings | None:
    """The settings the form holds in this session, or None before the form was drawn."""
    s = st.session_state
    if any(k not in s for k in FORM_KEYS.values()):
        return None
    return FormSettings(
        pool_id=s[FORM_KEYS["pool_id"]], scenarios=tuple(s[FORM_KEYS["scenarios"]]),
        discount_pct=round(float(s[FORM_KEYS["discount_pct"]]), 6),
        analysis_date=s[FORM_KEYS["analysis_date"]], periods=int(s[FORM_KEYS["periods"]]),
        loan_level=bool(s[FORM_KEYS["loan_level"]]))


def form_differences(form: FormSettings, run: FormSettings) -> list[str]:
    """The names of the settings in which the form differs from a run ("pool", "discount rate",
    …), in the form's order; loan-level results are not compared (they change no figure)."""
    out = []
    for field in _SETTING_NAMES:
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
    return missing


# --------------------------------------------------------------------------- the results table

#: The results table's columns, in reading order (every figure of the run; the change of loss,
#: WAL and duration against the base case are in the metrics CSV and the charts).
RESULT_COLUMNS: tuple[str, ...] = (
    "name", "npv", "npv_change", "npv_change_percent", "total_loss", "loss_percent",
    "weighted_average_life", "duration", "irr", "status")


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
