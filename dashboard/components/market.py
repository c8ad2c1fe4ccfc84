"""Reusable pieces of the VaR and limits page: cached workflow calls, charts and tables.

Every number comes from a workflow of :mod:`engine.market.workflow`; this module only caches the
calls that store nothing (``st.cache_data`` keyed on the request, ``record=False``) and lays
results out.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from engine.market import workflow as mw

__all__ = [
    "DECISION_COLUMNS",
    "PORTFOLIO",
    "backtest_chart",
    "cached_backtest",
    "cached_inputs",
    "cached_stress",
    "cached_var_report",
    "data_file",
]

PORTFOLIO = "Portfolio (positions)"


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
    return mw.stress_replay(request)


def backtest_chart(run: mw.BacktestRunResult) -> go.Figure:
    """Loss against VaR with exceptions marked (red crosses), the y axis in the run's unit."""
    s = run.series
    r = run.result
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=s.index, y=s["loss"], mode="lines", name="loss",
                             line={"width": 1, "color": "#8c9bab"}))
    fig.add_trace(go.Scatter(x=s.index, y=s["VaR"], mode="lines",
                             name=f"VaR {r.confidence * 100:g}% ({r.method})",
                             line={"width": 2, "color": "#1f77b4"}))
    ex = s[s["exception"]]
    fig.add_trace(go.Scatter(x=ex.index, y=ex["loss"], mode="markers", name="exception",
                             marker={"symbol": "x", "size": 8, "color": "#d62728"}))
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      title=f"Loss against VaR: {r.exceptions} exceptions in {r.observations} days "
                            f"(traffic light {r.traffic_light})",
                      yaxis_title=f"loss ({run.unit})", legend={"orientation": "h"})
    return fig


#: Column labels and number formats shared by the decisions, evaluations and breaches tables.
DECISION_COLUMNS = {
    "sensor": "Sensor",
    "rule": "Rule",
    "metric": st.column_config.NumberColumn("Metric", format="localized"),
    "threshold": st.column_config.NumberColumn("Threshold", format="localized"),
    "utilisation": st.column_config.NumberColumn("Utilisation", format="percent"),
    "configured_action": "Configured action",
    "action": "Action",
    "enforced": "Enforced",
    "status": "Sensor status",
    "reason": st.column_config.TextColumn("Reason", width="large"),
    "mode": "Mode",
    "breach_id": "Breach",
    "evaluated_at": st.column_config.DatetimeColumn("Evaluated (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "false_positive": "False positive",
}
