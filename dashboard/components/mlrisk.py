"""UI pieces of the model robustness workbench: cached workflow calls, reader names and column
formats, Plotly charts, the report downloads, the session's handbook.

Every number comes from ``engine.mlrisk`` (its workflow and the tables of stored results); these
functions lay it out and format it for reading (``engine.display``). Scenario ids, column names
and subgroup levels in the charts go through :func:`~dashboard.components.format.chart_text`, so
Plotly shows them as written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.components.format import chart_text
from engine.display import Term, pvalue, term
from engine.mlrisk import (
    Handbook, chart_rows, default_handbook, distribution, drift_table, parse_handbook, report_table,
    subgroup_matrix,
)
from engine.mlrisk.workflow import DataPreview, preview_data
from engine.store import Store

try:  # the reports package (issue 13) may be missing from an older installation
    from engine.reports.workflow import build_report
except ImportError:  # pragma: no cover - exercised only without engine.reports
    build_report = None

__all__ = [
    "HANDBOOK_KEY", "current_handbook", "set_handbook", "data_preview", "parse_level", "metric_chart",
    "degradation_chart", "distribution_chart", "heatmap", "COLORS", "metric_term", "metric_name",
    "model_name", "stress_type_name", "report_frame", "drift_frame", "handbook_frame",
    "REPORT_COLUMNS", "FAILURE_COLUMNS", "DRIFT_COLUMNS", "SIGNOFF_COLUMNS",
    "HANDBOOK_COLUMNS", "report_downloads",
]

#: Reader names and help texts of the measures these pages show that ``engine.display.GLOSSARY``
#: does not hold (yet): keyed like the glossary, lower-case code name.
_TERMS: dict[str, Term] = {
    "accuracy": Term("Accuracy", "Share of test rows classified correctly, predicting the positive "
                                 "class when its probability is at least 0.5."),
    "brier": Term("Brier score", "Mean squared gap between the predicted probability and the 0/1 "
                                 "outcome; lower is better."),
    "log_loss": Term("Log loss", "Cross-entropy of the predicted probabilities; lower is better, "
                                 "and confident mistakes cost most."),
    "mae": Term("MAE", "Mean absolute error of the predictions, in the target's units."),
    "r2": Term("R²", "Coefficient of determination: the share of the target's variance the model "
                     "explains; 1 is perfect."),
    "subgroup_delta": Term("Subgroup delta", "The largest gap between a subgroup's AUC (R² for a "
                                             "regressor) and the whole test set's; its threshold "
                                             "is absolute, in that metric's units."),
    "ks": Term("KS statistic", "Kolmogorov–Smirnov statistic: the largest gap between the "
                               "feature's cumulative distributions before and after stress."),
    "psi_band": Term("PSI band", "Stable below 0.10, moderate from 0.10 to 0.25, significant from "
                                 "0.25 (bins at the reference deciles)."),
    "wasserstein_normalised": Term("Wasserstein distance (σ)", "Earth mover's distance between the "
                                   "feature before and after stress, in standard deviations of "
                                   "the feature before stress."),
}

#: The stress types of ``stress_scenarios.json`` as a reader writes them.
_STRESS_TYPES = {"NOISE": "Noise", "FEATURE_SHIFT": "Feature shift", "MISSINGNESS": "Missing values",
                 "OUT_OF_DISTRIBUTION": "Out of distribution", "SUBGROUP": "Subgroup"}
_MODELS = {"logistic_regression": "Logistic regression", "random_forest": "Random forest",
           "gradient_boosting": "Gradient boosting"}


def metric_term(name: str) -> Term:
    """Reader name and help text of a metric or drift measure (``"log_loss"`` → "Log loss")."""
    return _TERMS.get(name.lower()) or term(name)


def metric_name(name: str) -> str:
    """Just the reader name of a metric (a ``format_func`` for metric pickers)."""
    return metric_term(name).name


def model_name(kind: str) -> str:
    """A model kind as a reader writes it ("random_forest" → "Random forest")."""
    return _MODELS.get(kind, kind)


def stress_type_name(kind: str) -> str:
    """A stress type as a reader writes it ("OUT_OF_DISTRIBUTION" → "Out of distribution")."""
    return _STRESS_TYPES.get(kind, kind)


def _help(name: str, extra: str = "") -> str:
    return " ".join(t for t in (metric_term(name).help, extra) if t)


def _number(label: str, fmt: str = "%.4f", help: str = "", width: Any = None) -> Any:
    return st.column_config.NumberColumn(label, format=fmt, help=help or None, width=width)


def _text(label: str, help: str = "", width: Any = None) -> Any:
    return st.column_config.TextColumn(label, help=help or None, width=width)


def report_frame(rows: list[dict]) -> pd.DataFrame:
    """The degradation report for reading: reader names of metrics and stress types, without the
    signed ``degradation_pct`` and ``threshold_kind`` (worsening % and the threshold's help say it)."""
    df = report_table(rows)
    cols = ["scenario_id", "stress_type", "severity_level", "metric_name", "baseline_value",
            "stressed_value", "worsening_pct", "threshold", "status"]
    return df[cols].assign(stress_type=df["stress_type"].map(stress_type_name),
                           metric_name=df["metric_name"].map(metric_name))


def drift_frame(results: dict) -> pd.DataFrame:
    """The drift table with each KS p-value written for reading ("< 0.001", "0.034")."""
    df = drift_table(results)
    return df.assign(KS_p_value=df["KS_p_value"].map(pvalue))


_THRESHOLD_HELP = "Largest tolerated worsening, % of the baseline value; for subgroup delta, absolute."
_WORSENING_HELP = "How much worse than the baseline, % of the baseline value (up is worse for every metric)."

#: ``column_config`` of :func:`report_frame`.
REPORT_COLUMNS: dict[str, Any] = {
    "scenario_id": st.column_config.TextColumn("Scenario", pinned=True),
    "stress_type": _text("Stress type"),
    "severity_level": _number("Severity", "%d", "1 (mild) to 5 (severe), from the handbook.", width="small"),
    "metric_name": _text("Metric"),
    "baseline_value": _number("Baseline"),
    "stressed_value": _number("Stressed"),
    "worsening_pct": _number("Worsening (%)", "%.2f", _WORSENING_HELP),
    "threshold": _number("Threshold", "%.2f", _THRESHOLD_HELP),
    "status": _text("Status", "PASS when the worsening stays within the threshold.", width="small"),
}
#: ``column_config`` of the decision's key failures.
FAILURE_COLUMNS: dict[str, Any] = {k: v for k, v in REPORT_COLUMNS.items()
                                   if k in ("scenario_id", "metric_name", "baseline_value", "stressed_value",
                                            "worsening_pct", "threshold")}
FAILURE_COLUMNS["severity_level"] = REPORT_COLUMNS["severity_level"]
#: ``column_config`` of :func:`drift_frame`.
DRIFT_COLUMNS: dict[str, Any] = {
    "scenario_id": st.column_config.TextColumn("Scenario", pinned=True),
    "feature": _text("Feature", "The stressed input column."),
    "PSI": _number("PSI", "%.3f", metric_term("psi").help),
    "PSI_band": _text("PSI band", metric_term("psi_band").help),
    "KS": _number("KS statistic", "%.3f", metric_term("ks").help),
    "KS_p_value": st.column_config.TextColumn(
        "KS p-value", help=metric_term("ks_p_value").help + ' Two-sided; below 0.001 is written "< 0.001".',
        alignment="right"),
    "wasserstein_normalised": _number("Wasserstein distance (σ)", "%.3f",
                                      metric_term("wasserstein_normalised").help),
}
#: ``column_config`` of a run's sign-offs.
SIGNOFF_COLUMNS: dict[str, Any] = {
    "signed_at": st.column_config.DatetimeColumn("Signed at (UTC)", format="YYYY-MM-DD HH:mm"),
    "name": _text("Validator", "The signed-in user who signed off."),
    "comment": _text("Comment", width="large"),
    "decision": _text("Decision signed"),
}


def handbook_frame(handbook: Handbook) -> pd.DataFrame:
    """The handbook as a table for reading (stress types as a reader writes them)."""
    from engine.mlrisk import handbook_table

    df = handbook_table(handbook)
    return df.assign(stress_type=df["stress_type"].map(stress_type_name))


#: ``column_config`` of :func:`handbook_frame`.
HANDBOOK_COLUMNS: dict[str, Any] = {
    "scenario_id": st.column_config.TextColumn("Scenario", pinned=True),
    "stress_type": _text("Stress type"),
    "severity_level": _number("Severity", "%d", "1 (mild) to 5 (severe).", width="small"),
    "parameters": _text("Parameters", "As in stress_scenarios.json; fractions are decimals "
                                      "(0.3 = 30 %).", width="large"),
    "seed": _number("Seed", "%d", "The scenario's own random seed.", width="small"),
    "description": _text("Description", width="medium"),
    "real_world_event": _text("Real-world event", width="medium"),
    "expected_business_impact": _text("Expected business impact", width="medium"),
}


def report_downloads(run_id: str, *, store: Store, key: str) -> bool:
    """Download buttons for the validation run's report as HTML and as PDF, built on click.

    Returns False (and draws nothing) when ``engine.reports`` is not installed.
    """
    if build_report is None:
        return False

    def content(fmt: str) -> Callable[[], bytes]:
        return lambda: build_report("validation", run_id=run_id, fmt=fmt, store=store).content

    st.download_button("Report (HTML)", content("html"), file_name=f"validation_{run_id}.html",
                       mime="text/html", key=f"{key}_html", icon=":material/description:",
                       help="One self-contained file: decision, figures, charts, run ids and hashes.")
    st.download_button("Report (PDF)", content("pdf"), file_name=f"validation_{run_id}.pdf",
                       mime="application/pdf", key=f"{key}_pdf", icon=":material/picture_as_pdf:",
                       help="The same report as a PDF (takes a few seconds to build).")
    return True


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


#: Legend in one row above the plot, under the title: it never covers the plot or the x-axis
#: title, at 1440 px or at 390 px. The title is pinned to the top of the figure.
_LEGEND_ON_TOP = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                  "title": {"text": ""}}
_MARGIN = {"t": 50, "b": 40, "l": 10, "r": 20}


