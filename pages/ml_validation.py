"""Model validation: train or load a model, stress it with the handbook, decide and download evidence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import session
from dashboard.components.format import plain, show_error
from dashboard.components.mlrisk import (
    DRIFT_COLUMNS,
    FAILURE_COLUMNS,
    REPORT_COLUMNS,
    SIGNOFF_COLUMNS,
    current_handbook,
    data_preview,
    degradation_chart,
    distribution_chart,
    drift_frame,
    heatmap,
    metric_chart,
    metric_name,
    metric_term,
    model_name,
    parse_level,
    report_downloads,
    report_frame,
)
from dashboard.state import store
from engine.display import term
from engine.errors import StressLabError
from engine.mlrisk import MODEL_KINDS, Thresholds
from engine.mlrisk.workflow import (
    ValidateRequest, list_runs, load_run, sign_off, validate, verify_evidence,
)

st.title("Model validation")
st.caption("Stress an ML model with the scenario handbook, measure how badly it degrades, decide whether it "
           "may be deployed, and download audit-ready evidence.")

#: The result tabs; their choice is kept in session state (``ml_result_tab``), so a rerun such as
#: a sign-off leaves the reader on the tab they were reading.
TABS = ["Metrics", "Degradation", "Distributions", "Subgroups", "Drift"]
ECE = term("ece")
#: Media types of the single evidence files.
FILE_TYPES = {".json": "application/json", ".sig": "application/json", ".md": "text/markdown",
              ".html": "text/html"}

# ---------------------------------------------------------------- inputs
with st.container(border=True):
    st.subheader("Data and model")
    if not session.refuse_unless("run_validation"):
        st.caption("The stored runs below, their evidence and reports can be read and downloaded.")
    else:
        source = st.radio("Data", ["Bundled: UCI default of credit card clients", "Upload CSV or Parquet"],
                          key="ml_source", horizontal=True)
        upload = None
        if source.startswith("Upload"):
            upload = st.file_uploader("Table", type=["csv", "parquet", "pq", "gz"], key="ml_upload")
        c1, c2 = st.columns(2)
        row_limit = c1.number_input("Rows to use (a seeded sample; 0 = all rows)", min_value=0, value=0,
                                    step=1000, key="ml_row_limit")
        seed = c2.number_input("Seed (split, model)", min_value=0, value=42, step=1, key="ml_seed")
        preview = None
        content, name = None, None
        try:
            if upload is not None:
                content, name = upload.getvalue(), upload.name
                preview = data_preview(content, name, int(row_limit) or None, int(seed))
            elif not source.startswith("Upload"):
                preview = data_preview(None, None, int(row_limit) or None, int(seed))
        except StressLabError as exc:
            show_error(exc)
        if preview is not None:
            st.caption(f"{plain(preview.name)}: {preview.n_rows:,} rows × {preview.n_columns} columns")
            columns = list(preview.columns)
            target = st.selectbox("Target", columns, key="ml_target", index=columns.index(preview.default_target))
            others = [c for c in columns if c != target]
            features = st.multiselect("Features (default: all but the target)", others, default=others,
                                      key="ml_features")
            subgroups = st.multiselect("Subgroup columns", columns, key="ml_subgroups",
                                       default=list(preview.default_subgroups))
            categorical = st.multiselect("Numeric-coded columns to one-hot encode (text columns always are)",
                                         features, key="ml_categorical")
            c1, c2, c3 = st.columns(3)
            task = c1.selectbox("Task", ["infer from target", "classification", "regression"], key="ml_task")
            model_kind = c2.selectbox("Model", MODEL_KINDS, index=1, key="ml_model", format_func=model_name,
                                      help="scikit-learn: logistic (or linear) regression, random forest "
                                           "(100 trees, min_samples_leaf 5), histogram gradient boosting")
            positive = c3.text_input("Positive class (optional)", key="ml_positive")
            test_size = c1.slider("Test share", 0.05, 0.5, 0.2, 0.05, key="ml_test_size",
                                  help="Share of rows held out to measure the model, before and after stress.")
            ece_bins = c2.number_input("ECE bins", 2, 100, 10, key="ml_ece_bins", help=ECE.help)
            ece_strategy = c3.selectbox("ECE binning", ["uniform", "quantile"], key="ml_ece_strategy",
                                        format_func=lambda s: "equal-width" if s == "uniform" else "equal-mass",
                                        help="Equal-width bins split [0, 1] evenly; equal-mass bins hold "
                                             "the same number of rows.")
            model_file = st.file_uploader("Or evaluate a model saved with skops (.skops; pickle is never loaded)",
                                          type=["skops"], key="ml_model_file")
            with st.expander("Thresholds: largest tolerated worsening, % of baseline (subgroup delta: absolute)"):
                defaults = Thresholds()
                cols = st.columns(3)
                thr = {name: cols[i % 3].number_input(
                           metric_name(name) + (" (absolute)" if name == "subgroup_delta" else " (%)"),
                           min_value=0.0, value=float(getattr(defaults, name)),
                           step=0.5 if name != "subgroup_delta" else 0.01, key=f"ml_thr_{name}",
                           help=metric_term(name).help or None)
                       for i, name in enumerate(Thresholds.model_fields)}
            handbook = current_handbook()
            st.caption(f"Handbook: {len(handbook.scenarios)} scenarios "
                       f"({plain(', '.join(s.scenario_id for s in handbook.scenarios))}). Edit it on the "
                       "Scenario handbook page.")
            me = session.current()
            if st.button("Run validation", type="primary", key="ml_run",
                         help=f"Recorded in the evidence manifest as run by {me.user}."):
                try:
                    request = ValidateRequest.build(
                        config={"target": target, "features": features, "categorical": categorical,
                                "subgroups": subgroups, "task": None if task.startswith("infer") else task,
                                "model": model_kind, "positive_class": parse_level(positive),
                                "test_size": float(test_size), "seed": int(seed), "thresholds": thr,
                                "ece_bins": int(ece_bins), "ece_strategy": ece_strategy,
                                "row_limit": int(row_limit) or None},
                        data_content=content, data_name=name, handbook=handbook,
                        model_content=model_file.getvalue() if model_file is not None else None,
                        model_name=model_file.name if model_file is not None else None,
                        user=me.user, source="app",
                    )
                    with st.spinner("Training and stressing the model…"):
                        done = validate(request, store=store())
                    st.session_state["ml_run_id"] = done.run_id
                    st.session_state["ml_open_run"] = done.run_id  # open the new run below
                    st.session_state.pop("ml_signoff_done", None)
                    st.success(f"Run {done.run_id} stored: decision {done.decision} "
                               f"({done.timings['total']:.1f} s).")
                except StressLabError as exc:
                    show_error(exc)

# ---------------------------------------------------------------- results (read from the store)
runs = list_runs(store=store())
if runs.empty:
    st.info("No validation stored yet: set the data and model above and press **Run validation**."
            if session.allowed("run_validation") else "No validation stored yet.")
    st.stop()
ids = runs["run_id"].tolist()
labels = {r.run_id: f"{str(r.generated_at)[:16].replace('T', ' ')} UTC · {model_name(r.model_kind)} · "
                    f"{r.summary or r.decision} · {r.run_id[-12:]}"
          for r in runs.itertuples()}
if st.session_state.get("ml_open_run") not in ids:  # a run of another store, or none chosen yet
    chosen = st.session_state.get("ml_run_id")
    st.session_state["ml_open_run"] = chosen if chosen in ids else ids[0]
run_id = st.selectbox("Stored run", ids, key="ml_open_run", format_func=labels.__getitem__)
stored = load_run(run_id, store=store())
results, rows = stored.results, stored.rows
decision = results["decision"]
box = {"DEPLOY": st.success, "RESTRICT": st.warning, "REDESIGN": st.error}[decision["decision"]]
box(f"**Decision: {decision['decision']}**; severity-weighted failure share "
    f"{decision['severity_weighted_failure_share']:.2f}")
with st.expander("Rationale, key failures and recommended actions", expanded=True):
    st.markdown("\n".join(f"- {plain(r)}" for r in decision["rationale"]))
    if decision["key_failures"]:
        failures = pd.DataFrame(decision["key_failures"])
        failures["metric_name"] = failures["metric_name"].map(metric_name)
        st.dataframe(failures, hide_index=True, column_config=FAILURE_COLUMNS,
                     column_order=["scenario_id", "severity_level", "metric_name", "baseline_value",
                                   "stressed_value", "worsening_pct", "threshold"])
    st.markdown("**Recommended actions**\n" + "\n".join(f"- {plain(a)}" for a in decision["recommended_actions"]))
    st.caption(f"Rule: {plain(decision['rule'])}")
st.caption(plain(f"{results['ece_binning']['statement']}; {results['task']}, {results['model']['estimator']}, "
                 f"{results['data']['n_rows']:,} rows, seed {results['data']['seed']}."))

t1, t2, t3, t4, t5 = st.tabs(TABS, key="ml_result_tab", on_change="rerun")
metric_names = list(dict.fromkeys(r["metric_name"] for r in rows))
with t1:
    st.caption("Baseline: the model on the held-out test rows, before any stress. Each metric's help icon "
               "says what it measures.")
    with st.container(horizontal=True, key="ml_baseline_tiles"):
        for name, value in results["baseline"]["metrics"].items():
            st.metric(metric_name(name), "–" if value is None else f"{value:.4f}",
                      help=metric_term(name).help or None, border=True, width=150)
    m = st.selectbox("Metric", metric_names, key="ml_chart_metric", format_func=metric_name)
    if t1.open:
        st.plotly_chart(metric_chart(rows, m), key="ml_metric_chart")
        st.caption("The axis is zoomed to the values: the differences are what matter.")
with t2:
    m2 = st.selectbox("Metric", metric_names, key="ml_degr_metric", format_func=metric_name)
    if t2.open:
        st.plotly_chart(degradation_chart(rows, m2), key="ml_degr_chart")
        st.dataframe(report_frame(rows), hide_index=True, column_config=REPORT_COLUMNS)
with t3:
    scen_ids = [s["scenario_id"] for s in results["scenarios"]]
    c1, c2 = st.columns(2)
    sid = c1.selectbox("Scenario", scen_ids, key="ml_dist_scenario")
    stressed = next((s["parameters"].get("feature") for s in results["scenarios"] if s["scenario_id"] == sid), None)
    feats = results["numeric_features"]
    feat = c2.selectbox("Feature", feats, index=feats.index(stressed) if stressed in feats else 0,
                        key="ml_dist_feature")
    if t3.open:
        st.plotly_chart(distribution_chart(results, sid, feat), key="ml_dist_chart")
with t4:
    if results["subgroups"]:
        hm = st.selectbox("Metric", [n for n in metric_names if n != "subgroup_delta"], key="ml_heat_metric",
                          format_func=metric_name)
        if t4.open:
            st.plotly_chart(heatmap(results, hm), key="ml_heatmap")
        small = [g for g in results["baseline"]["subgroups"] if g["status"] != "evaluated"]
        if small:
            st.caption("Not evaluated: " + plain("; ".join(f"{g['column']}={g['level']} ({g['reason']})"
                                                          for g in small)))
    else:
        st.info("No subgroup columns were chosen for this run.")
with t5:
    st.dataframe(drift_frame(results), hide_index=True, column_config=DRIFT_COLUMNS, key="ml_drift_table")
    st.caption("PSI bands: < 0.10 stable, 0.10–0.25 moderate, ≥ 0.25 significant (bins at reference deciles). "
               "A KS p-value below 0.001 is written < 0.001.")

st.subheader("Evidence and report")
artifacts = stored.artifacts
if session.refuse_unless("download"):
    with st.container(horizontal=True):
        st.download_button("Download the evidence (zip)", stored.zip_bytes, file_name=f"evidence_{run_id}.zip",
                           mime="application/zip", key="ml_dl_zip", type="primary", icon=":material/folder_zip:")
        if not report_downloads(run_id, store=store(), key="ml_dl_report"):
            st.caption("The validation report (HTML, PDF) is not available in this installation.")
    with st.expander(f"Single files ({len(artifacts)})"):
        for name, content in sorted(artifacts.items()):
            st.download_button(plain(name), content, file_name=name, key=f"ml_dl_{name}",
                               mime=FILE_TYPES.get(Path(name).suffix, "application/octet-stream"))
with st.expander("Verify evidence"):
    st.caption("Checks the manifest's signature, every listed hash, the sign-off addenda, and what "
               "the store and the audit trail recorded for the run. Leave the upload empty to "
               "check this run's stored evidence.")
    upload = st.file_uploader("Evidence zip or evidence_manifest.json (optional)",
                              type=["zip", "json"], key="ml_verify_upload")
    if st.button("Verify evidence", key="ml_verify"):
        try:
            check = (verify_evidence(run_id=run_id, store=store()) if upload is None else
                     verify_evidence(upload=upload.getvalue(), upload_name=upload.name, store=store()))
        except StressLabError as exc:
            show_error(exc)
        else:
            notice = st.success if check.ok and check.signed else st.warning if check.ok else st.error
            notice(plain(check.verdict))
            st.dataframe(check.to_frame(), hide_index=True, key="ml_verify_table")

st.subheader("Sign-off")
if stored.signoffs.empty:
    st.caption("No sign-off recorded for this run yet.")
else:
    st.dataframe(stored.signoffs, hide_index=True, column_config=SIGNOFF_COLUMNS)
if session.refuse_unless("sign_off"):
    me = session.current()
    with st.form("ml_signoff_form", clear_on_submit=True):
        st.markdown(f"Signing **{decision['decision']}** for run {plain(run_id)} as **{plain(me.user)}** "
                    f"({plain(me.role)}).")
        comment = st.text_area("Comment", key="ml_signoff_comment")
        if st.form_submit_button("Record sign-off", key="ml_signoff_submit", icon=":material/verified:"):
            try:
                signed = sign_off(run_id, name=me.user, comment=comment, store=store())
            except StressLabError as exc:
                show_error(exc)
            else:  # kept until the next sign-off or validation: the reader sees it after the rerun
                when = signed.signed_at.strftime("%Y-%m-%d %H:%M")
                st.session_state["ml_signoff_done"] = {
                    "run_id": run_id,
                    "message": f"Sign-off by {plain(signed.name)} recorded with run {plain(run_id)} "
                               f"at {when} UTC ({plain(signed.addendum)} added to the evidence)."}
                st.rerun()
done = st.session_state.get("ml_signoff_done")
if done and done["run_id"] == run_id:
    st.success(done["message"], icon=":material/task_alt:")
