"""Reusable pieces of the VaR and limits page: cached engine calls, charts and tables.

Every number comes from an engine function (``engine.market``); this module only caches calls
(``st.cache_data`` keyed on their inputs) and lays results out.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.market.backtest import BacktestRun, backtest
from engine.market.data_io import (
    load_bundled_prices,
    load_default_positions,
    loss_series,
    position_values,
    read_positions_csv,
    read_prices_csv,
    simple_returns,
)
from engine.market.limits import LimitsConfig, load_default_limits, load_limits
from engine.market.sensors import RiskSnapshot, compute_snapshot
from engine.market.stress import PREDEFINED_WINDOWS, StressWindow, replay_all
from engine.market.var import VaRReport, compare_methods

__all__ = [
    "backtest_chart",
    "cached_backtest",
    "cached_limits",
    "cached_positions",
    "cached_prices",
    "cached_snapshot",
    "cached_stress",
    "cached_var_report",
    "sensors_frame",
]

PORTFOLIO = "Portfolio (positions)"


@st.cache_data(max_entries=4, show_spinner=False)
def cached_prices(upload: bytes | None, name: str | None) -> pd.DataFrame:
    """The bundled prices, or an uploaded CSV validated by the engine."""
    if upload is None:
        return load_bundled_prices()
    return read_prices_csv(upload, subject=f"price file {name}")


@st.cache_data(max_entries=4, show_spinner=False)
def cached_positions(upload: bytes | None, name: str | None,
                     instruments: tuple[str, ...]) -> pd.DataFrame:
    if upload is None:
        pos = load_default_positions()
        missing = sorted(set(pos["instrument"]) - set(instruments))
        if missing:
            return read_positions_csv(pos.to_csv(index=False).encode(), instruments=list(instruments),
                                      subject="default positions (upload positions for these prices)")
        return pos
    return read_positions_csv(upload, instruments=list(instruments),
                              subject=f"positions file {name}")


@st.cache_data(max_entries=4, show_spinner=False)
def cached_limits(upload: bytes | None, name: str | None) -> LimitsConfig:
    if upload is None:
        return load_default_limits()
    return load_limits(upload, subject=f"limits file {name}")


@st.cache_data(max_entries=16, show_spinner=False)
def cached_var_report(prices: pd.DataFrame, positions: pd.DataFrame, *, window: int,
                      horizon: int, es_confidence: float, notional: float) -> VaRReport:
    values = position_values(positions, prices, notional=notional)
    rets = simple_returns(prices[list(values.index)])
    if window > len(rets):
        from engine.errors import InputError

        raise InputError(f"window of {window} days is longer than the history "
                         f"({len(rets)} returns)")
    return compare_methods(rets.iloc[-window:], values, horizon_days=horizon,
                           es_confidence=es_confidence)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_backtest(prices: pd.DataFrame, positions: pd.DataFrame, *, series: str,
                    confidence: float, window: int, method: str, start: str, end: str,
                    notional: float) -> BacktestRun:
    if series == PORTFOLIO:
        losses = loss_series(prices, weights=position_values(positions, prices, notional=notional))
    else:
        losses = loss_series(prices, column=series)
    return backtest(losses, confidence=confidence, window=window, method=method, start=start,
                    end=end)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_stress(prices: pd.DataFrame, positions: pd.DataFrame,
                  windows: tuple[tuple[str, str, str], ...], notional: float) -> pd.DataFrame:
    values = position_values(positions, prices, notional=notional)
    ws = list(PREDEFINED_WINDOWS) + [StressWindow(name=n, start=s, end=e) for n, s, e in windows]
    rows = replay_all(prices, values, ws[: len(PREDEFINED_WINDOWS)])
    rows += replay_all(prices, values, ws[len(PREDEFINED_WINDOWS):], skip_uncovered=False)
    return pd.DataFrame([r.model_dump() for r in rows])


@st.cache_data(max_entries=8, show_spinner=False)
def cached_snapshot(prices: pd.DataFrame, positions: pd.DataFrame, config: LimitsConfig,
                    notional: float) -> RiskSnapshot:
    return compute_snapshot(prices, positions, config, notional=notional)


def backtest_chart(run: BacktestRun, *, unit: str) -> go.Figure:
    """Loss against VaR with exceptions marked (red crosses); ``unit`` labels the y axis."""
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
                      yaxis_title=f"loss ({unit})", legend={"orientation": "h"})
    return fig


def sensors_frame(statuses) -> pd.DataFrame:
    """Sensor status rows for display."""
    return pd.DataFrame([s.model_dump() for s in statuses])[
        ["sensor", "status", "false_positive_rate_per_week", "threshold_per_week",
         "false_positives", "breaches", "weeks_observed", "metric"]]


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
