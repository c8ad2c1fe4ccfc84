"""Stress test: run scenarios over a stored pool with live progress, then compare the results,
drill into loans, reopen past runs from the store and download them.

The run happens on a background thread (``dashboard.components.jobs.RunJob``) that calls the
``run_stress`` workflow, which records the run itself; this script only polls its progress.
Results are always read back from the store (``load_run``), so a fresh run and a reopened one
look the same and nothing is recomputed. **Cancel** stops the scenarios that have not started;
those already running finish, and the run is stored as ``partial`` with the cancelled scenarios
marked as errors.
"""

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.components.credit import (
    cached_run,
    cashflows_csv,
    cashflows_parquet,
    loan_level_by,
    loan_path,
    metrics_csv,
    response_json,
    results_table,
    run_cashflows,
    stress_request,
    top_loans,
)
from dashboard.components.credit_charts import (
    grade_loss_chart,
    loan_path_chart,
    loss_bar_chart,
    npv_change_chart,
    timeline_chart,
    wal_duration_chart,
)
from dashboard.components.format import metric_columns, money_short, pct, plain, show_error
from dashboard.components.jobs import finish_run, poll_run, start_run
from engine.credit.workflow import list_pools, list_runs, scenario_library
from engine.errors import StressLabError

st.title("Stress test")

store = state.store()
pools = list_pools(store=store)
library = scenario_library(store=store)
if pools.empty:
    st.info("No pool is stored: upload one on **Pools** first.")
    st.stop()

names = dict(zip(pools["pool_id"], pools["pool_name"], strict=True))
cutoffs = dict(zip(pools["pool_id"], pools["cutoff_date"], strict=True))
LOAN_LEVEL_LIMIT = 100_000


def _pool_defaults() -> None:
    """When the pool changes: its cutoff date becomes the analysis date; loan-level on if small."""
    pid = st.session_state.get("stress_pool")
    cutoff = cutoffs.get(pid)
    st.session_state["stress_date"] = cutoff if isinstance(cutoff, date) and not pd.isna(cutoff) \
        else date.today()
    n = int(pools.loc[pools["pool_id"] == pid, "n_assets"].iloc[0]) if pid in names else 0
    st.session_state["stress_loan_level"] = n <= LOAN_LEVEL_LIMIT


if st.session_state.get("stress_pool") not in names:
    st.session_state["stress_pool"] = pools["pool_id"].iloc[0]
    _pool_defaults()
st.session_state.setdefault("stress_scenarios", [k for k in ("rate_shock_up", "credit_crisis",
                                                             "fed_2025_severely_adverse")
                                                 if k in library])
st.session_state["stress_scenarios"] = [k for k in st.session_state["stress_scenarios"]
                                        if k in library]

job = st.session_state.get("stress_job")
running = job is not None and job.running

# --------------------------------------------------------------------------- inputs
with st.container(border=True):
    c1, c2 = st.columns([1, 2])
    pool_id = c1.selectbox("Pool", list(names), format_func=lambda k: names[k], key="stress_pool",
                           on_change=_pool_defaults)
    chosen = c2.multiselect(
        "Scenarios (the base case always runs)", [k for k in library if k != "base"],
        format_func=lambda k: library[k].name, key="stress_scenarios")
    c3, c4, c5, c6 = st.columns(4)
    discount = c3.number_input("Discount rate (annual, %)", min_value=-5.0, max_value=100.0,
                               value=5.0, step=0.25, format="%.2f", key="stress_discount",
                               help="Monthly compounded; each scenario adds its rate shock and "
                                    "spread widening to it.")
    analysis_date = c4.date_input("Analysis date", key="stress_date")
    periods = c5.number_input("Projection periods (months; 0 = to the longest remaining term)",
                              min_value=0, max_value=600, value=0, step=12, key="stress_periods")
    loan_level = c6.checkbox("Keep loan-level results", key="stress_loan_level",
                             help="Needed for the loan drill-down; stores one row per loan and "
                                  "scenario, so it is off by default above "
                                  f"{LOAN_LEVEL_LIMIT:,} loans.")
    run_clicked = st.button("Run stress test", type="primary", key="stress_run", disabled=running)

if run_clicked and not running:
    try:
        request = stress_request(
            pool_id=pool_id, scenario_names=list(dict.fromkeys(["base", *chosen])),
            discount_rate=float(discount) / 100.0, analysis_date=analysis_date,
            projection_periods=int(periods) or None, include_loan_level=loan_level)
        job = start_run(request)
    except StressLabError as exc:
        show_error(exc)
        job = None
    else:
        st.session_state["stress_job"] = job

