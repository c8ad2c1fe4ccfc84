"""A scenario's monthly factor path as a Plotly figure, and its peak values as a table.

The figure draws the arrays :func:`engine.credit._scenarios.monthly_factors` gives (one float
array per factor, month ``k`` at index ``k - 1``); it computes nothing but the display unit
(rates and spreads in percentage points, multipliers as they are). Usable by any page that has
those arrays (the Scenarios page; the Stress test page for a run's path scenario).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.components.credit import FACTORS, NEUTRAL
from dashboard.components.format import chart_text

__all__ = ["scenario_path_figure", "peak_table"]

_COLORS = {"default_multiplier": "#b23a3a", "recovery_multiplier": "#2e7d32",
           "prepayment_multiplier": "#6a4c93", "interest_rate_shock": "#1f4e79",
           "discount_rate_shock": "#00838f", "spread_widening": "#c8702a"}


def scenario_path_figure(months: Mapping[str, np.ndarray], *, title: str | None = None,
                         path_end: int | None = None) -> go.Figure:
    """Each moving factor month by month: multipliers above, rates and spreads (pp) below.

    Parameters
    ----------
    months : mapping of factor to ndarray of shape (n_months,)
        As :func:`engine.credit._scenarios.monthly_factors` returns them. A factor that stays at
        its neutral value throughout is left out.
    title : str, optional
        User text (a scenario name) is passed through :func:`chart_text`.
    path_end : int, optional
        Last month the path covers; a dotted line marks where its last value starts being held.

    Returns
    -------
    plotly.graph_objects.Figure
        Step lines (each value held for its months), hover in the factor's unit.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("Multipliers (×)", "Rates and spreads (pp)"))
    for factor, values in months.items():
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0 or np.all(values == NEUTRAL[factor]):
            continue
        name, unit, scale = FACTORS[factor]
        row = 2 if unit == "pp" else 1
        fmt = "%{y:+.2f} pp" if unit == "pp" else "%{y:.3f}×"
        fig.add_trace(go.Scatter(
            x=np.arange(1, values.size + 1), y=values * scale, name=name, mode="lines",
            line={"shape": "hv", "color": _COLORS[factor], "width": 2},
            hovertemplate=f"month %{{x}}<br>{name}: {fmt}<extra></extra>"), row=row, col=1)
    if path_end:
        for row in (1, 2):
            fig.add_vline(x=path_end + 0.5, line={"dash": "dot", "color": "#888", "width": 1},
                          row=row, col=1)
    fig.update_layout(
        title={"text": chart_text(title), "x": 0, "font": {"size": 15}} if title else None,
        height=460, font={"size": 12}, showlegend=True,
        margin={"l": 10, "r": 10, "t": 70 if title else 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "xanchor": "left", "x": 0})
    fig.update_xaxes(title_text="Month", row=2, col=1, automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def peak_table(factors: Mapping[str, float]) -> pd.DataFrame:
    """The scenario's headline (peak) value of each factor, as text in the form's units.

    Parameters
    ----------
    factors : mapping of factor to float
        :meth:`engine.credit._scenarios.MarketFactors.constant` (decimal rates, multipliers).

    Returns
    -------
    DataFrame
        Columns "Factor" and "Peak" ("+3.00 pp", "2.44×").
    """
    rows = []
    for factor, value in factors.items():
        name, unit, scale = FACTORS[factor]
        text = f"{value * scale:+.2f} pp" if unit == "pp" else f"{value:.3f}×"
        rows.append({"Factor": name, "Peak": text})
    return pd.DataFrame(rows, columns=["Factor", "Peak"])
