"""Home: the decision summary for someone with two minutes.

Four tiles (credit, model validation, market risk, risk desk), each a figure rounded for reading
with its change and a link to the page that explains it; the one list of what waits on whom; the
exact figures in tables; the one-page summary report to download. Every figure comes from
:func:`engine.reports.summary.decision_summary`; this page lays it out.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import session, state
from dashboard.components.format import USD, USD_CHANGE, metric_columns, money, pct, plain, show_error
from dashboard.shell import PAGES
from engine.credit.workflow import list_runs
from engine.errors import StressLabError
from engine.reports.summary import DecisionSummary, Tile, decision_summary

try:  # the reports are built by engine.reports.workflow; the page works without them
    from engine.reports.workflow import build_report
except ImportError:  # pragma: no cover - only while the reports are not installed
    build_report = None

#: The title of the page each tile links to (by its url_path, which is also its script's name).
PAGE_TITLES = {"stress_test": "Stress test", "ml_validation": "Model validation",
               "market_risk": "VaR and limits", "risk_desk": "Risk desk"}
#: Lines shown in a tile; the rest are in the tables below.
TILE_LINES = 4
#: The delta colour of a change by which way is good.
DELTA_COLOR = {True: "normal", False: "inverse", None: "off"}
REPORT_KEY = "home_summary_report"


def _tile(tile: Tile) -> None:
    st.markdown(f"**{plain(tile.title)}**")
    numeric = tile.change is not None and tile.change != 0
    st.metric(plain(tile.label), plain(tile.text),
              delta=plain(tile.change_text) if tile.change_text else None,
              delta_color=DELTA_COLOR[tile.higher_is_better] if numeric else "off",
              delta_arrow="auto" if numeric else "off")
    lines = [plain(line) for line in tile.lines[:TILE_LINES]]
    if len(tile.lines) > TILE_LINES:
        lines.append(f"and {len(tile.lines) - TILE_LINES:,} more in the figures below")
    if tile.as_of is not None:
        lines.append(f"{plain(tile.as_of_label)} {tile.as_of:%Y-%m-%d %H:%M} UTC")
    st.caption("  \n".join(lines))  # one block, a line each
    st.page_link(str(PAGES / f"{tile.page}.py"), label=f"Open {PAGE_TITLES[tile.page]}",
                 icon=":material/arrow_forward:")


def _pending(summary: DecisionSummary) -> None:
    st.subheader("Waiting on someone")
    if not summary.pending:
        st.success("Nothing is waiting: every latest validation is signed off, no limit breach is "
                   "open and every alert is acknowledged.", icon=":material/check_circle:")
        return
    st.caption(f"{len(summary.pending):,} items: sign-offs first, then open limit breaches, "
               "then unacknowledged alerts (most severe first). Alert times are the feed's.")
    frame = summary.pending_frame()
    frame["page"] = frame["page"].map(PAGE_TITLES)
    st.dataframe(
        frame[["who", "what", "since", "page", "item_id"]], hide_index=True, width="stretch",
        height=min(38 + 35 * len(frame), 320), key="home_pending",
        column_config={
            "who": st.column_config.TextColumn("Who must act", width=95),
            "what": st.column_config.TextColumn("What", width=350),
            "since": st.column_config.DatetimeColumn("Waiting since (UTC)",
                                                     format="YYYY-MM-DD HH:mm"),
            "page": st.column_config.TextColumn("Page", width=115),
            "item_id": st.column_config.TextColumn("Id", width=245),
        })


def _credit_figures(summary: DecisionSummary) -> None:
    if not summary.credit.pools:
        st.info("No stress run yet. Open **Stress test**, pick the Lending Club pool and a few "
                "scenarios, and press **Run stress test**.")
    else:
        st.caption("Each pool's latest run: its worst scenario and that scenario's NPV change "
                   "against base.")
        pools = pd.DataFrame([p.model_dump() for p in summary.credit.pools])
        pools["change"] = pd.to_numeric(pools["change"])  # a first run: empty, not "None"
        st.dataframe(
            pools[["pool_name", "worst_scenario_name", "npv_change", "npv_change_percent",
                   "change", "run_id"]],
            hide_index=True, width="stretch",
            column_config={
                "pool_name": "Pool", "worst_scenario_name": "Worst scenario",
                "npv_change": st.column_config.NumberColumn("NPV change (USD)",
                                                            format=USD_CHANGE),
                "npv_change_percent": st.column_config.NumberColumn("NPV change (%)",
                                                                    format="%.2f%%"),
                "change": st.column_config.NumberColumn(
                    "Change (USD)", format=USD_CHANGE,
                    help="The worst NPV change minus that of the pool's previous run"),
                "run_id": st.column_config.TextColumn("Latest run", width=245),
            })
    st.markdown("**Latest stress runs**")
    runs = list_runs(store=state.store(), limit=8)
    if runs.empty:
        return
    shown = runs[["started_at", "pool_name", "status", "worst_scenario_name", "npv_change",
                  "npv_change_percent", "run_id"]]
    st.dataframe(
        shown, hide_index=True, width="stretch",
        column_config={
            **metric_columns(shown.columns),
            "started_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm"),
            "pool_name": st.column_config.TextColumn("Pool", width=180), "status": "Status",
            "worst_scenario_name": "Worst scenario",
            "npv_change": st.column_config.NumberColumn("NPV change (USD)", format=USD_CHANGE),
            "npv_change_percent": st.column_config.NumberColumn("NPV change (%)",
                                                                format="%.2f%%"),
            "run_id": st.column_config.TextColumn("Run", width=245),
        })


def _validation_figures(summary: DecisionSummary) -> None:
    if not summary.validation.models:
        st.info("No validation stored yet. Open **Model validation** to validate a model.")
        return
    models = pd.DataFrame([m.model_dump() for m in summary.validation.models])
    st.dataframe(
        models[["decision", "model", "target", "validated_at", "signoffs", "previous_decision",
                "run_id"]],
        hide_index=True, width="stretch",
        column_config={
            # widths sum to under the 978 px main block at 1440 px (the every-page check)
            "decision": st.column_config.TextColumn("Decision", width=95),
            "model": st.column_config.TextColumn("Model", width=260),
            "target": st.column_config.TextColumn("Target", width=110),
            "validated_at": st.column_config.DatetimeColumn("Validated (UTC)", width=135,
                                                            format="YYYY-MM-DD HH:mm"),
            "signoffs": st.column_config.NumberColumn("Sign-offs", format="%d", width=75),
            "previous_decision": st.column_config.TextColumn("Previous", width=105),
            "run_id": st.column_config.TextColumn("Run", width=180),
        })


def _market_figures(summary: DecisionSummary) -> None:
    m = summary.market
    st.caption(f"Enforcement mode in force: {plain(m.mode)}")
    if m.evaluation_id is None:
        st.info("No limit evaluation yet. Open **VaR and limits** and evaluate the limits.")
        return
    var = pd.DataFrame([v.model_dump() for v in m.var])
    if not var.empty:
        var["change"] = pd.to_numeric(var["change"])  # no previous evaluation: empty, not "None"
        st.dataframe(
            var[["confidence", "var", "limit", "utilisation", "breached", "change"]],
            hide_index=True, width="stretch",
            column_config={
                "confidence": st.column_config.NumberColumn("VaR confidence", format="percent"),
                "var": st.column_config.NumberColumn("VaR (USD)", format=USD),
                "limit": st.column_config.NumberColumn("Limit (USD)", format=USD),
                "utilisation": st.column_config.NumberColumn("Utilisation", format="percent"),
                "breached": st.column_config.CheckboxColumn("Breached"),
                "change": st.column_config.NumberColumn("Change vs previous evaluation (USD)",
                                                        format=USD_CHANGE),
            })
    if m.es is not None:
        st.caption(f"ES at {pct(m.es_confidence, digits=1)}: {plain(money(m.es))} (USD). "
                   f"Evaluation {plain(m.evaluation_id)}.")
    if m.open_breaches:
        breaches = pd.DataFrame([b.model_dump() for b in m.open_breaches])
        st.dataframe(
            breaches[["rule_name", "metric", "threshold", "utilisation", "action", "breach_id"]],
            hide_index=True, width="stretch",
            column_config={
                "rule_name": "Open breach", "metric": st.column_config.NumberColumn(
                    "Value", format="%,.4g"),
                "threshold": st.column_config.NumberColumn("Limit", format="%,.4g"),
                "utilisation": st.column_config.NumberColumn("Utilisation", format="percent"),
                "action": "Action", "breach_id": "Breach",
            })


def _desk_figures(summary: DecisionSummary) -> None:
    d = summary.desk
    if d.session_id is None and not d.unacknowledged_alerts:
        st.info("No replay yet. Open **Risk desk** and start the replay.")
        return
    c1, c2 = st.columns(2)
    c1.dataframe(pd.DataFrame({"Risk level": list(d.by_risk_level),
                               "Accounts": list(d.by_risk_level.values())}),
                 hide_index=True, width="stretch")
    c2.dataframe(pd.DataFrame({"Severity": list(d.alerts_by_severity),
                               "Unacknowledged alerts": list(d.alerts_by_severity.values())}),
                 hide_index=True, width="stretch")
    st.caption(f"Halted: {plain(', '.join(d.halted) or 'none')}. "
               f"Reducing only: {plain(', '.join(d.reducing) or 'none')}.")


def _report() -> None:
    st.subheader("One-page summary report")
    if build_report is None:
        st.caption("The summary report is not part of this installation.")
        return
    if not session.refuse_unless("download"):
        return
    st.caption("The same figures as a self-contained HTML page or a PDF, with run ids, input "
               "hashes, engine version and who made it.")
    if st.button("Prepare summary report", icon=":material/description:", key="home_prepare"):
        try:
            with st.spinner("Building the report…"):
                st.session_state[REPORT_KEY] = {
                    fmt: build_report("summary", fmt=fmt, store=state.store())
                    for fmt in ("html", "pdf")}
        except StressLabError as exc:
            show_error(exc)
    reports = st.session_state.get(REPORT_KEY)
    if reports:
        with st.container(horizontal=True):
            for fmt, label in (("html", "Download HTML"), ("pdf", "Download PDF")):
                rep = reports[fmt]
                st.download_button(label, data=rep.content, file_name=rep.filename,
                                   mime=rep.media_type, on_click="ignore",
                                   icon=":material/download:", key=f"home_download_{fmt}")


st.title("StressLab")
st.caption("A stress-testing workbench: loan pools under credit scenarios, credit models under "
           "stressed inputs, a portfolio's VaR against its limits, and a live risk desk. Every "
           "run is kept, so any figure can be reopened, reproduced and downloaded.")

summary = decision_summary(store=state.store())
st.subheader("Decision summary")
st.caption(f"Read at {summary.generated_at:%Y-%m-%d %H:%M} UTC. Amounts in USD, rounded for "
           "reading; the exact figures are in the tables below.")
for col, tile in zip(st.columns(len(summary.tiles), border=True), summary.tiles, strict=True):
    with col:
        _tile(tile)

_pending(summary)
_report()

st.subheader("Figures behind the tiles")
t_credit, t_validation, t_market, t_desk = st.tabs(
    ["Credit stress", "Model validation", "Market risk", "Risk desk"])
with t_credit:
    _credit_figures(summary)
with t_validation:
    _validation_figures(summary)
with t_market:
    _market_figures(summary)
with t_desk:
    _desk_figures(summary)

st.subheader("Start a workflow")
w1, w2, w3 = st.columns(3)
w1.page_link(str(PAGES / "pools.py"), label="Pools: upload a loan tape", icon=":material/database:")
w2.page_link(str(PAGES / "scenarios.py"), label="Scenarios: build and compare",
             icon=":material/tune:")
w3.page_link(str(PAGES / "ml_handbook.py"), label="Scenario handbook for models",
             icon=":material/menu_book:")
