"""What the Risk desk page shows, built from :mod:`engine.live.workflow` results: the bundled
replay on a background thread, the desk's table columns, the P&L and risk-score charts, and the
alert and compliance tables. Every number comes from the engine; this module only labels and
formats. Account ids and alert texts are user text: inside figures they go through
:func:`~dashboard.components.format.chart_text`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import state
from dashboard.components.format import USD, USD_CHANGE, chart_text, money, pct
from dashboard.components.jobs import Job, start_job
from engine.live import RISK_LEVELS
from engine.live import workflow as lw

__all__ = ["SPEEDS", "start_replay", "desk_columns", "alert_columns", "compliance_columns",
           "alert_label", "pl_chart", "risk_chart", "compliance_reading", "REGULATION_NAMES",
           "ALERT_SHOWN", "ALERT_VIEW", "COMPLIANCE_SHOWN", "COMPLIANCE_VIEW", "DESK_VIEW"]

#: Replay speeds offered on the page: feed time per wall-clock second (None: as fast as it can).
SPEEDS: dict[str, float | None] = {
    "1 feed day a second": 86_400.0,
    "1 feed week a second": 7 * 86_400.0,
    "1 feed month a second": 30 * 86_400.0,
    "As fast as possible": None,
}

#: The desk's columns in the order shown, with their labels (the field's terms, unit in label);
#: equity is a metric under the table and the feed time is the session's, in its caption.
DESK_VIEW: dict[str, Any] = {
    "account_id": st.column_config.TextColumn("Account"),
    "trading_state": st.column_config.TextColumn("State", help="ACTIVE, REDUCING (only trades "
                                                 "that reduce a position) or HALTED"),
    "risk_score": st.column_config.NumberColumn("Risk score", format="%.1f",
                                                help="0–100: the weighted sum of six components"),
    "risk_level": st.column_config.TextColumn("Risk level"),
    "open_alerts": st.column_config.NumberColumn("Open alerts", format="%d"),
    "total_exposure": st.column_config.NumberColumn("Exposure (USD)", format=USD,
                                                    help="Gross market value of the positions"),
    "current_leverage": st.column_config.NumberColumn("Leverage (×)", format="%.2f",
                                                      help="Gross exposure / equity"),
    "margin_utilization": st.column_config.NumberColumn("Margin used", format="percent",
                                                        help="Margin utilisation: margin "
                                                             "required / equity"),
    "var_95": st.column_config.NumberColumn("VaR 95% (USD)", format=USD,
                                            help="Historical 1-day VaR of the current positions "
                                                 "at 95% confidence: the loss not exceeded on "
                                                 "19 days out of 20"),
    "total_pl": st.column_config.NumberColumn("P&L total (USD)", format=USD_CHANGE),
    "daily_pl": st.column_config.NumberColumn("P&L daily (USD)", format=USD_CHANGE),
}

#: The alert inbox's columns.
ALERT_VIEW: dict[str, Any] = {
    "triggered_at": st.column_config.DatetimeColumn("Triggered (feed time, UTC)",
                                                    format="YYYY-MM-DD HH:mm"),
    "severity": st.column_config.TextColumn("Severity", width="small"),
    "account_id": st.column_config.TextColumn("Account", width="small"),
    "alert_type": st.column_config.TextColumn("Type"),
    "title": st.column_config.TextColumn("Title", width="medium"),
    "message": st.column_config.TextColumn("Message", width=370),
    "risk_score": st.column_config.NumberColumn("Risk score", format="%.1f"),
    "escalated_at": st.column_config.DatetimeColumn("Escalated (feed time, UTC)",
                                                    format="YYYY-MM-DD HH:mm"),
    "is_acknowledged": st.column_config.CheckboxColumn("Acknowledged", width="small"),
    "acknowledged_by": st.column_config.TextColumn("Acknowledged by"),
    "acknowledged_at": st.column_config.DatetimeColumn("Acknowledged at (UTC)",
                                                       format="YYYY-MM-DD HH:mm"),
    "ack_note": st.column_config.TextColumn("Note"),
    "alert_id": st.column_config.TextColumn("Alert id"),
}

#: The inbox columns shown at first (the others are a click away in the table's column menu),
#: so that the table fits the page at 1440 px.
ALERT_SHOWN = ["triggered_at", "severity", "account_id", "title", "message", "is_acknowledged"]

#: The compliance results' columns.
COMPLIANCE_VIEW: dict[str, Any] = {
    "status": st.column_config.TextColumn("Status", width=110),
    "regulation": st.column_config.TextColumn("Regulation", width=85),
    "title": st.column_config.TextColumn("Rule", width=330),
    "measured": st.column_config.TextColumn("Measured", width=95),
    "limit": st.column_config.TextColumn("Must be", width=130,
                                         help="The rule's comparison and threshold"),
    "unit": st.column_config.TextColumn("Unit", width=200),
    "instrument": st.column_config.TextColumn("Instrument"),
    "detail": st.column_config.TextColumn("Detail", width="medium"),
    "action": st.column_config.TextColumn("Action if breached", width="medium"),
    "source": st.column_config.TextColumn("Source of the threshold"),
}
#: The compliance columns shown at first (the others in the table's column menu).
COMPLIANCE_SHOWN = ["status", "regulation", "title", "measured", "limit", "unit"]
#: Rule groups as their regulators write them.
REGULATION_NAMES = {"mifid_ii": "MiFID II", "cftc": "CFTC", "finra": "FINRA", "sec": "SEC",
                    "custom": "Custom"}


def start_replay(speed: float | None) -> Job:
    """Replay the bundled example on a background thread, on the app's store.

    The job's ``cancel`` event is the replay's ``stop`` (pause: the replay stores the batch it
    is computing and stops; starting again resumes from the stored cursor), ``latest`` its last
    :class:`~engine.live.workflow.ReplayProgress`, and ``outcome["result"]`` its
    :class:`~engine.live.workflow.ReplayResult`.

    Parameters
    ----------
    speed : float or None
        Feed seconds per wall-clock second; None as fast as it can.

    Returns
    -------
    Job

    Raises
    ------
    ValidationError
        A speed the request refuses (not positive).
    """
    request = lw.ReplayRequest.build(example=True, speed=speed)
    store = state.store()

    def call(job: Job) -> lw.ReplayResult:
        return lw.replay(request, store=store, progress=lambda p: setattr(job, "latest", p),
                         stop=job.cancel)

    return start_job(call, name="the replay")


def _view(frame: pd.DataFrame, view: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    cols = [c for c in view if c in frame.columns]
    return frame[cols], {c: view[c] for c in cols}


def desk_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The desk's rows (:func:`engine.live.workflow.desk`) in display order, with their
    ``column_config``."""
    return _view(frame, DESK_VIEW)


