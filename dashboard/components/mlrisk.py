"""UI pieces of the model robustness workbench: cached workflow calls, Plotly charts, the
session's handbook.

Every number comes from ``engine.mlrisk`` (its workflow and the tables of stored results); these
functions lay it out. Scenario ids, column names and subgroup levels in the charts go through
:func:`~dashboard.components.format.chart_text`, so Plotly shows them as written.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components.format import chart_text
from engine.mlrisk import Handbook, chart_rows, default_handbook, distribution, parse_handbook, subgroup_matrix
from engine.mlrisk.workflow import DataPreview, preview_data

__all__ = [
    "HANDBOOK_KEY", "current_handbook", "set_handbook", "data_preview", "parse_level", "metric_chart",
    "degradation_chart", "distribution_chart", "heatmap", "COLORS",
]

HANDBOOK_KEY = "ml_handbook_json"
COLORS = {"PASS": "#2e7d32", "FAIL": "#c62828", "baseline": "#1f4e79"}


def current_handbook() -> Handbook:
    """The handbook being edited in this session (the default one until changed)."""
    text = st.session_state.get(HANDBOOK_KEY)
    if text is None:
        hb = default_handbook()
        st.session_state[HANDBOOK_KEY] = hb.to_json()
        return hb
    return parse_handbook(text)


def set_handbook(handbook: Handbook) -> None:
    """Make ``handbook`` the one this session edits and validates with."""
    st.session_state[HANDBOOK_KEY] = handbook.to_json()


@st.cache_data(max_entries=4, show_spinner=False)
def data_preview(content: bytes | None, filename: str | None, row_limit: int | None, seed: int) -> DataPreview:
    """Name, size and columns of the bundled table (``content`` None) or an uploaded one."""
    return preview_data(data_content=content, data_name=filename, row_limit=row_limit, seed=seed)


def parse_level(text: str) -> str | int | None:
    """A level typed into a text box: an integer when it reads as one ("1", "-2"), else the
    trimmed text; None when blank."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def metric_chart(rows: list[dict], metric: str) -> go.Figure:
    """Stressed value per scenario, coloured PASS/FAIL, with the baseline drawn."""
    df = chart_rows(rows, metric)
    fig = go.Figure(go.Bar(
        x=df["scenario_id"].map(chart_text), y=df["stressed_value"], marker_color=[COLORS[s] for s in df["status"]],
        text=df["status"], textposition="outside", name="stressed",
        hovertemplate="%{x}<br>stressed %{y:.4f}<extra></extra>",
    ))
    if len(df):
        base = float(df["baseline_value"].iloc[0])
        fig.add_hline(y=base, line_dash="dash", line_color=COLORS["baseline"],
                      annotation_text=f"baseline {base:.4f}", annotation_position="top left")
        values = [base, *df["stressed_value"].astype(float)]
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.25 or abs(hi) * 0.05 or 0.01
        fig.update_yaxes(range=[lo - pad, hi + pad])  # zoomed: the differences are what matter
    fig.update_layout(title=f"{metric}: baseline against stressed (axis zoomed to the values)", yaxis_title=metric,
                      height=380, margin={"t": 50, "b": 40}, showlegend=False)
    return fig


def degradation_chart(rows: list[dict], metric: str) -> go.Figure:
    """Worsening % per scenario (degradation_pct signed so that up is worse) with the threshold drawn."""
    df = chart_rows(rows, metric)
    fig = go.Figure(go.Bar(x=df["scenario_id"].map(chart_text), y=df["worsening_pct"],
                           marker_color=[COLORS[s] for s in df["status"]], name="worsening %"))
    if len(df):
        thr = float(df["threshold"].iloc[0])
        label = f"threshold {thr:g}" + (" (absolute)" if metric == "subgroup_delta" else " %")
        if metric != "subgroup_delta":
            fig.add_hline(y=thr, line_dash="dot", line_color="#555", annotation_text=label)
    fig.update_layout(title=f"{metric}: worsening % against baseline", yaxis_title="worsening %", height=380,
                      margin={"t": 50, "b": 40}, showlegend=False)
    return fig


def distribution_chart(results: dict, scenario_id: str, feature: str) -> go.Figure:
    """A feature's histogram before and after a scenario."""
    df = distribution(results, scenario_id=scenario_id, feature=feature)
    mid = (df["bin_left"] + df["bin_right"]) / 2
    width = float((df["bin_right"] - df["bin_left"]).iloc[0])
    fig = go.Figure([
        go.Bar(x=mid, y=df["before"], width=width, name="before (baseline)", marker_color=COLORS["baseline"],
               opacity=0.55),
        go.Bar(x=mid, y=df["after"], width=width, name=f"after ({chart_text(scenario_id)})", marker_color="#e65100",
               opacity=0.55),
    ])
    fig.update_layout(barmode="overlay", title=f"{chart_text(feature)}: before and after {chart_text(scenario_id)}",
                      xaxis_title=chart_text(feature),
                      yaxis_title="rows", height=380, margin={"t": 50, "b": 40})
    return fig


def heatmap(results: dict, metric: str) -> go.Figure:
    """Scenario x subgroup heatmap of one metric."""
    m = subgroup_matrix(results, metric)
    fig = go.Figure(go.Heatmap(z=m.to_numpy(), x=[chart_text(c) for c in m.columns],
                               y=[chart_text(i) for i in m.index], colorscale="RdYlGn",
                               reversescale=metric not in ("AUC", "accuracy", "R2"),
                               text=[[("" if pd.isna(v) else f"{v:.3f}") for v in r] for r in m.to_numpy()],
                               texttemplate="%{text}", colorbar={"title": metric}))
    fig.update_layout(title=f"{metric} by scenario and subgroup", height=120 + 40 * len(m), margin={"t": 50})
    return fig
