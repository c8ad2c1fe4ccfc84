"""Reusable pieces of the VaR and limits page: cached workflow calls, charts and tables.

Every number comes from a workflow of :mod:`engine.market.workflow`; this module only caches the
calls that store nothing (``st.cache_data`` keyed on the request, ``record=False``) and lays
results out: method and rule names as a reader writes them (:mod:`engine.display`,
:mod:`engine.market.readings`), amounts in USD, p-values as "< 0.001", and only the columns a
reader needs, so each table fits the page at 1440 px and reads at 390 px.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components.format import USD, chart_text
from engine.display import label, pvalue, term
from engine.market import workflow as mw
from engine.market.readings import action_words, reading, rule_label

__all__ = [
    "PORTFOLIO",
    "prepare_limits_reports",
    "reports_available",
    "SECTIONS",
    "backtest_chart",
    "backtest_details",
    "backtest_figures",
    "breach_label",
    "breaches_view",
    "cached_backtest",
    "cached_inputs",
    "cached_stress",
    "cached_var_report",
    "data_file",
    "decisions_view",
    "evaluations_view",
    "help_text",
    "method_label",
    "sensor_label",
    "sensors_view",
    "stress_view",
    "var_view",
]

PORTFOLIO = "Portfolio (positions)"

#: The page's sections, in order (a keyed ``st.tabs``: the open one survives every rerun).
SECTIONS = ["VaR and ES", "Backtest", "Stress replay", "Limits and sensors", "Breaches",
            "Metrics and audit"]

#: Sensors as a reader names them (the codes stay in the store and the downloads).
_SENSORS = {
    "var_breach": "VaR", "stress_failure": "Stress loss", "tail_risk": "Tail risk",
    "concentration": "Concentration", "leverage": "Leverage", "liquidity": "Liquidity",
    "correlation_breakdown": "Correlation breakdown", "volatility_spike": "Volatility spike",
    "drawdown": "Drawdown", "turnover": "Turnover",
}


def data_file(upload) -> mw.DataFile | None:
    """An uploaded file as a request's :class:`~engine.market.workflow.DataFile` (None if none).

    Raises
    ------
    InputError
        If the file is not UTF-8 text.
    """
    if upload is None:
        return None
    return mw.DataFile.from_bytes(upload.getvalue(), name=upload.name)


@st.cache_data(max_entries=4, show_spinner=False)
def cached_inputs(request: mw.InputsRequest) -> mw.MarketInputs:
    """The page's prices, positions and limits, validated by the engine."""
    return mw.load_inputs(request)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_var_report(request: mw.VaRRequest) -> mw.VaRRun:
    """A VaR report computed without recording it (``request.record`` must be False)."""
    return mw.var_report(request)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_backtest(request: mw.BacktestRequest) -> mw.BacktestRunResult:
    """A backtest computed without recording it (``request.record`` must be False)."""
    return mw.backtest(request)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_stress(request: mw.StressRequest) -> mw.StressReplay:
    """A historical stress replay of today's positions (stores nothing)."""
    return mw.stress_replay(request)


def method_label(method: str) -> str:
    """A VaR method as a reader writes it (``"cornish_fisher"`` → ``"Cornish–Fisher"``)."""
    return label(method)


def sensor_label(sensor: str) -> str:
    """A sensor as a reader names it (``"var_breach"`` → ``"VaR"``)."""
    return _SENSORS.get(sensor, sensor.replace("_", " ").capitalize())


def help_text(*keys: str) -> str:
    """The glossary's help for ``keys``, one line each ("**VaR**: value at risk: …")."""
    return "\n\n".join(f"**{term(k).name}**: {term(k).help}" for k in keys)