def _title(text: str) -> dict:
    return {"text": text, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top", "yref": "container"}


def _bar_height(n: int) -> int:
    """Horizontal bars: 44 px a scenario plus the title and axis, so long scenario ids read at
    390 px as at 1440 px (on the y axis, never rotated or cut)."""
    return 130 + 44 * max(n, 1)


def metric_chart(rows: list[dict], metric: str) -> go.Figure:
    """Stressed value per scenario as horizontal bars, coloured PASS/FAIL, with the baseline
    drawn (axis zoomed to the values: the differences are what matter)."""
    df = chart_rows(rows, metric)
    name = chart_text(metric_name(metric))
    fig = go.Figure(go.Bar(
        y=df["scenario_id"].map(chart_text), x=df["stressed_value"], orientation="h",
        marker_color=[COLORS[s] for s in df["status"]], text=df["status"], textposition="inside",
        insidetextanchor="end", textfont={"color": "white"}, name="stressed",
        hovertemplate="%{y}<br>stressed %{x:.4f}<extra></extra>",
    ))
    if len(df):
        base = float(df["baseline_value"].iloc[0])
        fig.add_vline(x=base, line_dash="dash", line_color=COLORS["baseline"],
                      annotation_text=f"baseline {base:.4f}", annotation_position="top",
                      annotation_bgcolor="rgba(255,255,255,0.85)")
        values = [base, *df["stressed_value"].astype(float)]
        lo, hi = min(values), max(values)
        pad = (hi - lo) * 0.3 or abs(hi) * 0.05 or 0.01
        fig.update_xaxes(range=[lo - pad, hi + pad])
    fig.update_layout(title=_title(f"{name}: stressed against baseline"), xaxis_title=name,
                      height=_bar_height(len(df)), margin={**_MARGIN, "t": 70}, showlegend=False)
    fig.update_yaxes(automargin=True, autorange="reversed")  # handbook order, top to bottom
    return fig


def degradation_chart(rows: list[dict], metric: str) -> go.Figure:
    """Worsening % per scenario as horizontal bars (degradation_pct signed so that right is
    worse), with the threshold drawn."""
    df = chart_rows(rows, metric)
    name = chart_text(metric_name(metric))
    fig = go.Figure(go.Bar(y=df["scenario_id"].map(chart_text), x=df["worsening_pct"], orientation="h",
                           marker_color=[COLORS[s] for s in df["status"]], name="worsening %",
                           hovertemplate="%{y}<br>worsening %{x:.2f} %<extra></extra>"))
    if len(df) and metric != "subgroup_delta":  # its threshold is absolute, not a % of baseline
        thr = float(df["threshold"].iloc[0])
        fig.add_vline(x=thr, line_dash="dot", line_color="#555", annotation_text=f"threshold {thr:g} %",
                      annotation_position="top", annotation_bgcolor="rgba(255,255,255,0.85)")
    fig.update_layout(title=_title(f"{name}: worsening % against baseline"), xaxis_title="worsening (%)",
                      height=_bar_height(len(df)), margin={**_MARGIN, "t": 70}, showlegend=False)
    fig.update_yaxes(automargin=True, autorange="reversed")
    return fig


def distribution_chart(results: dict, scenario_id: str, feature: str) -> go.Figure:
    """A feature's histogram before and after a scenario; the legend sits above the plot."""
    df = distribution(results, scenario_id=scenario_id, feature=feature)
    mid = (df["bin_left"] + df["bin_right"]) / 2
    width = float((df["bin_right"] - df["bin_left"]).iloc[0])
    fig = go.Figure([
        go.Bar(x=mid, y=df["before"], width=width, name="before (baseline)", marker_color=COLORS["baseline"],
               opacity=0.55),
        go.Bar(x=mid, y=df["after"], width=width, name=f"after ({chart_text(scenario_id)})", marker_color="#e65100",
               opacity=0.55),
    ])
    title = f"{chart_text(feature)}: before and after {chart_text(scenario_id)}"
    fig.update_layout(barmode="overlay", title=_title(title),
                      xaxis_title=chart_text(feature), yaxis_title="rows", height=420,
                      legend=_LEGEND_ON_TOP, margin={**_MARGIN, "t": 100})
    return fig


def heatmap(results: dict, metric: str) -> go.Figure:
    """Scenario x subgroup heatmap of one metric (green is better, whichever way the metric runs)."""
    m = subgroup_matrix(results, metric)
    name = chart_text(metric_name(metric))
    fig = go.Figure(go.Heatmap(z=m.to_numpy(), x=[chart_text(c) for c in m.columns],
                               y=[chart_text(i) for i in m.index], colorscale="RdYlGn",
                               reversescale=metric not in ("AUC", "accuracy", "R2"),
                               text=[[("" if pd.isna(v) else f"{v:.3f}") for v in r] for r in m.to_numpy()],
                               texttemplate="%{text}", colorbar={"title": {"text": name}, "thickness": 12},
                               hovertemplate="%{y}<br>%{x}<br>" + name + " %{z:.4f}<extra></extra>"))
    fig.update_layout(title=_title(f"{name} by scenario and subgroup"), height=150 + 40 * len(m),
                      margin={**_MARGIN, "t": 60})
    fig.update_yaxes(automargin=True)
    return fig
