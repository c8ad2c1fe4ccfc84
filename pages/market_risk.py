"""VaR and limits: methods compared, backtest, stress replay, sensors, enforcement mode, breaches,
metrics and the audit trail. Lays out engine results; computes nothing itself."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import streamlit as st

from dashboard.components import market as cm
from dashboard.state import cursor
from engine.audit.chain import export_jsonl, verify
from engine.errors import StressLabError
from engine.market.enforcement import evaluate
from engine.market.limits import MODES
from engine.market.metrics import exposition, metric_samples
from engine.market.records import (
    breaches_frame,
    current_mode,
    evaluations_frame,
    record_evaluation,
    record_false_positive,
    sensor_statuses,
    set_mode,
    utc_now,
)
from engine.market.var import METHODS

st.title("VaR and limits")
st.caption("Simple returns, loss positive. Historical VaR = the ⌈c·n⌉-th smallest loss; ES = mean "
           "of the losses at or beyond VaR. Horizon scaling by √h.")

flash = st.session_state.pop("mr_flash", None)
if flash:
    (st.success if flash[0] == "ok" else st.error)(flash[1])

with st.expander("Data: prices, positions and limits", expanded=False):
    up_prices = st.file_uploader("Prices CSV (a date column, one column per instrument)",
                                 type=["csv"], key="mr_up_prices")
    up_positions = st.file_uploader("Positions CSV (account, instrument, quantity or weight)",
                                    type=["csv"], key="mr_up_positions")
    up_limits = st.file_uploader("Limits YAML", type=["yaml", "yml"], key="mr_up_limits")
    notional = st.number_input("Notional for weight positions (currency)", min_value=1.0,
                               value=1_000_000.0, step=100_000.0, key="mr_notional")

try:
    prices = cm.cached_prices(up_prices.getvalue() if up_prices else None,
                              up_prices.name if up_prices else None)
    positions = cm.cached_positions(up_positions.getvalue() if up_positions else None,
                                    up_positions.name if up_positions else None,
                                    tuple(map(str, prices.columns)))
    config = cm.cached_limits(up_limits.getvalue() if up_limits else None,
                              up_limits.name if up_limits else None)
except StressLabError as exc:
    st.error(str(exc))
    st.stop()

st.caption(f"Prices {prices.index[0].date()} … {prices.index[-1].date()}, "
           f"{prices.shape[1]} instruments; {len(positions)} positions.")

con = cursor()
tab_var, tab_bt, tab_stress, tab_limits, tab_breaches, tab_metrics = st.tabs(
    ["VaR and ES", "Backtest", "Stress replay", "Limits and sensors", "Breaches",
     "Metrics and audit"])

with tab_var:
    c1, c2, c3 = st.columns(3)
    window = c1.number_input("Window (days of losses)", min_value=20, value=500, step=50,
                             key="mr_var_window")
    horizon = c2.number_input("Horizon (days, √h scaling)", min_value=1, value=1,
                              key="mr_var_horizon")
    es_conf = c3.selectbox("ES confidence", [0.975, 0.99, 0.95], key="mr_es_conf")
    try:
        report = cm.cached_var_report(prices, positions, window=int(window), horizon=int(horizon),
                                      es_confidence=float(es_conf), notional=float(notional))
    except StressLabError as exc:
        st.error(str(exc))
    else:
        st.subheader("Methods compared (currency)")
        st.dataframe(report.to_frame().style.format("{:,.0f}"), key="mr_var_table")
        st.caption(f"{report.observations} days to {report.as_of}; gross position value "
                   f"{report.gross_value:,.0f}; Monte Carlo: {report.n_sims:,} {report.mc_kind} "
                   f"draws, seed {report.seed}; {report.horizon_rule}.")
        st.download_button("Download VaR report (JSON)", report.model_dump_json(indent=2),
                           file_name="var_report.json", mime="application/json",
                           key="mr_dl_var")

with tab_bt:
    c1, c2, c3, c4 = st.columns(4)
    series_options = [cm.PORTFOLIO, *map(str, prices.columns)]
    series = c1.selectbox("Series", series_options, key="mr_bt_series")
    conf = c2.selectbox("Confidence", [0.99, 0.95, 0.999], key="mr_bt_conf")
    bt_window = c3.number_input("Window (days)", min_value=20, value=250, step=10,
                                key="mr_bt_window")
    method = c4.selectbox("Method", list(METHODS), key="mr_bt_method")
    d1, d2 = st.columns(2)
    lo, hi = prices.index[0].date(), prices.index[-1].date()
    default_start = max(lo, date(2018, 1, 1)) if hi > date(2018, 1, 1) else lo
    start = d1.date_input("Backtest from", value=default_start, min_value=lo, max_value=hi,
                          key="mr_bt_start")
    end = d2.date_input("to", value=hi, min_value=lo, max_value=hi, key="mr_bt_end")
    try:
        run = cm.cached_backtest(prices, positions, series=series, confidence=float(conf),
                                 window=int(bt_window), method=method, start=str(start),
                                 end=str(end), notional=float(notional))
    except StressLabError as exc:
        st.error(str(exc))
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
        unit = "currency" if series == cm.PORTFOLIO else "fraction of value"
        st.plotly_chart(cm.backtest_chart(run, unit=unit), key="mr_bt_chart")
        st.download_button("Download backtest (CSV)", run.series.to_csv(),
                           file_name="backtest.csv", mime="text/csv", key="mr_dl_bt")

with tab_stress:
    st.caption("Today's positions held through past windows (buy and hold).")
    c1, c2, c3 = st.columns(3)
    user_name = c1.text_input("Your window's name (optional)", key="mr_st_name")
    user_start = c2.date_input("Start", value=date(2022, 1, 3), key="mr_st_start")
    user_end = c3.date_input("End", value=date(2022, 10, 12), key="mr_st_end")
    windows = ((user_name.strip(), str(user_start), str(user_end)),) if user_name.strip() else ()
    try:
        stress = cm.cached_stress(prices, positions, windows, float(notional))
    except (StressLabError, ValueError) as exc:
        st.error(str(exc))
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
        seq = set_mode(cursor(), mode=st.session_state["mr_mode"],
                       reason=st.session_state.get("mr_mode_reason") or "changed on the page",
                       timestamp=utc_now(), default=config.mode)
        st.session_state["mr_flash"] = ("ok", f"Mode set to {st.session_state['mr_mode']} "
                                              f"(audit record {seq}).")
    except StressLabError as exc:
        st.session_state["mr_flash"] = ("error", str(exc))


with tab_limits:
    stored_mode = current_mode(con, default=config.mode)
    st.session_state.setdefault("mr_mode", stored_mode)
    c1, c2 = st.columns([2, 3])
    c2.text_input("Reason for a mode change", value="changed on the VaR and limits page",
                  key="mr_mode_reason")
    c1.radio("Enforcement mode", list(MODES), horizontal=True, key="mr_mode",
             on_change=_apply_mode,
             help="monitoring: always warn, never enforce; gradual: enforce a sensor only while "
                  "its false-positive rate is below the threshold; full: always enforce.")
    st.caption(f"Stored mode: **{stored_mode}**. Gradual mode enforces a sensor while its "
               f"false-positive rate is below {config.false_positive_threshold_per_week:g} "
               "per week.")
    if st.button("Evaluate limits now", type="primary", key="mr_evaluate"):
        try:
            snap = cm.cached_snapshot(prices, positions, config, float(notional))
            now = utc_now()
            statuses = {s.sensor: s.status for s in sensor_statuses(con, config, as_of=now)}
            ev = evaluate(snap, config, mode=current_mode(con, default=config.mode),
                          statuses=statuses)
            eval_id = record_evaluation(con, ev, snap, timestamp=now)
            st.session_state["mr_last_eval"] = ev.model_dump_json()
            st.success(f"Evaluation {eval_id[:12]} recorded: action **{ev.action}** "
                       f"({ev.reason}).")
        except StressLabError as exc:
            st.error(str(exc))
    last = st.session_state.get("mr_last_eval")
    if last:
        ev_data = json.loads(last)
        st.subheader(f"Latest evaluation: {ev_data['action']} ({ev_data['mode']} mode)")
        st.dataframe(pd.DataFrame(ev_data["decisions"])[
            ["sensor", "rule", "metric", "threshold", "utilisation", "configured_action",
             "action", "enforced", "status", "reason"]], hide_index=True, key="mr_decisions",
            column_config=cm.DECISION_COLUMNS)
        st.download_button("Download evaluation (JSON)", last, file_name="evaluation.json",
                           mime="application/json", key="mr_dl_eval")
    st.subheader("Sensors")
    statuses_now = sensor_statuses(con, config, as_of=utc_now())
    st.dataframe(cm.sensors_frame(statuses_now), hide_index=True, key="mr_sensors")
    st.subheader("Evaluations")
    st.dataframe(evaluations_frame(con), hide_index=True, key="mr_evaluations")

with tab_breaches:
    breaches = breaches_frame(con)
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
                        record_false_positive(con, breach_id=bid, reason=why,
                                              confidence=fp_conf, timestamp=utc_now())
                        st.session_state["mr_flash"] = ("ok", f"Breach {bid} marked as a false "
                                                              "positive.")
                        st.rerun()
                    except StressLabError as exc:
                        st.error(str(exc))

with tab_metrics:
    now = utc_now()
    samples = metric_samples(con, config, as_of=now)
    st.subheader("Prometheus figures")
    st.dataframe(pd.DataFrame([{"metric": s.name, "labels": ", ".join(
        f"{k}={v}" for k, v in s.labels.items()), "value": s.value} for s in samples]),
        hide_index=True, key="mr_metrics")
    with st.expander("Exposition text (as served by `stresslab metrics serve`)"):
        st.code(exposition(con, config, as_of=now), language="text")
    st.subheader("Audit trail")
    bad = verify(con)
    n = con.execute("SELECT count(*) FROM audit_chain").fetchone()[0]
    if bad is None:
        st.success(f"Audit chain intact: {n} records.")
    else:
        st.error(f"Audit chain broken: first bad record is seq {bad}.")
    st.download_button("Download audit trail (JSON Lines)", export_jsonl(con),
                       file_name="audit.jsonl", mime="application/x-ndjson", key="mr_dl_audit")
