"""Plotly charts of the credit pages: pool breakdowns, scenario comparisons, monthly timelines and
one loan's path.

Each chart takes a table an engine function produced (``pool_breakdown``, ``metrics_against_base``,
``cashflows_frame``, ``loan_level_by``, ``loan_path``) and only draws it; large inputs are
aggregated or thinned by the engine (``cashflow_chart_frame``), so no chart carries a point per loan.
Text from the user (scenario names, grades, loan ids) goes through
:func:`~dashboard.components.format.chart_text`, so Plotly shows it as written.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.components.format import chart_text, pct
from engine.credit._views import cashflow_chart_frame

__all__ = ["ACCENT", "NEGATIVE", "breakdown_chart", "npv_change_chart", "timeline_chart",
           "loss_bar_chart", "wal_duration_chart", "grade_loss_chart", "loan_path_chart"]

ACCENT = "#1f4e79"
NEGATIVE = "#b23a3a"
_PALETTE = ["#1f4e79", "#c8702a", "#2e7d32", "#b23a3a", "#6a4c93", "#00838f", "#8d6e63", "#546e7a",
            "#ad1457", "#9e9d24"]

def _layout(fig: go.Figure, *, title: str | None, x: str, y: str, height: int = 380,
            yformat: str | None = None, legend: bool = True) -> go.Figure:
    """Shared look: Streamlit's chart theme (no Plotly template: it costs ~10 ms per figure and
    ~6 kB on the wire, and Streamlit's theme restyles the chart anyway), axis titles clear of the
    ticks, and a legend in one horizontal row *above* the plot.

    A chart with a legend draws no title of its own (``title=None``): the page writes the title
    above the chart, so that the legend, wrapped over several rows on a phone, never runs into
    it nor into the x-axis title below the plot; Plotly grows the top margin to fit the legend.
    """
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}} if title else None,
        height=height, showlegend=legend, font={"size": 12},
        margin={"l": 10, "r": 10, "t": 50 if title else (36 if legend else 16), "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                "title": {"text": ""}} if legend else None,
    )
    fig.update_xaxes(title_text=x, automargin=True)
    fig.update_yaxes(title_text=y, automargin=True, tickformat=yformat)
    return fig


def breakdown_chart(frame: pd.DataFrame, by: str, *, label: str) -> go.Figure:
    """Balance by category (one bar per category, never per loan)."""
    fig = go.Figure(go.Bar(
        x=frame[by].astype(str).map(chart_text), y=frame["balance"], marker_color=ACCENT,
        customdata=frame[["n_assets", "balance_share"]].to_numpy(),
        hovertemplate="%{x}<br>balance $%{y:,.0f}<br>%{customdata[0]:,} loans"
                      "<br>%{customdata[1]:.2%} of balance<extra></extra>"))
    return _layout(fig, title=f"Balance by {label}", x=label.capitalize(), y="Balance (USD)",
                   yformat="$~s", height=320, legend=False)


def npv_change_chart(table: pd.DataFrame) -> go.Figure:
    """NPV change against base per scenario, in percent (from ``metrics_against_base``)."""
    df = table[table["scenario"] != "base"]
    pct_change = df["npv_change_percent"]
    colors = [NEGATIVE if v < 0 else ACCENT for v in df["npv_change"].fillna(0)]
    fig = go.Figure(go.Bar(
        x=df["name"].map(chart_text), y=pct_change, marker_color=colors,
        text=[pct(v, decimal=False, signed=True) for v in pct_change], textposition="outside",
        customdata=df["npv_change"].to_numpy(),
        hovertemplate="%{x}<br>%{y:+.2f}% of base NPV<br>$%{customdata:,.0f}<extra></extra>"))
    fig.add_hline(y=0, line_color="#888", line_width=1)
    top = float(pct_change.abs().max()) if len(pct_change) and pct_change.notna().any() else 1.0
    fig.update_yaxes(range=[-top * 1.25 if (pct_change < 0).any() else 0,
                            top * 1.25 if (pct_change > 0).any() else top * 0.1])
    return _layout(fig, title="NPV change against the base case", x="Scenario",
                   y="NPV change (% of base)", yformat=".1f", legend=False, height=400)


def timeline_chart(cashflows: pd.DataFrame, names: dict[str, str], *, column: str,
                   y: str) -> go.Figure:
    """One line per scenario over months (thinned to at most 400 points per scenario); no title
    of its own (see ``_layout``): the page writes it above the chart."""
    df = cashflow_chart_frame(cashflows, names=names)
    fig = go.Figure()
    for i, (key, part) in enumerate(df.groupby("scenario", sort=False)):
        fig.add_trace(go.Scatter(
            x=part["period"], y=part[column], mode="lines", name=chart_text(names.get(key, key)),
            line={"color": _PALETTE[i % len(_PALETTE)], "width": 2 if key == "base" else 1.6,
                  "dash": "dash" if key == "base" else "solid"},
            hovertemplate="month %{x}<br>$%{y:,.0f}<extra>%{fullData.name}</extra>"))
    return _layout(fig, title=None, x="Months from the analysis date", y=y, yformat="$~s",
                   height=420)


def loss_bar_chart(table: pd.DataFrame) -> go.Figure:
    """Total loss per scenario (USD) with loss as % of balance in the label; titled by the
    page."""
    fig = go.Figure(go.Bar(
        x=table["name"].map(chart_text), y=table["total_loss"], marker_color=NEGATIVE,
        text=[pct(v, decimal=False) for v in table["loss_percent"]], textposition="outside",
        hovertemplate="%{x}<br>loss $%{y:,.0f}<extra></extra>"))
    top = float(table["total_loss"].max()) if table["total_loss"].notna().any() else 1.0
    fig.update_yaxes(range=[0, top * 1.2])
    return _layout(fig, title=None, x="Scenario", y="Credit loss (USD)",
                   yformat="$~s", legend=False)


def wal_duration_chart(table: pd.DataFrame) -> go.Figure:
    """WAL and duration per scenario, side by side (years); titled by the page."""
    fig = go.Figure([
        go.Bar(x=table["name"].map(chart_text), y=table["weighted_average_life"], name="WAL",
               marker_color=ACCENT, hovertemplate="%{x}<br>WAL %{y:.2f} years<extra></extra>"),
        go.Bar(x=table["name"].map(chart_text), y=table["duration"], name="Duration", marker_color="#c8702a",
               hovertemplate="%{x}<br>duration %{y:.2f} years<extra></extra>"),
    ])
    fig.update_layout(barmode="group")
    return _layout(fig, title=None, x="Scenario", y="Years", yformat=".2f")


def grade_loss_chart(frame: pd.DataFrame, by: str) -> go.Figure:
    """Loss as % of starting balance by grade or asset class (aggregated loan-level rows)."""
    fig = go.Figure(go.Bar(
        x=frame[by].astype(str).map(chart_text), y=frame["loss_percent"], marker_color=NEGATIVE,
        customdata=frame[["total_loss", "n_assets"]].to_numpy(),
        hovertemplate="%{x}<br>%{y:.2f}% of balance<br>loss $%{customdata[0]:,.0f}"
                      "<br>%{customdata[1]:,} loans<extra></extra>"))
    return _layout(fig, title=f"Loss by {by.replace('_', ' ')}", x=by.replace("_", " ").capitalize(),
                   y="Loss (% of starting balance)", yformat=".1f", legend=False, height=340)


def loan_path_chart(path: pd.DataFrame, asset_id: str) -> go.Figure:
    """One loan's balance and cumulative loss by month; titled by the page."""
    fig = go.Figure([
        go.Scatter(x=path["period"], y=path["balance"], name="Expected balance",
                   line={"color": ACCENT}, hovertemplate="month %{x}<br>$%{y:,.2f}<extra></extra>"),
        go.Scatter(x=path["period"], y=path["cumulative_loss"], name="Cumulative expected loss",
                   line={"color": NEGATIVE}, hovertemplate="month %{x}<br>$%{y:,.2f}<extra></extra>"),
    ])
    return _layout(fig, title=None, x="Months from the analysis date", y="Expected amount (USD)",
                   yformat="$,.0f", height=340)