# --------------------------------------------------------------------------- live progress
if job is not None:
    st.button("Cancel run", key="stress_cancel", on_click=job.cancel.set,
              help="Scenarios not yet started are cancelled; running ones finish.")
    with st.status(f"Running {job.n_total} scenarios on {plain(names.get(pool_id, pool_id))} …",
                   expanded=True) as status:
        bar = st.progress(len(job.done) / job.n_total,
                          text=f"{len(job.done)} of {job.n_total} scenarios done")
        for _key, name, outcome in job.done:  # after a rerun (e.g. Cancel), show what is done
            st.write(f"{'✅' if outcome == 'success' else '⚠️'} {plain(name)}")

        def on_event(key: str, name: str, outcome: str, n_done: int, n_total: int) -> None:
            bar.progress(n_done / n_total, text=f"{n_done} of {n_total} scenarios done")
            st.write(f"{'✅' if outcome == 'success' else '⚠️'} {plain(name)}")

        elapsed = st.empty()
        poll_run(job, on_event, on_tick=lambda s: elapsed.caption(f"{s:.1f} s elapsed"))
        st.session_state.pop("stress_job", None)
        try:
            run_id = finish_run(job)
        except StressLabError as exc:
            status.update(label="The stress run failed", state="error", expanded=True)
            show_error(exc)
        else:
            cancelled = job.cancel.is_set()
            status.update(label=("Run cancelled: finished scenarios were stored" if cancelled
                                 else f"Done: {job.n_total} scenarios stored as {run_id}"),
                          state="error" if cancelled else "complete", expanded=False)
            st.session_state["stress_open_run"] = run_id

# --------------------------------------------------------------------------- runs and results
runs = list_runs(store=store, limit=200)
runs = runs[runs["n_scenarios"].fillna(0) > 0]
if runs.empty:
    st.info("No stored run yet: choose scenarios above and press **Run stress test**.")
    st.stop()

run_ids = runs["run_id"].tolist()
if st.session_state.get("stress_open_run") not in run_ids:
    st.session_state["stress_open_run"] = run_ids[0]
run_label = {r.run_id: f"{r.started_at:%Y-%m-%d %H:%M:%S} · {r.pool_name} · {int(r.n_scenarios)} "
             f"scenarios · {r.status}" for r in runs.itertuples()}
st.subheader("Results")
run_id = st.selectbox("Run (newest first; reopened from the store, not recomputed)", run_ids,
                      format_func=run_label.get, key="stress_open_run")
try:
    result = cached_run(run_id).result
    table = results_table(run_id)
except StressLabError as exc:
    show_error(exc)
    st.stop()

base = table[table["scenario"] == "base"]
worst = table[table["scenario"] != "base"].sort_values("npv_change").head(1)
h = st.columns(5)
h[0].metric("Loans", f"{result.n_assets:,}")
h[1].metric("Base NPV", money_short(base["npv"].iloc[0]) if len(base) else "–")
h[2].metric("Worst NPV change", pct(worst["npv_change_percent"].iloc[0], decimal=False, signed=True)
            if len(worst) else "–", help=plain(worst["name"].iloc[0]) if len(worst) else None)
h[3].metric("Discount rate", pct(result.discount_rate))
h[4].metric("Horizon (months)", f"{result.projection_periods}")
st.caption(f"Pool **{plain(result.pool_name)}** · run `{run_id}` · analysis date {result.analysis_date} · engine "
           f"{result.engine_version} · {result.execution_time_total:.2f} s")
failed = table[table["status"] != "success"]
for r in failed.itertuples():
    st.warning(f"{plain(r.name)}: {plain(result.scenarios[r.scenario].error)}")

st.plotly_chart(npv_change_chart(table), key="stress_npv_chart")

shown = table[["name", "status", "npv", "npv_change", "npv_change_percent", "total_loss",
               "total_loss_change", "loss_percent", "weighted_average_life",
               "weighted_average_life_change", "duration", "duration_change", "irr"]]
st.dataframe(shown, hide_index=True, width="stretch",
             column_config={"name": "Scenario", "status": "Status",
                            **metric_columns(shown.columns)})

