"""VaR and limits: methods compared, backtest, stress replay, sensors, enforcement mode, breaches,
metrics and the audit trail. Builds workflow requests from the widgets and lays out the results;
computes nothing itself.

The sections are a keyed ``st.tabs`` (``mr_section``): the open one survives every rerun, so an
action keeps the user where they were. Each action's confirmation stays at the top of its
section until the next action there. Recording needs the role of ``run_market``, marking a false
positive ``mark_false_positive``, changing the limits or the mode ``set_limits``
(:mod:`dashboard.session`); the name recorded is the signed-in user's.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import streamlit as st

from dashboard import session, state
from dashboard.components import market as cm
from dashboard.components.format import money, plain, show_error
from engine.audit import workflow as aw
from engine.display import term
from engine.errors import StressLabError
from engine.market import workflow as mw
from engine.market.enforcement import Evaluation
from engine.market.limits import MODES
from engine.market.var import METHODS

st.title("VaR and limits")
st.caption("Simple returns, loss positive, amounts in USD. Historical VaR = the ⌈c·n⌉-th "
           "smallest loss; ES = mean of the losses at or beyond VaR. Horizon scaling by √h.")


def _say(section: str, kind: str, text: str) -> None:
    """Keep ``text`` as the last word of ``section`` until its next action ("ok" or "error")."""
    st.session_state.setdefault("mr_said", {})[section] = (kind, text)


def _said(section: str) -> None:
    """Show the last word of ``section``, if any (it lasts across reruns)."""
    said = st.session_state.get("mr_said", {}).get(section)
    if said:
        kind, text = said
        (st.success if kind == "ok" else st.error)(plain(text))


with st.expander("Data: prices, positions and limits", expanded=False):
    up_prices = st.file_uploader("Prices CSV (a date column, one column per instrument)",
                                 type=["csv"], key="mr_up_prices")
    up_positions = st.file_uploader("Positions CSV (account, instrument, quantity or weight)",
                                    type=["csv"], key="mr_up_positions")
    if session.allowed("set_limits"):
        up_limits = st.file_uploader("Limits YAML", type=["yaml", "yml"], key="mr_up_limits")
    else:
        up_limits = None
        st.caption("The shipped limits apply; changing them needs the admin role.")
    notional = st.number_input("Notional for weight positions (USD)", min_value=1.0,
                               value=1_000_000.0, step=100_000.0, key="mr_notional")

try:
    files = {"prices": cm.data_file(up_prices), "positions": cm.data_file(up_positions)}
    limits_file = cm.data_file(up_limits)
    inputs = cm.cached_inputs(mw.InputsRequest.build(**files, limits=limits_file))
except StressLabError as exc:
    show_error(exc)
    st.stop()
config = inputs.limits
who = session.current()

st.caption(f"Prices {inputs.first_date} … {inputs.last_date}, {len(inputs.instruments)} "
           f"instruments; {inputs.positions} positions.")

store = state.store()
tab_var, tab_bt, tab_stress, tab_limits, tab_breaches, tab_metrics = st.tabs(
    cm.SECTIONS, key="mr_section", on_change="rerun")


def _record(workflow, request, what: str, section: str) -> None:
    """Record ``request`` (a VaR report or a backtest) as a run, asked by the signed-in user."""
    if not session.allowed("run_market"):  # the button is not shown; a stale click stores nothing
        return
    who = session.current()
    try:
        run = workflow(request.model_copy(update={"record": True, "requested_by": who.user}),
                       store=state.store())
        _say(section, "ok", f"{what} recorded as run {run.run_id} by {who.user}: {run.summary}.")
    except StressLabError as exc:
        _say(section, "error", str(exc))


with tab_var:
    _said("VaR and ES")
    c1, c2, c3 = st.columns(3)
    window = c1.number_input("Window (days of losses)", min_value=20, value=500, step=50,
                             key="mr_var_window")
    horizon = c2.number_input("Horizon (days, √h scaling)", min_value=1, value=1,
                              key="mr_var_horizon")
    es_conf = c3.selectbox("ES confidence", [0.975, 0.99, 0.95], key="mr_es_conf",
                           format_func=lambda c: f"{c * 100:g}%", help=term("es").help)
    try:
        var_request = mw.VaRRequest.build(**files, window=int(window), horizon=int(horizon),
                                          es_confidence=float(es_conf), notional=float(notional))
        var_run = cm.cached_var_report(var_request)
    except StressLabError as exc:
        show_error(exc)
    else:
        report = var_run.report
        st.subheader("Methods compared (USD)", help=cm.help_text("var", "es"))
        table, columns = cm.var_view(var_run)
        st.dataframe(table, hide_index=True, column_config=columns, key="mr_var_table")
        with st.expander("What the methods mean"):
            st.markdown(cm.help_text(*METHODS))
        st.caption(f"{report.observations:,} days to {report.as_of}; gross position value "
                   f"{money(report.gross_value)} (USD); Monte Carlo: {report.n_sims:,} "
                   f"{report.mc_kind} draws, seed {report.seed}; {report.horizon_rule}.")
        buttons = st.container(horizontal=True)
        if session.allowed("run_market"):
            buttons.button("Record this VaR report", key="mr_record_var", on_click=_record,
                           args=(mw.var_report, var_request, "VaR report", "VaR and ES"))
        buttons.download_button("Download VaR report (JSON)", report.model_dump_json(indent=2),
                                file_name="var_report.json", mime="application/json",
                                key="mr_dl_var", on_click="ignore")
        session.refuse_unless("run_market")

with tab_bt:
    _said("Backtest")
    c1, c2, c3, c4 = st.columns(4)
    series_options = [cm.PORTFOLIO, *inputs.instruments]
    series = c1.selectbox("Series", series_options, key="mr_bt_series")
    conf = c2.selectbox("Confidence", [0.99, 0.95, 0.999], key="mr_bt_conf",
                        format_func=lambda c: f"{c * 100:g}%")
    bt_window = c3.number_input("Window (days)", min_value=20, value=250, step=10,
                                key="mr_bt_window")
    method = c4.selectbox("Method", list(METHODS), key="mr_bt_method",
                          format_func=cm.method_label, help=cm.help_text(*METHODS))
    d1, d2 = st.columns(2)
    lo, hi = inputs.first_date, inputs.last_date
    default_start = max(lo, date(2018, 1, 1)) if hi > date(2018, 1, 1) else lo
    start = d1.date_input("Backtest from", value=default_start, min_value=lo, max_value=hi,
                          key="mr_bt_start")
    end = d2.date_input("to", value=hi, min_value=lo, max_value=hi, key="mr_bt_end")
    source = ({"portfolio": True, "positions": files["positions"]} if series == cm.PORTFOLIO
              else {"column": series})
    try:
        bt_request = mw.BacktestRequest.build(
            prices=files["prices"], **source, confidence=float(conf), window=int(bt_window),
            method=method, start=start, end=end, notional=float(notional))
        run = cm.cached_backtest(bt_request)
    except StressLabError as exc:
        show_error(exc)
    else:
        figures = st.container(horizontal=True)
        for name, value, why in cm.backtest_figures(run):
            figures.metric(name, value, help=why, width="content")
        st.caption(f"Loss against VaR, {run.result.start} to {run.result.end}: exceptions "
                   "marked with red crosses.")
        st.plotly_chart(cm.backtest_chart(run), key="mr_bt_chart")
        with st.expander("Every statistic of the backtest"):
            st.dataframe(cm.backtest_details(run), hide_index=True, key="mr_bt_table")
        buttons = st.container(horizontal=True)
        if session.allowed("run_market"):
            buttons.button("Record this backtest", key="mr_record_bt", on_click=_record,
                           args=(mw.backtest, bt_request, "Backtest", "Backtest"))
        buttons.download_button("Download backtest (CSV)", run.to_frame().to_csv(),
                                file_name="backtest.csv", mime="text/csv", key="mr_dl_bt",
                                on_click="ignore")
        session.refuse_unless("run_market")

with tab_stress:
    st.caption("Today's positions held through past windows (buy and hold).")
    c1, c2, c3 = st.columns(3)
    user_name = c1.text_input("Name of an extra window (optional)", key="mr_st_name",
                              help="Name a window of your own to replay it with the shipped "
                                   "ones; leave empty to replay only those.")
    # Any window inside the price history (the picker's own default is ±10 years of today).
    first, last = inputs.first_date, inputs.last_date
    user_start = c2.date_input("Start", value=min(max(date(2022, 1, 3), first), last),
                               min_value=first, max_value=last, key="mr_st_start")
    user_end = c3.date_input("End", value=min(max(date(2022, 10, 12), first), last),
                             min_value=first, max_value=last, key="mr_st_end")
    windows = ([{"name": user_name.strip(), "start": str(user_start), "end": str(user_end)}]
               if user_name.strip() else [])
    try:
        stress = cm.cached_stress(mw.StressRequest.build(**files, notional=float(notional),
                                                         windows=windows)).to_frame()
    except StressLabError as exc:
        show_error(exc)
    else:
        if stress.empty:
            st.info("No stress window overlaps the price history.")
        else:
            table, columns = cm.stress_view(stress)
            st.dataframe(table, hide_index=True, column_config=columns, key="mr_stress_table")


def _apply_mode() -> None:
    if not session.allowed("set_limits"):
        return
    who = session.current()
    try:
        changed = mw.set_mode(mw.ModeRequest.build(
            mode=st.session_state["mr_mode"],
            reason=st.session_state.get("mr_mode_reason") or "changed on the page",
            default_mode=config.mode, requested_by=who.user), store=state.store())
        _say("Limits and sensors", "ok", f"Mode set to {changed.mode} by {who.user} "
                                         f"(audit record {changed.audit_seq}).")
    except StressLabError as exc:
        _say("Limits and sensors", "error", str(exc))


def _evaluate() -> None:
    if not session.allowed("run_market"):
        return
    who = session.current()
    try:
        recorded = mw.evaluate_limits(mw.LimitsRequest.build(
            **files, limits=limits_file, notional=float(notional), requested_by=who.user),
            store=state.store())
    except StressLabError as exc:
        _say("Limits and sensors", "error", str(exc))
    else:
        ev = recorded.evaluation
        st.session_state["mr_last_eval"] = ev.model_dump_json()
        st.session_state["mr_report_eval"] = recorded.evaluation_id
        _say("Limits and sensors", "ok",
             f"Evaluation {recorded.evaluation_id[:12]} recorded by {who.user}: action "
             f"{ev.action} ({ev.reason}).")


try:
    market = mw.market_state(config=config, store=store)
except StressLabError as exc:
    show_error(exc)
    st.stop()

with tab_limits:
    _said("Limits and sensors")
    if session.allowed("set_limits"):
        st.session_state.setdefault("mr_mode", market.mode)
        c1, c2 = st.columns([2, 3])
        c2.text_input("Reason for a mode change", value="changed on the VaR and limits page",
                      key="mr_mode_reason")
        c1.radio("Enforcement mode", list(MODES), horizontal=True, key="mr_mode",
                 on_change=_apply_mode,
                 help="monitoring: always warn, never enforce; gradual: enforce a sensor only "
                      "while its false-positive rate is below the threshold; full: always "
                      "enforce.")
    st.caption(f"Stored mode: **{market.mode}**. Gradual mode enforces a sensor while its "
               f"false-positive rate is below {config.false_positive_threshold_per_week:g} "
               "per week.")
    session.refuse_unless("set_limits")
    if session.allowed("run_market"):
        st.button("Evaluate limits now", type="primary", key="mr_evaluate", on_click=_evaluate)
    else:
        session.refuse_unless("run_market")
    last = st.session_state.get("mr_last_eval")
    if last:
        last_ev = Evaluation.model_validate_json(last)
        st.subheader(f"Latest evaluation: {last_ev.action} ({last_ev.mode} mode)")
        table, columns = cm.decisions_view(last_ev.to_frame())
        st.dataframe(table, hide_index=True, key="mr_decisions", column_config=columns)
        st.download_button("Download evaluation (JSON)", last, file_name="evaluation.json",
                           mime="application/json", key="mr_dl_eval", on_click="ignore")
    st.subheader("Sensors")
    table, columns = cm.sensors_view(market.sensors_frame())
    st.dataframe(table, hide_index=True, key="mr_sensors", column_config=columns)
    st.subheader("Evaluations")
    if market.evaluations.empty:
        st.caption("No evaluation stored yet.")
    else:
        table, columns = cm.evaluations_view(market.evaluations)
        st.dataframe(table, hide_index=True, key="mr_evaluations", column_config=columns)
        if cm.reports_available():
            ids = market.evaluations["evaluation_id"].tolist()
            at = dict(zip(ids, market.evaluations["evaluated_at"], strict=True))
            if st.session_state.get("mr_report_eval") not in ids:
                st.session_state["mr_report_eval"] = ids[0]
            r1, r2 = st.columns([2, 3], vertical_alignment="bottom")
            chosen = r1.selectbox("Report of the evaluation", ids, key="mr_report_eval",
                                  format_func=lambda i: f"{at[i]:%Y-%m-%d %H:%M:%S} UTC · "
                                                        f"{i[:12]}")
            prepared = st.session_state.get("mr_reports")
            if prepared is None or prepared[0] != chosen:
                if r2.button("Prepare report (HTML and PDF)", key="mr_prepare_report",
                             icon=":material/description:"):
                    with st.spinner("Building the report…"):
                        try:
                            st.session_state["mr_reports"] = (
                                chosen, cm.prepare_limits_reports(chosen, store=store))
                        except StressLabError as exc:
                            show_error(exc)
                    prepared = st.session_state.get("mr_reports")
            if prepared is not None and prepared[0] == chosen:
                downloads = r2.container(horizontal=True)
                for fmt, rep in prepared[1].items():
                    downloads.download_button(
                        f"Download report ({fmt.upper()})", rep.content, file_name=rep.filename,
                        mime=rep.media_type, key=f"mr_dl_report_{fmt}", on_click="ignore",
                        icon=":material/download:")

with tab_breaches:
    _said("Breaches")
    breaches = market.breaches
    if breaches.empty:
        st.info("No breaches recorded yet: evaluate the limits on the Limits and sensors tab.")
    else:
        table, columns = cm.breaches_view(breaches)
        st.dataframe(table, hide_index=True, key="mr_breaches", column_config=columns)
        open_ids = breaches.loc[~breaches["false_positive"], "breach_id"].tolist()
        if open_ids and session.refuse_unless("mark_false_positive"):
            with st.form("mr_fp_form"):
                st.markdown("**Mark a breach as a false positive**")
                names = cm.breach_label(breaches)
                bid = st.selectbox("Breach", open_ids, key="mr_fp_breach",
                                   format_func=names.get)
                why = st.text_input("Reason", key="mr_fp_reason")
                fp_conf = st.slider("Confidence that it was a false positive", 0.0, 1.0, 0.8,
                                    0.05, key="mr_fp_conf")
                st.caption(f"Recorded as marked by {plain(who.user)}.")
                if st.form_submit_button("Mark false positive"):
                    try:
                        done = mw.mark_false_positive(mw.FalsePositiveRequest.build(
                            breach_id=bid, reason=why, confidence=fp_conf,
                            requested_by=who.user), store=store)
                    except StressLabError as exc:
                        show_error(exc)
                    else:
                        _say("Breaches", "ok", f"Breach {bid} marked as a false positive by "
                                               f"{who.user} (audit record {done.audit_seq}).")
                        st.rerun()

with tab_metrics:
    if tab_metrics.open:  # only the open section reads the metrics and the trail
        try:
            metrics = mw.market_metrics(config=config, store=store)
        except StressLabError as exc:
            show_error(exc)
        else:
            st.subheader("Prometheus figures")
            st.dataframe(metrics.to_frame(), hide_index=True, key="mr_metrics")
            with st.expander("Exposition text (as served by `stresslab metrics serve`)"):
                st.code(metrics.exposition(), language="text", wrap_lines=True)
        st.subheader("Audit trail")
        if st.button("Verify the audit trail", key="mr_verify", icon=":material/verified:"):
            try:
                st.session_state["mr_audit"] = (aw.verify_audit(store=store),
                                                datetime.now(timezone.utc))
            except StressLabError as exc:
                show_error(exc)
        checked = st.session_state.get("mr_audit")
        if checked is None:
            st.caption("Verifying reads the whole trail and its signatures; press the button "
                       "to check it now.")
        else:
            audit, when = checked
            notice = (st.success if audit.ok and audit.signed else
                      st.warning if audit.ok else st.error)
            notice(plain(f"{audit.line()} (checked {when:%Y-%m-%d %H:%M:%S} UTC)"))
            with st.expander("Verification details (as `stresslab audit verify` prints them)",
                             expanded=not audit.ok):
                st.code(audit.to_text(), language="text", wrap_lines=True)
        st.download_button("Download audit trail (JSON Lines)",
                           lambda: aw.export_audit(store=state.store()),
                           file_name="audit.jsonl", mime="application/x-ndjson",
                           key="mr_dl_audit", on_click="ignore")
