"""Stress test: run scenarios over a stored pool with live progress, then compare the results,
drill into loans, reopen past runs from the store and download them (data and reports).

The run happens on a background thread (``dashboard.components.jobs.RunJob``) that calls the
``run_stress`` workflow, which records the run itself; this script only polls its progress.
Results are always read back from the store (``load_run``), so a fresh run and a reopened one
look the same and nothing is recomputed. **Cancel** stops the scenarios that have not started;
those already running finish, and the run is stored as ``partial`` with the cancelled scenarios
marked as errors.

The form shows the settings of the run shown below it: on a new session (a reload) and whenever
another run is chosen, the run's pool, scenarios, discounting (flat rate, or the Treasury curve's
date and spread), analysis date, horizon and residual valuation are put in the form. When the
user then changes the form, a note says in what it differs from the run shown, with a button to
put the run's settings back. Running needs the ``run_stress`` role; everyone may read and
download the results. Every download carries the run's provenance (run id, pool, analysis date,
discounting, horizon, engine version, units): a header block in CSV, metadata in Parquet,
``provenance`` in the JSON's base entry.
"""

from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import session, state
from dashboard.components.credit import (
    cached_curve,
    cached_run,
    cashflows_csv,
    cashflows_parquet,
    curve_bounds,
    loan_level_by,
    loan_level_csv,
    loan_level_parquet,
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
from dashboard.components.format import money_short, pct, plain, show_error
from dashboard.components.jobs import QUICK_RUN_S, finish_run, poll_run, start_run, wait_run
from dashboard.components.scenario_path import scenario_path_figure
from dashboard.components.stress import (
    DISCOUNTING,
    GROUP_COLUMNS,
    LOAN_COLUMNS,
    OPTIONAL_KEYS,
    RESIDUAL_CONVENTION,
    RESIDUAL_VALUATION,
    RESULT_COLUMNS,
    ROLL_FORWARD,
    FormSettings,
    curve_chart,
    discounting_label,
    discounting_text,
    form_differences,
    horizon_cuts,
    horizon_text,
    put_in_form,
    report_bytes,
    report_filename,
    reports_available,
    drill_columns,
    result_columns,
    settings_of_form,
    settings_of_run,
    words,
)
from engine.credit._scenarios import monthly_factors, path_months
from engine.credit.workflow import list_pools, list_runs, scenario_library
from engine.display import term
from engine.errors import StressLabError

st.title("Stress test")

store = state.store()
pools = list_pools(store=store)
library = scenario_library(store=store)
if pools.empty:
    st.info("No pool is stored: upload one on **Pools** first.")
    st.stop()

names = dict(zip(pools["pool_id"], pools["pool_name"], strict=True))
#: Each pool's cutoff date as a date (None when it has none).
cutoffs = {pid: (None if pd.isna(c) else pd.Timestamp(c).date())
           for pid, c in zip(pools["pool_id"], pools["cutoff_date"], strict=True)}
#: Loan-level results are on by default up to this many loans. Storing one row per loan and
#: scenario costs more than the run: for the 10,000-loan pool under 4 scenarios, ~0.45 s of a
#: 0.65 s run is writing and checkpointing 40,000 loan rows (benchmarks/bench_dashboard.py).
LOAN_LEVEL_LIMIT = 5_000
#: The analysis-date picker's range: historical pools from 1990 on, and dates well past today
#: (a pool rolled forward to a future date).
EARLIEST_ANALYSIS = date(1990, 1, 1)
LATEST_ANALYSIS = date(date.today().year + 30, 12, 31)
CURVE_FIRST, CURVE_LAST = curve_bounds()


def _in_curve_file(day: date) -> date:
    """``day`` moved into the Treasury file's dates (the curve-date picker's range)."""
    return min(max(day, CURVE_FIRST), CURVE_LAST)


def _stored_runs() -> dict[str, str]:
    """The stored runs that have results, newest first: run id → label for the run selector
    (a label two runs share gets the run id, so that every choice is told apart)."""
    runs = list_runs(store=store, limit=200)
    runs = runs[runs["n_scenarios"].fillna(0) > 0]
    labels = {r.run_id: f"{r.started_at:%Y-%m-%d %H:%M:%S} · {r.pool_name} · "
                        f"{int(r.n_scenarios)} scenarios · {r.status}" for r in runs.itertuples()}
    seen = pd.Series(list(labels.values())).value_counts()
    return {k: (f"{v} · {k}" if seen[v] > 1 else v) for k, v in labels.items()}


def _pool_defaults() -> None:
    """When the pool changes: its cutoff date becomes the analysis date; loan-level on if small."""
    pid = st.session_state.get("stress_pool")
    cutoff = cutoffs.get(pid)
    st.session_state["stress_date"] = cutoff if cutoff is not None else date.today()
    _curve_follows_date()
    n = int(pools.loc[pools["pool_id"] == pid, "n_assets"].iloc[0]) if pid in names else 0
    st.session_state["stress_loan_level"] = n <= LOAN_LEVEL_LIMIT


def _curve_follows_date() -> None:
    """When the analysis date changes, the curve's date follows it (within the file's dates)."""
    st.session_state["stress_curve_date"] = _in_curve_file(st.session_state["stress_date"])


def _settings_of(run_id: str | None) -> FormSettings | None:
    """The form's settings that repeat a stored run (None if it cannot be read)."""
    if run_id is None:
        return None
    try:
        return settings_of_run(cached_run(run_id), library=library)
    except StressLabError:
        return None


def _form_from_shown_run() -> None:
    """Put the settings of the run shown in the form (on a new session, when another run is
    chosen, and on "Use this run's settings")."""
    settings = _settings_of(st.session_state.get("stress_open_run"))
    if settings is not None:
        put_in_form(settings, pools=names, library=library)


job = st.session_state.get("stress_job")
running = job is not None and job.running
run_labels = _stored_runs()
run_ids = list(run_labels)
if st.session_state.get("stress_open_run") not in run_labels and run_ids:
    st.session_state["stress_open_run"] = run_ids[0]

# Widgets drawn only when they apply keep their values while hidden (a widget's value is
# dropped at the end of a run that does not draw it, unless it is set again here).
for _key in OPTIONAL_KEYS:
    if _key in st.session_state:
        st.session_state[_key] = st.session_state[_key]

# The form, filled once per session: from the run shown, else from the first pool's defaults.
st.session_state.setdefault("stress_discount", 5.0)
st.session_state.setdefault("stress_periods", 0)
st.session_state.setdefault("stress_discounting", "flat")
st.session_state.setdefault("stress_spread", 0.0)
st.session_state.setdefault("stress_residual", "par")
if st.session_state.get("stress_pool") not in names:
    if run_ids and not running:
        _form_from_shown_run()
    if st.session_state.get("stress_pool") not in names:  # no run, or its pool is gone
        st.session_state["stress_pool"] = pools["pool_id"].iloc[0]
        _pool_defaults()
st.session_state.setdefault("stress_scenarios", [k for k in ("rate_shock_up", "credit_crisis",
                                                             "fed_2025_severely_adverse")
                                                 if k in library])
st.session_state["stress_scenarios"] = [k for k in st.session_state["stress_scenarios"]
                                        if k in library]
st.session_state.setdefault("stress_curve_date", _in_curve_file(st.session_state["stress_date"]))
st.session_state["stress_curve_date"] = _in_curve_file(st.session_state["stress_curve_date"])

# --------------------------------------------------------------------------- inputs
run_clicked = False
may_run = session.refuse_unless("run_stress")
if may_run:
    with st.container(border=True):
        c1, c2 = st.columns([1, 2])
        pool_id = c1.selectbox("Pool", list(names), format_func=lambda k: names[k],
                               key="stress_pool", on_change=_pool_defaults)
        chosen = c2.multiselect(
            "Scenarios (the base case always runs)", [k for k in library if k != "base"],
            format_func=lambda k: library[k].name, key="stress_scenarios")
        cutoff = cutoffs.get(pool_id)
        cutoff_text = (f"the pool's cutoff date, {cutoff:%Y-%m-%d}"
                       if cutoff is not None
                       else "the pool's cutoff date (this pool has none: today)")
        c3, c4, c5, c6 = st.columns(4)
        analysis_date = c3.date_input(
            "Analysis date", key="stress_date",  # a pool's cutoff is never out of range
            min_value=min(EARLIEST_ANALYSIS, st.session_state["stress_date"]),
            max_value=max(LATEST_ANALYSIS, st.session_state["stress_date"]),
            on_change=_curve_follows_date,
            help=f"The date the pool is valued at, from {EARLIEST_ANALYSIS:%Y-%m-%d} on; "
                 f"default {cutoff_text}. {ROLL_FORWARD}")
        periods = c4.number_input("Projection periods (months)", min_value=0, max_value=600,
                                  step=12, key="stress_periods",
                                  help="0 projects to the longest remaining term (full run-off).")
        residual = "par"
        if periods:
            residual = c5.radio("Residual at the horizon", list(RESIDUAL_VALUATION),
                                format_func=RESIDUAL_VALUATION.get, key="stress_residual",
                                help=RESIDUAL_CONVENTION)
        loan_level = c6.checkbox("Keep loan-level results", key="stress_loan_level",
                                 help="Needed for the loan drill-down. Stores one row per loan "
                                      "and scenario, which takes longer than the run itself, so "
                                      f"it is off by default above {LOAN_LEVEL_LIMIT:,} loans.")
        d1, d2, d3 = st.columns([2, 1, 1])
        discounting = d1.radio(
            "Discounting", list(DISCOUNTING), format_func=DISCOUNTING.get, horizontal=True,
            key="stress_discounting",
            help="Flat rate: one annual rate, monthly compounded. Treasury curve: the zero curve "
                 "bootstrapped from the US Treasury par yields of one date, plus a spread. Each "
                 "scenario adds its interest-rate shock, discount-rate shock and spread widening.")
        discount, curve_date, spread_bp = st.session_state["stress_discount"], None, 0.0
        if discounting == "flat":
            discount = d2.number_input("Discount rate (annual, %)", min_value=-5.0,
                                       max_value=100.0, step=0.25, format="%.2f",
                                       key="stress_discount",
                                       help="Monthly compounded; each scenario adds its "
                                            "interest-rate shock and spread widening to it.")
        else:
            curve_date = d2.date_input(
                "Curve date", key="stress_curve_date", min_value=CURVE_FIRST,
                max_value=CURVE_LAST,
                help=f"A date of the Treasury par yield file, {CURVE_FIRST:%Y-%m-%d} … "
                     f"{CURVE_LAST:%Y-%m-%d}; a day without yields (a weekend, a holiday) uses "
                     "the nearest earlier date. Follows the analysis date unless changed.")
            spread_bp = d3.number_input(
                "Spread over the curve (bp)", min_value=-500.0, max_value=2000.0, step=25.0,
                format="%.0f", key="stress_spread",
                help="In basis points (100 bp = 1 %), added to the continuously compounded "
                     "zero rate.")
            try:
                view = cached_curve(curve_date, float(spread_bp) / 10_000.0)
            except StressLabError as exc:
                show_error(exc)
            else:
                moved = (f" ({curve_date:%Y-%m-%d} is not in the file: the nearest earlier "
                         "date is used)" if view.date_used != curve_date else "")
                st.markdown(f"**US Treasury zero curve of {view.date_used:%Y-%m-%d}**{moved}")
                st.plotly_chart(curve_chart(view.frame, spread=view.spread),
                                key="stress_curve_chart")
                st.caption("Par yields (bond-equivalent, semi-annual) bootstrapped to zero rates: "
                           "bills as simple yields, par bonds at half-year nodes to 30 years, "
                           "discount factors log-linear between nodes; months as 1/12 year.")
        run_clicked = st.button("Run stress test", type="primary", key="stress_run",
                                disabled=running, icon=":material/play_arrow:")

if run_clicked and not running:
    try:
        request = stress_request(
            pool_id=pool_id, scenario_names=list(dict.fromkeys(["base", *chosen])),
            discount_rate=float(discount) / 100.0, analysis_date=analysis_date,
            projection_periods=int(periods) or None, include_loan_level=loan_level,
            discounting=discounting, curve_date=curve_date,
            curve_spread=float(spread_bp) / 10_000.0, residual_valuation=residual,
            requested_by=session.current().user)
        job = start_run(request)
    except StressLabError as exc:
        show_error(exc)
        job = None
    else:
        st.session_state["stress_job"] = job

# --------------------------------------------------------------------------- live progress
_MARK = {"success": ":green[:material/check_circle:]"}
_NOT_DONE = ":orange[:material/warning:]"


def _finished(job) -> str | None:
    """The finished run's outcome on screen; its id, or None if it failed as a whole."""
    try:
        run_id = finish_run(job)
    except StressLabError as exc:
        st.error("The stress run failed.", icon=":material/error:")
        show_error(exc)
        return None
    failed = [name for _key, name, outcome in job.done if outcome != "success"]
    if job.cancel.is_set():
        st.warning(f"Run cancelled: the finished scenarios were stored as {run_id}.",
                   icon=":material/cancel:")
    elif failed:
        st.warning(f"Done: {job.n_total} scenarios stored as {run_id}; "
                   f"{len(failed)} failed (see below).", icon=":material/warning:")
    else:
        st.success(f"Done: {job.n_total} scenarios stored as {run_id}",
                   icon=":material/check_circle:")
    return run_id


if job is not None:
    # A quick run (most runs) is shown finished at once; a longer one gets live progress after
    # ``stress_live_after`` seconds (default QUICK_RUN_S; 0 always shows it).
    ended = (wait_run(job, timeout=float(st.session_state.get("stress_live_after", QUICK_RUN_S)))
             if run_clicked else not job.running)
    finished_id = None
    if ended:
        st.session_state.pop("stress_job", None)
        finished_id = _finished(job)
    else:
        cancel_slot = st.empty()  # cleared when the run ends
        cancel_slot.button("Cancel run", key="stress_cancel", on_click=job.cancel.set,
                           icon=":material/cancel:",
                           help="Scenarios not yet started are cancelled; running ones finish.")
        job_pool = job.request.pool_id or ""
        with st.status(f"Running {job.n_total} scenarios on "
                       f"{plain(names.get(job_pool, job_pool))} …", expanded=True) as status:
            bar = st.progress(len(job.done) / job.n_total,
                              text=f"{len(job.done)} of {job.n_total} scenarios done")
            for _key, name, outcome in job.done:  # what finished before this rerun
                st.markdown(f"{_MARK.get(outcome, _NOT_DONE)} {plain(name)}")

            def on_event(key: str, name: str, outcome: str, n_done: int, n_total: int) -> None:
                bar.progress(n_done / n_total, text=f"{n_done} of {n_total} scenarios done")
                st.markdown(f"{_MARK.get(outcome, _NOT_DONE)} {plain(name)}")

            elapsed = st.empty()
            poll_run(job, on_event, on_tick=lambda s: elapsed.caption(f"{s:.1f} s elapsed"))
            cancel_slot.empty()
            st.session_state.pop("stress_job", None)
            status.update(label=f"{job.n_total} scenarios ended", state="complete",
                          expanded=False)
        finished_id = _finished(job)
    if finished_id is not None:
        run_labels = _stored_runs()
        run_ids = list(run_labels)
        st.session_state["stress_open_run"] = finished_id  # the form holds its settings already

# --------------------------------------------------------------------------- runs and results
if not run_ids:
    st.info("No stored run yet: choose scenarios above and press **Run stress test**."
            if may_run else "No stored run yet.")
    st.stop()

st.subheader("Results")
run_id = st.selectbox("Run shown (newest first; reopened from the store, not recomputed)",
                      run_ids, format_func=run_labels.get, key="stress_open_run",
                      on_change=_form_from_shown_run,
                      help="Choosing a run also puts its settings in the form above.")
try:
    stored = cached_run(run_id)
    result = stored.result
    table = results_table(run_id)
except StressLabError as exc:
    show_error(exc)
    st.stop()

shown_settings = settings_of_run(stored, library=library)  # the run just read, not a 2nd copy
form_settings = settings_of_form() if may_run else None
if shown_settings is not None and form_settings is not None and not running:
    differs = form_differences(form_settings, shown_settings)
    if differs:
        gone = "" if shown_settings.pool_id in names else " (its pool is no longer stored)"
        n1, n2 = st.columns([3, 1], vertical_alignment="center")
        listed = " and ".join([", ".join(differs[:-1]), differs[-1]] if len(differs) > 1
                              else differs)
        n1.info(f"The form above differs from this run in its {listed}{gone}: "
                "**Run stress test** uses the form's settings, not this run's.",
                icon=":material/info:")
        n2.button("Use this run's settings", key="stress_use_run", on_click=_form_from_shown_run,
                  icon=":material/undo:", disabled=bool(gone))

base = result.scenarios.get("base")
worst = result.worst_scenario()  # the engine's rule: successful, finite, lowest NPV change
npv = term("npv")
cut = horizon_cuts(result)
h = st.columns(6 if cut else 5)
h[0].metric("Loans", f"{result.n_assets:,}")
h[1].metric("Base NPV (USD)", money_short(base.metrics.get("npv")) if base is not None else "–",
            help=npv.help)
h[2].metric("Worst NPV change",
            pct(worst.metrics["npv_change_percent"], decimal=False, signed=True)
            if worst is not None else "–",
            help=(f"{plain(worst.scenario.name)}, as a percentage of the base NPV"
                  if worst is not None else None))
label, value = discounting_label(result)
h[3].metric(label, value, help=discounting_text(result))
h[4].metric("Horizon (months)", f"{result.projection_periods}",
            help="Months projected from the analysis date.")
if cut and base is not None:
    h[5].metric("Residual share (base)", pct(base.metrics.get("residual_share")),
                help="Balance left at the horizon as a share of the starting balance. "
                     + horizon_text(result))
who = stored.request.requested_by
rolled = int(result.valuation.get("rolled_forward_months") or 0)
rolled_text = (f" (rolled forward {rolled} months from the cutoff date "
               f"{result.valuation.get('cutoff_date')})" if rolled else "")
st.caption(f"Pool **{plain(result.pool_name)}** · analysis date {result.analysis_date:%Y-%m-%d}"
           + rolled_text + (f" · run by {plain(who)}" if who else "")
           + f" · run `{run_id}` · engine {plain(result.engine_version)} · computed in "
             f"{result.execution_time_total:.2f} s")
st.caption(discounting_text(result))
if cut:
    st.caption(horizon_text(result))
failed = table[table["status"] != "success"]
for r in failed.itertuples():
    st.warning(f"{plain(r.name)}: {plain(result.scenarios[r.scenario].error)}",
               icon=":material/warning:")

st.plotly_chart(npv_change_chart(table), key="stress_npv_chart")

columns = [c for c in RESULT_COLUMNS if c != "status" or len(failed)]
if cut:  # the residual beside the losses
    extra = ["residual_share", "residual_value"]
    if result.valuation.get("residual_valuation") == "run_off":
        extra.append("loss_beyond_horizon")
    at = columns.index("loss_percent") + 1
    columns[at:at] = [c for c in extra if c in table]
st.dataframe(table[columns], hide_index=True, width="stretch", column_config=result_columns(),
             key="stress_results_table")

# Downloads are built when clicked (deferred), never on a rerun; a click does not rerun the page.
stem = f"stresslab_{run_id}"
with st.container(horizontal=True, key="stress_downloads"):
    st.download_button("Response JSON", data=partial(response_json, run_id),
                       file_name=f"{stem}.json", mime="application/json", key="stress_dl_json",
                       icon=":material/download:", on_click="ignore")
    st.download_button("Metrics CSV", data=partial(metrics_csv, run_id),
                       file_name=f"{stem}_metrics.csv", mime="text/csv", key="stress_dl_metrics",
                       icon=":material/download:", on_click="ignore")
    st.download_button("Cashflows CSV", data=partial(cashflows_csv, run_id),
                       file_name=f"{stem}_cashflows.csv", mime="text/csv", key="stress_dl_cf",
                       icon=":material/download:", on_click="ignore")
    st.download_button("Cashflows Parquet", data=partial(cashflows_parquet, run_id),
                       file_name=f"{stem}_cashflows.parquet",
                       mime="application/vnd.apache.parquet", key="stress_dl_cf_parquet",
                       icon=":material/download:", on_click="ignore")
    if any(r.loan_level is not None for r in result.scenarios.values()):
        st.download_button("Loan-level CSV", data=partial(loan_level_csv, run_id),
                           file_name=f"{stem}_loans.csv", mime="text/csv",
                           key="stress_dl_loans_csv", icon=":material/download:",
                           on_click="ignore")
        st.download_button("Loan-level Parquet", data=partial(loan_level_parquet, run_id),
                           file_name=f"{stem}_loans.parquet",
                           mime="application/vnd.apache.parquet", key="stress_dl_loans_parquet",
                           icon=":material/download:", on_click="ignore")
    if reports_available():
        st.download_button("Report (HTML)", data=report_bytes(run_id, "html"),
                           file_name=report_filename(run_id, "html"), mime="text/html",
                           key="stress_report_html", icon=":material/description:",
                           on_click="ignore",
                           help="The run's report as one self-contained page, built on click.")
        st.download_button("Report (PDF)", data=report_bytes(run_id, "pdf"),
                           file_name=report_filename(run_id, "pdf"), mime="application/pdf",
                           key="stress_report_pdf", icon=":material/picture_as_pdf:",
                           on_click="ignore",
                           help="The same report as a PDF; building it takes a few seconds.")
    else:
        st.caption("Reports are not available in this installation (engine.reports is missing).")

names_by_key = {k: r.scenario.name for k, r in result.scenarios.items()}
cashflows = run_cashflows(run_id)
ok = table[table["status"] == "success"]
paths = [k for k, r in result.scenarios.items() if r.scenario.market_factors.is_path]
# Lazy tabs: only the open tab runs, so a run shows one timeline chart, not all of them.
tabs = st.tabs(["Balance", "Cashflows", "Losses", "WAL and duration", "Loan drill-down",
                *(["Scenario paths"] if paths else [])], key="stress_tab", on_change="rerun")
t_bal, t_cf, t_loss, t_wal, t_drill = tabs[:5]
if paths and tabs[5].open:
    with tabs[5]:
        shown_path = st.selectbox("Scenario", paths, format_func=names_by_key.get,
                                  key="stress_path_scenario")
        chosen_sc = result.scenarios[shown_path].scenario
        covered = path_months(chosen_sc)
        months = result.projection_periods
        st.markdown(f"**{plain(chosen_sc.name)}: its factors month by month, as the run applied "
                    f"them over {months} months**")
        st.plotly_chart(scenario_path_figure(monthly_factors(chosen_sc, months),
                                             path_end=covered if covered < months else None),
                        key="stress_path_factors")
        st.caption(f"The path covers {covered} months; each step's value is held for its months"
                   + (" and the last value is held after the path ends (dotted line)."
                      if covered < months else
                      f"; the chart shows the run's {months}-month horizon"
                      + ("; the residual's run-off beyond it follows the rest of the path."
                         if result.valuation.get("residual_valuation") == "run_off" else ".")))
if t_bal.open:
    with t_bal:
        st.markdown("**Pool balance by month**")
        st.plotly_chart(timeline_chart(cashflows, names_by_key, column="ending_balance",
                                       y="Balance (USD)"), key="stress_balance_chart")
if t_cf.open:
    with t_cf:
        st.markdown("**Cash received by month** (principal, interest and recoveries)")
        st.plotly_chart(timeline_chart(cashflows, names_by_key, column="total_cashflow",
                                       y="Cashflow per month (USD)"), key="stress_cashflow_chart")
if t_loss.open:
    with t_loss:
        l1, l2 = st.columns(2)
        l1.markdown("**Credit loss over the horizon** (label: % of the starting balance)")
        l1.plotly_chart(loss_bar_chart(ok), key="stress_loss_bar")
        l2.markdown("**Cumulative credit loss by month**")
        l2.plotly_chart(timeline_chart(cashflows, names_by_key, column="cumulative_loss",
                                       y="Cumulative loss (USD)"), key="stress_loss_chart")
if t_wal.open:
    with t_wal:
        wal = term("wal")
        st.markdown(f"**{wal.name} and duration** (years)", help=f"{wal.name}: {wal.help} "
                    f"Duration: {term('duration').help}")
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
                          key="stress_drill_by", format_func=words)
            loans = result.scenarios[drill].loan_level
            grouped = loan_level_by(loans, by)
            if by == "asset_class":
                grouped[by] = grouped[by].map(words)
            a1, a2 = st.columns([1, 1])
            a1.plotly_chart(grade_loss_chart(grouped, by), key="stress_drill_chart")
            a2.dataframe(grouped[[by, *GROUP_COLUMNS]], hide_index=True, width="stretch",
                         column_config=drill_columns(by))
            largest = top_loans(loans, by="total_loss", n=20)
            largest = largest.assign(asset_class=largest["asset_class"].map(words))
            st.markdown("**The 20 loans with the largest expected loss**")
            st.dataframe(largest[[c for c in LOAN_COLUMNS if c in largest]], hide_index=True,
                         width="stretch", column_config=drill_columns(by))
            loan_id = st.selectbox("Monthly path of one loan", largest["asset_id"].tolist(),
                                   key="stress_drill_loan")
            try:
                path = loan_path(run_id, loan_id, drill)
            except StressLabError as exc:
                st.info("The loan's monthly path needs its pool, which is no longer stored "
                        f"({plain(exc)}).")
            else:
                st.markdown(f"**Loan {plain(loan_id)}: expected balance and cumulative loss**")
                st.plotly_chart(loan_path_chart(path, loan_id), key="stress_path_chart")