d1, d2, d3, d4 = st.columns([1, 1, 1, 1])
stem = f"stresslab_{run_id}"
d1.download_button("Response JSON", data=response_json(run_id), file_name=f"{stem}.json",
                   mime="application/json", key="stress_dl_json", icon=":material/download:")
d2.download_button("Metrics CSV", data=metrics_csv(run_id), file_name=f"{stem}_metrics.csv",
                   mime="text/csv", key="stress_dl_metrics", icon=":material/download:")
cf_format = d4.radio("Cashflows as", ["CSV", "Parquet"], horizontal=True, key="stress_cf_format")
if cf_format == "CSV":
    d3.download_button("Cashflows CSV", data=cashflows_csv(run_id),
                       file_name=f"{stem}_cashflows.csv", mime="text/csv", key="stress_dl_cf",
                       icon=":material/download:")
else:
    d3.download_button("Cashflows Parquet", data=cashflows_parquet(run_id),
                       file_name=f"{stem}_cashflows.parquet",
                       mime="application/vnd.apache.parquet", key="stress_dl_cf",
                       icon=":material/download:")

names_by_key = {k: r.scenario.name for k, r in result.scenarios.items()}
cashflows = run_cashflows(run_id)
ok = table[table["status"] == "success"]
# Lazy tabs: only the open tab runs, so a run shows one timeline chart, not all of them.
t_bal, t_cf, t_loss, t_wal, t_drill = st.tabs(
    ["Balance", "Cashflows", "Losses", "WAL and duration", "Loan drill-down"],
    key="stress_tab", on_change="rerun")
if t_bal.open:
    with t_bal:
        st.plotly_chart(timeline_chart(cashflows, names_by_key, column="ending_balance",
                                       title="Pool balance by month", y="Balance (USD)"),
                        key="stress_balance_chart")
if t_cf.open:
    with t_cf:
        st.plotly_chart(timeline_chart(cashflows, names_by_key, column="total_cashflow",
                                       title="Cash received by month (principal, interest, "
                                             "recoveries)", y="Cashflow per month (USD)"),
                        key="stress_cashflow_chart")
if t_loss.open:
    with t_loss:
        l1, l2 = st.columns(2)
        l1.plotly_chart(loss_bar_chart(ok), key="stress_loss_bar")
        l2.plotly_chart(timeline_chart(cashflows, names_by_key, column="cumulative_loss",
                                       title="Cumulative credit loss", y="Cumulative loss (USD)"),
                        key="stress_loss_chart")
if t_wal.open:
    with t_wal:
        st.plotly_chart(wal_duration_chart(ok), key="stress_wal_chart")
if t_drill.open:
    with t_drill:
        with_loans = [k for k, r in result.scenarios.items() if r.loan_level is not None]
        if not with_loans:
            st.info("This run kept no loan-level results: tick **Keep loan-level results** and run "
                    "again to drill into loans.")
        else:
            g1, g2 = st.columns(2)
            drill = g1.selectbox("Scenario", with_loans, format_func=names_by_key.get,
                                 key="stress_drill_scenario")
            by = g2.radio("Group loans by", ["grade", "asset_class"], horizontal=True,
                          key="stress_drill_by", format_func=lambda s: s.replace("_", " "))
            loans = result.scenarios[drill].loan_level
            grouped = loan_level_by(loans, by)
            a1, a2 = st.columns([1, 1])
            a1.plotly_chart(grade_loss_chart(grouped, by), key="stress_drill_chart")
            a2.dataframe(grouped, hide_index=True, width="stretch",
                         column_config={**metric_columns(grouped.columns),
                                        "starting_balance": st.column_config.NumberColumn(
                                            "Starting balance (USD)", format="$%,.0f")})
            largest = top_loans(loans, by="total_loss", n=20)
            st.markdown("**The 20 loans with the largest expected loss**")
            st.dataframe(largest, hide_index=True, width="stretch",
                         column_config={**metric_columns(largest.columns),
                                        "cumulative_default_probability": st.column_config.NumberColumn(
                                            "Cumulative default probability", format="percent")})
            loan_id = st.selectbox("Monthly path of one loan", largest["asset_id"].tolist(),
                                   key="stress_drill_loan")
            try:
                path = loan_path(run_id, loan_id, drill)
            except StressLabError as exc:
                st.info("The loan's monthly path needs its pool, which is no longer stored "
                        f"({plain(exc)}).")
            else:
                st.plotly_chart(loan_path_chart(path, loan_id), key="stress_path_chart")