def alert_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The alerts (:meth:`engine.live.workflow.AlertList.to_frame`) in display order, with their
    ``column_config`` and the columns shown at first (``column_order``)."""
    table, config = _view(frame, ALERT_VIEW)
    return table, config, [c for c in ALERT_SHOWN if c in table.columns]


def compliance_reading(value: float | None, unit: str) -> str:
    """A compliance value or threshold for reading in its unit: USD amounts as "$1,947,230",
    fractions and decimals as percentages ("17.2%"), other units with two decimals; never
    scientific notation. None or NaN (a rule that does not apply) gives "–"."""
    if value is None or pd.isna(value):
        return "–"
    if unit == "USD":
        return money(value)
    if unit == "decimal" or unit.startswith("fraction"):
        return pct(value, digits=1)
    return f"{value:,.2f}"


def compliance_columns(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The compliance results (:func:`engine.live.workflow.compliance_results`) in display
    order, values and thresholds as text in their units, with their ``column_config`` and the
    columns shown at first."""
    out = frame.copy()
    out["measured"] = [compliance_reading(v, u) for v, u in zip(out["value"], out["unit"],
                                                                strict=True)]
    out["limit"] = [f"{c} {compliance_reading(v, u)}" for c, v, u in
                    zip(out["comparison"], out["threshold"], out["unit"], strict=True)]
    out["unit"] = out["unit"].where(~out["unit"].isin(["USD", "decimal"]), "")
    out["regulation"] = out["regulation"].map(lambda r: REGULATION_NAMES.get(r, r))
    out["status"] = out["status"].str.replace("_", " ")
    table, config = _view(out, COMPLIANCE_VIEW)
    return table, config, [c for c in COMPLIANCE_SHOWN if c in table.columns]


def alert_label(alert: dict[str, Any]) -> str:
    """One alert as a select option (shown as text: no escaping)."""
    when = pd.Timestamp(alert["triggered_at"]).strftime("%Y-%m-%d %H:%M")
    return f"{alert['severity'].upper()} · {alert['account_id']} · {alert['title']} · {when}"


def _chart(title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis_title="Feed time (UTC)", yaxis_title=y_title,
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, xanchor="left"))
    return fig


def pl_chart(history: pd.DataFrame, *, account_id: str) -> go.Figure:
    """Total and daily P&L of one account over feed time (:func:`engine.live.workflow.history`)."""
    fig = _chart(f"P&amp;L of {chart_text(account_id)}", "USD")
    fig.add_scatter(x=history["event_at"], y=history["total_pl"], name="P&amp;L total",
                    mode="lines")
    fig.add_scatter(x=history["event_at"], y=history["daily_pl"], name="P&amp;L daily",
                    mode="lines", line=dict(width=1))
    fig.update_yaxes(tickformat="$,.0f")
    return fig


def risk_chart(history: pd.DataFrame, *, account_id: str) -> go.Figure:
    """One account's risk score over feed time, with the level thresholds
    (:data:`engine.live.RISK_LEVELS`)."""
    fig = _chart(f"Risk score of {chart_text(account_id)}", "risk score (0–100)")
    fig.add_scatter(x=history["event_at"], y=history["risk_score"], name="risk score",
                    mode="lines")
    for level, floor in RISK_LEVELS[1:]:
        fig.add_hline(y=floor, line=dict(dash="dot", width=1, color="grey"),
                      annotation_text=f"{level} ≥ {floor:g}", annotation_position="top left")
    fig.update_yaxes(range=[0, 100])
    return fig
