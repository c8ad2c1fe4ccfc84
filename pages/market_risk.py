"""VaR and limits: methods compared, backtest, stress replay, sensors, enforcement mode, breaches,
metrics and the audit trail. Builds workflow requests from the widgets and lays out the results;
computes nothing itself."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.components import market as cm
from dashboard.components.format import plain, show_error
from engine.audit import workflow as aw
from engine.errors import StressLabError
from engine.market import workflow as mw
from engine.market.enforcement import Evaluation
from engine.market.limits import MODES
from engine.market.var import METHODS

st.title("VaR and limits")
st.caption("Simple returns, loss positive. Historical VaR = the ⌈c·n⌉-th smallest loss; ES = mean "
           "of the losses at or beyond VaR. Horizon scaling by √h.")

# One slot for the message of the last action, present on every run so that the tabs below keep
# their place (and the open tab) whether or not there is a message.
flash_slot = st.empty()
flash = st.session_state.pop("mr_flash", None)
if flash:
    (flash_slot.success if flash[0] == "ok" else flash_slot.error)(plain(flash[1]))

with st.expander("Data: prices, positions and limits", expanded=False):
    up_prices = st.file_uploader("Prices CSV (a date column, one column per instrument)",
                                 type=["csv"], key="mr_up_prices")
    up_positions = st.file_uploader("Positions CSV (account, instrument, quantity or weight)",
                                    type=["csv"], key="mr_up_positions")
    up_limits = st.file_uploader("Limits YAML", type=["yaml", "yml"], key="mr_up_limits")
    notional = st.number_input("Notional for weight positions (currency)", min_value=1.0,
                               value=1_000_000.0, step=100_000.0, key="mr_notional")

try:
    files = {"prices": cm.data_file(up_prices), "positions": cm.data_file(up_positions)}
    limits_file = cm.data_file(up_limits)
    inputs = cm.cached_inputs(mw.InputsRequest.build(**files, limits=limits_file))
except StressLabError as exc:
    show_error(exc)
    st.stop()
config = inputs.limits

st.caption(f"Prices {inputs.first_date} … {inputs.last_date}, {len(inputs.instruments)} "
           f"instruments; {inputs.positions} positions.")

store = state.store()
tab_var, tab_bt, tab_stress, tab_limits, tab_breaches, tab_metrics = st.tabs(
    ["VaR and ES", "Backtest", "Stress replay", "Limits and sensors", "Breaches",
     "Metrics and audit"])


def _record(workflow, request, what: str) -> None:
    """Record ``request`` (a VaR report or a backtest) as a run; say so on the next render."""
    try:
        run = workflow(request.model_copy(update={"record": True}), store=state.store())
        st.session_state["mr_flash"] = ("ok", f"{what} recorded as run {run.run_id}: "
                                              f"{run.summary}.")
    except StressLabError as exc:
        st.session_state["mr_flash"] = ("error", str(exc))


with tab_var:
    c1, c2, c3 = st.columns(3)
    window = c1.number_input("Window (days of losses)", min_value=20, value=500, step=50,
                             key="mr_var_window")
    horizon = c2.number_input("Horizon (days, √h scaling)", min_value=1, value=1,
                              key="mr_var_horizon")
    es_conf = c3.selectbox("ES confidence", [0.975, 0.99, 0.95], key="mr_es_conf")
    try:
        var_request = mw.VaRRequest.build(**files, window=int(window), horizon=int(horizon),
                                          es_confidence=float(es_conf), notional=float(notional))
        var_run = cm.cached_var_report(var_request)
    except StressLabError as exc:
        show_error(exc)
    else:
        report = var_run.report
        st.subheader("Methods compared (currency)")
        st.dataframe(var_run.to_frame().style.format("{:,.0f}"), key="mr_var_table")
        st.caption(f"{report.observations} days to {report.as_of}; gross position value "
                   f"{report.gross_value:,.0f}; Monte Carlo: {report.n_sims:,} {report.mc_kind} "
                   f"draws, seed {report.seed}; {report.horizon_rule}.")
        buttons = st.container(horizontal=True)
        buttons.button("Record this VaR report", key="mr_record_var", on_click=_record,
                  args=(mw.var_report, var_request, "VaR report"))
        buttons.download_button("Download VaR report (JSON)", report.model_dump_json(indent=2),
                           file_name="var_report.json", mime="application/json",
                           key="mr_dl_var")

with tab_bt:
    c1, c2, c3, c4 = st.columns(4)
    series_options = [cm.PORTFOLIO, *inputs.instruments]
    series = c1.selectbox("Series", series_options, key="mr_bt_series")
    conf = c2.selectbox("Confidence", [0.99, 0.95, 0.999], key="mr_bt_conf")
    bt_window = c3.number_input("Window (days)", min_value=20, value=250, step=10,
                                key="mr_bt_window")
    method = c4.selectbox("Method", list(METHODS), key="mr_bt_method")
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
        r = run.result
        st.dataframe(pd.DataFrame([{
            "observations": r.observations, "exceptions": r.exceptions,
            "expected": r.expected_exceptions, "Kupiec POF LR": r.kupiec_lr,
            "Kupiec p-value": r.kupiec_p_value, "Christoffersen LR ind": r.christoffersen_lr_ind,
            "Christoffersen p-value": r.christoffersen_p_value,
            "Christoffersen LR cc": r.christoffersen_lr_cc,
            "cc p-value": r.christoffersen_cc_p_value, "traffic light": r.traffic_light,
            "plus-factor": r.plus_factor, "multiplier": r.multiplier}]),
            hide_index=True, key="mr_bt_table")
        st.plotly_chart(cm.backtest_chart(run), key="mr_bt_chart")
        buttons = st.container(horizontal=True)
        buttons.button("Record this backtest", key="mr_record_bt", on_click=_record,
                  args=(mw.backtest, bt_request, "Backtest"))
        buttons.download_button("Download backtest (CSV)", run.to_frame().to_csv(),
                           file_name="backtest.csv", mime="text/csv", key="mr_dl_bt")

with tab_stress:
    st.caption("Today's positions held through past windows (buy and hold).")
    c1, c2, c3 = st.columns(3)
    user_name = c1.text_input("Your window's name (optional)", key="mr_st_name")
    user_start = c2.date_input("Start", value=date(2022, 1, 3), key="mr_st_start")
    user_end = c3.date_input("End", value=date(2022, 10, 12), key="mr_st_end")
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
            st.dataframe(stress.style.format({"loss": "{:,.0f}", "loss_pct": "{:.1%}",
                                              "max_drawdown": "{:.1%}",
                                              "max_drawdown_amount": "{:,.0f}",
                                              "worst_day_loss": "{:,.0f}"}),
                         hide_index=True, key="mr_stress_table")


def _apply_mode() -> None:
    try:
        changed = mw.set_mode(mw.ModeRequest.build(
            mode=st.session_state["mr_mode"],
            reason=st.session_state.get("mr_mode_reason") or "changed on the page",
            default_mode=config.mode), store=state.store())
        st.session_state["mr_flash"] = ("ok", f"Mode set to {changed.mode} "
                                              f"(audit record {changed.audit_seq}).")
    except StressLabError as exc:
        st.session_state["mr_flash"] = ("error", str(exc))


try:
    market = mw.market_state(config=config, store=store)
except StressLabError as exc:
    show_error(exc)
    st.stop()

with tab_limits:
    st.session_state.setdefault("mr_mode", market.mode)
    c1, c2 = st.columns([2, 3])
    c2.text_input("Reason for a mode change", value="changed on the VaR and limits page",
                  key="mr_mode_reason")
    c1.radio("Enforcement mode", list(MODES), horizontal=True, key="mr_mode",
             on_change=_apply_mode,
             help="monitoring: always warn, never enforce; gradual: enforce a sensor only while "
                  "its false-positive rate is below the threshold; full: always enforce.")
    st.caption(f"Stored mode: **{market.mode}**. Gradual mode enforces a sensor while its "
               f"false-positive rate is below {config.false_positive_threshold_per_week:g} "
               "per week.")
    if st.button("Evaluate limits now", type="primary", key="mr_evaluate"):
        try:
            recorded = mw.evaluate_limits(
                mw.LimitsRequest.build(**files, limits=limits_file, notional=float(notional)),
                store=store)
        except StressLabError as exc:
            show_error(exc)
        else:
            ev = recorded.evaluation
            st.session_state["mr_last_eval"] = ev.model_dump_json()
            st.success(f"Evaluation {recorded.evaluation_id[:12]} recorded: action "
                       f"**{ev.action}** ({plain(ev.reason)}).")
            market = mw.market_state(config=config, store=store)
    last = st.session_state.get("mr_last_eval")
    if last:
        last_ev = Evaluation.model_validate_json(last)
        st.subheader(f"Latest evaluation: {last_ev.action} ({last_ev.mode} mode)")
        st.dataframe(last_ev.to_frame()[
            ["sensor", "rule", "metric", "threshold", "utilisation", "configured_action",
             "action", "enforced", "status", "reason"]], hide_index=True, key="mr_decisions",
            column_config=cm.DECISION_COLUMNS)
        st.download_button("Download evaluation (JSON)", last, file_name="evaluation.json",
                           mime="application/json", key="mr_dl_eval")
    st.subheader("Sensors")
    st.dataframe(market.sensors_frame(), hide_index=True, key="mr_sensors")
    st.subheader("Evaluations")
    st.dataframe(market.evaluations, hide_index=True, key="mr_evaluations")

with tab_breaches:
    breaches = market.breaches
    if breaches.empty:
        st.info("No breaches recorded yet: evaluate the limits on the Limits and sensors tab.")
    else:
        st.dataframe(breaches, hide_index=True, key="mr_breaches",
                     column_config=cm.DECISION_COLUMNS)
        open_ids = breaches.loc[~breaches["false_positive"], "breach_id"].tolist()
        if open_ids:
            with st.form("mr_fp_form"):
                st.markdown("**Mark a breach as a false positive**")
                bid = st.selectbox("Breach", open_ids, key="mr_fp_breach")
                why = st.text_input("Reason", key="mr_fp_reason")
                fp_conf = st.slider("Confidence that it was a false positive", 0.0, 1.0, 0.8,
                                    0.05, key="mr_fp_conf")
                if st.form_submit_button("Mark false positive"):
                    try:
                        mw.mark_false_positive(mw.FalsePositiveRequest.build(
                            breach_id=bid, reason=why, confidence=fp_conf), store=store)
                        st.session_state["mr_flash"] = ("ok", f"Breach {bid} marked as a false "
                                                              "positive.")
                        st.rerun()
                    except StressLabError as exc:
                        show_error(exc)

with tab_metrics:
    try:
        metrics = mw.market_metrics(config=config, store=store)
        audit = aw.verify_audit(store=store)
        audit_text = aw.export_audit(store=store)
    except StressLabError as exc:
        show_error(exc)
    else:
        st.subheader("Prometheus figures")
        st.dataframe(metrics.to_frame(), hide_index=True, key="mr_metrics")
        with st.expander("Exposition text (as served by `stresslab metrics serve`)"):
            st.code(metrics.exposition(), language="text")
        st.subheader("Audit trail")
        notice = st.success if audit.ok and audit.signed else st.warning if audit.ok else st.error
        notice(plain(audit.line()))
        with st.expander("Verification details (as `stresslab audit verify` prints them)",
                         expanded=not audit.ok):
            st.code(audit.to_text(), language="text")
        st.download_button("Download audit trail (JSON Lines)", audit_text,
                           file_name="audit.jsonl", mime="application/x-ndjson",
                           key="mr_dl_audit")