def var_view(run: mw.VaRRun) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The methods compared: one row per method (reader's name), one column per figure in USD.

    Returns
    -------
    (DataFrame, dict)
        Columns ``Method`` and each ``VaR <c>%`` / ``ES <c>%`` of
        :meth:`~engine.market.workflow.VaRRun.to_frame`; their ``column_config`` labels the
        amounts "(USD)" with whole-dollar formats and the glossary's help.
    """
    frame = run.to_frame()
    figures = list(frame.columns)
    out = frame.reset_index(names="method")
    out.insert(0, "Method", out.pop("method").map(method_label))
    config: dict[str, Any] = {"Method": st.column_config.TextColumn(
        "Method", help=" ".join(f"{label(m)}: {term(m).help}" for m in frame.index))}
    for col in figures:
        key = "es" if col.startswith("ES") else "var"
        config[col] = st.column_config.NumberColumn(f"{col} (USD)", format=USD,
                                                    help=term(key).help)
    return out, config


def backtest_figures(run: mw.BacktestRunResult) -> list[tuple[str, str, str]]:
    """The backtest's headline figures as (label, value, help) for ``st.metric``."""
    r = run.result
    return [
        ("Exceptions", f"{r.exceptions} of {r.observations:,}",
         f"Days whose loss exceeded the VaR; {r.expected_exceptions:.1f} expected at "
         f"{r.confidence * 100:g}% confidence."),
        ("Kupiec p-value", pvalue(r.kupiec_p_value),
         term("kupiec").help + " Below 0.05: the VaR's coverage is rejected."),
        ("Christoffersen p-value", pvalue(r.christoffersen_p_value),
         term("christoffersen").help + " Below 0.05: the breaches cluster."),
        ("Traffic light", r.traffic_light.capitalize(),
         term("traffic_light").help + f" Basel multiplier {r.multiplier:.2f} "
         f"(plus-factor {r.plus_factor:.2f})."),
    ]


def backtest_details(run: mw.BacktestRunResult) -> pd.DataFrame:
    """Every statistic of the backtest, one per row (``Measure``, ``Value``), for reading."""
    r = run.result
    rows = [
        ("Method", method_label(r.method)),
        ("Confidence", f"{r.confidence * 100:g}%"),
        ("Window (days)", f"{r.window:,}"),
        ("Period", f"{r.start} to {r.end}"),
        ("Days tested", f"{r.observations:,}"),
        ("Exceptions (observed)", f"{r.exceptions:,}"),
        ("Exceptions (expected)", f"{r.expected_exceptions:.1f}"),
        ("Exception rate", f"{r.exception_rate * 100:.2f}%"),
        ("Kupiec likelihood ratio (POF)", f"{r.kupiec_lr:.3f}"),
        ("Kupiec p-value", pvalue(r.kupiec_p_value)),
        ("Christoffersen likelihood ratio (independence)", f"{r.christoffersen_lr_ind:.3f}"),
        ("Christoffersen p-value (independence)", pvalue(r.christoffersen_p_value)),
        ("Christoffersen likelihood ratio (conditional coverage)",
         f"{r.christoffersen_lr_cc:.3f}"),
        ("Christoffersen p-value (conditional coverage)", pvalue(r.christoffersen_cc_p_value)),
        ("Traffic light", r.traffic_light),
        ("Cumulative probability of the exceptions", f"{r.cumulative_probability:.4f}"),
        ("Plus-factor", f"{r.plus_factor:.2f}"),
        ("Basel multiplier", f"{r.multiplier:.2f}"),
    ]
    return pd.DataFrame(rows, columns=["Measure", "Value"])


def backtest_chart(run: mw.BacktestRunResult) -> go.Figure:
    """Loss against VaR with exceptions marked (red crosses), the y axis in the run's unit.

    No title (the page states the exceptions and the traffic light above it as metrics): the
    legend has the band above the plot to itself, clear of the axis titles at any width (at
    390 px it wraps onto three rows and the margin grows with it).
    """
    s = run.series
    r = run.result
    unit = "USD" if run.unit == "currency" else run.unit
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=s.index, y=s["loss"], mode="lines", name="Loss",
                             line={"width": 1, "color": "#8c9bab"}))
    fig.add_trace(go.Scatter(x=s.index, y=s["VaR"], mode="lines",
                             name=chart_text(f"VaR {r.confidence * 100:g}% "
                                             f"({method_label(r.method)})"),
                             line={"width": 2, "color": "#1f77b4"}))
    ex = s[s["exception"]]
    fig.add_trace(go.Scatter(x=ex.index, y=ex["loss"], mode="markers", name="Exception",
                             marker={"symbol": "x", "size": 8, "color": "#d62728"}))
    fig.update_layout(
        height=400, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title=f"Loss ({unit})",
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"})
    if run.unit == "currency":
        fig.update_yaxes(tickformat="$,.0f")
    return fig


def stress_view(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The stress replay's windows with labelled columns (amounts in USD, shares in %)."""
    cols = ["name", "start", "end", "loss", "loss_pct", "max_drawdown", "max_drawdown_amount",
            "worst_day_loss"]
    out = frame[[c for c in cols if c in frame.columns]]
    return out, {
        "name": st.column_config.TextColumn("Window"),
        "start": st.column_config.TextColumn("Start"),
        "end": st.column_config.TextColumn("End"),
        "loss": st.column_config.NumberColumn("Loss (USD)", format=USD,
                                              help="Start value minus end value, buy and hold."),
        "loss_pct": st.column_config.NumberColumn("Loss (% of gross)", format="percent"),
        "max_drawdown": st.column_config.NumberColumn(
            "Max drawdown (%)", format="percent", help="Largest fall from a running peak."),
        "max_drawdown_amount": st.column_config.NumberColumn("Max drawdown (USD)", format=USD),
        "worst_day_loss": st.column_config.NumberColumn("Worst day (USD)", format=USD),
    }


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rule, metric and limit of decision or breach rows as text in each rule's unit."""
    out = frame.copy()
    out["Rule"] = out["rule"].map(rule_label)
    out["Value"] = [reading(r, m) for r, m in zip(out["rule"], out["metric"], strict=True)]
    out["Limit"] = [reading(r, t) for r, t in zip(out["rule"], out["threshold"], strict=True)]
    out["action"] = out["action"].map(action_words)
    return out


_RULE_COLUMNS: dict[str, Any] = {
    "Rule": st.column_config.TextColumn("Rule", width="medium"),
    "Value": st.column_config.TextColumn("Value", help="The rule's metric, in its unit "
                                                       "(amounts in USD)."),
    "Limit": st.column_config.TextColumn("Limit", help="A breach is a value strictly above "
                                                       "the limit."),
    "utilisation": st.column_config.NumberColumn("Use of limit", format="percent",
                                                 help="Value / limit."),
    "action": st.column_config.TextColumn("Action"),
    "enforced": st.column_config.CheckboxColumn("Enforced"),
    "reason": st.column_config.TextColumn("Reason", width="large"),
}


def decisions_view(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """An evaluation's decisions (:meth:`~engine.market.enforcement.Evaluation.to_frame`):
    rule, value, limit, use of the limit, action taken, whether enforced, and the reason."""
    cols = ["Rule", "Value", "Limit", "utilisation", "action", "enforced", "reason"]
    return _readable(frame)[cols], {c: _RULE_COLUMNS[c] for c in cols}


def breaches_view(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Stored breaches (:func:`engine.market.workflow.breaches`), newest first, for reading."""
    cols = ["evaluated_at", "Rule", "Value", "Limit", "action", "mode", "false_positive",
            "fp_reason"]
    config = {c: _RULE_COLUMNS[c] for c in ("Rule", "Value", "Limit", "action")}
    config.update({
        "evaluated_at": st.column_config.DatetimeColumn("Evaluated (UTC)",
                                                        format="YYYY-MM-DD HH:mm"),
        "mode": st.column_config.TextColumn("Mode"),
        "false_positive": st.column_config.CheckboxColumn("False positive"),
        "fp_reason": st.column_config.TextColumn("Why a false positive"),
    })
    return _readable(frame)[cols], config


def breach_label(breaches: pd.DataFrame) -> dict[str, str]:
    """Each breach id as a select option: rule, value against limit, and when (shown as text).

    Parameters
    ----------
    breaches : DataFrame
        :func:`engine.market.workflow.breaches`.
    """
    return {b: f"{rule_label(r)}: {reading(r, m)} over {reading(r, t)} ({at:%Y-%m-%d %H:%M} UTC)"
            for b, r, m, t, at in zip(breaches["breach_id"], breaches["rule"],
                                      breaches["metric"], breaches["threshold"],
                                      breaches["evaluated_at"], strict=True)}


def sensors_view(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Each sensor's readiness (:meth:`~engine.market.workflow.MarketState.sensors_frame`)."""
    out = frame.copy()
    out["Sensor"] = out["sensor"].map(sensor_label)
    cols = ["Sensor", "status", "false_positive_rate_per_week", "threshold_per_week",
            "false_positives", "breaches", "weeks_observed"]
    return out[cols], {
        "Sensor": st.column_config.TextColumn("Sensor"),
        "status": st.column_config.TextColumn(
            "Status", help="READY: enforced in gradual mode; HIGH_FP: false-positive rate at or "
                           "above the threshold; MONITORING: not observed long enough."),
        "false_positive_rate_per_week": st.column_config.NumberColumn(
            "False positives a week", format="%.2f"),
        "threshold_per_week": st.column_config.NumberColumn("Threshold a week", format="%.2f"),
        "false_positives": st.column_config.NumberColumn("False positives", format="%d"),
        "breaches": st.column_config.NumberColumn("Breaches", format="%d"),
        "weeks_observed": st.column_config.NumberColumn("Weeks observed", format="%.1f"),
    }


def evaluations_view(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Stored evaluations (:func:`engine.market.workflow.evaluations`), newest first."""
    out = frame.copy()
    out["action"] = out["action"].map(action_words)
    cols = ["evaluated_at", "mode", "action", "latency_us", "audit_seq", "evaluation_id"]
    return out[cols], {
        "evaluated_at": st.column_config.DatetimeColumn("Evaluated (UTC)",
                                                        format="YYYY-MM-DD HH:mm:ss"),
        "mode": st.column_config.TextColumn("Mode"),
        "action": st.column_config.TextColumn("Action"),
        "latency_us": st.column_config.NumberColumn("Latency (µs)", format="%,.0f"),
        "audit_seq": st.column_config.NumberColumn("Audit record", format="%d"),
        "evaluation_id": st.column_config.TextColumn("Evaluation id"),
    }


def reports_available() -> bool:
    """Whether the reports package (:mod:`engine.reports.workflow`) is installed."""
    import importlib.util

    try:
        return importlib.util.find_spec("engine.reports.workflow") is not None
    except ImportError:  # the package itself is missing
        return False


def prepare_limits_reports(evaluation_id: str, *, store) -> dict[str, Any]:
    """A limit evaluation's report as HTML and PDF (``engine.reports.workflow.build_report``).

    Built on demand (a PDF takes a second or two), never on a rerun.

    Returns
    -------
    dict
        ``{"html": Report, "pdf": Report}``.

    Raises
    ------
    StressLabError
        The evaluation is not stored, or the PDF or charts cannot be made (the message says
        what to install).
    """
    from engine.reports.workflow import build_report

    return {fmt: build_report("limits", run_id=evaluation_id, fmt=fmt, store=store)
            for fmt in ("html", "pdf")}
