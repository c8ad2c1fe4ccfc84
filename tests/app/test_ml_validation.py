"""AppTest of the Model validation page: renders, runs a small validation, stores it, signs off
as the signed-in user; reader names and formats; what each role may do."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from engine.auth import Principal
from engine.display import pvalue
from engine.mlrisk import default_handbook, drift_table
from engine.mlrisk._artifacts import ARTIFACT_NAMES
from engine.mlrisk.workflow import ValidateRequest, load_run, validate
from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "ml_validation.py")


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    import streamlit as st

    st.cache_data.clear()
    yield path


def _app(role: str | None = None, user: str = "val") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if role is not None:  # signed in as ``user`` with ``role`` (no role: the local single user, admin)
        at.session_state["_principal"] = Principal(user=user, role=role, token_id="t")
    return at


@pytest.fixture()
def stored_run(db) -> str:
    """A small validation (1,500 rows, logistic regression, seed 42) stored by the workflow, as
    the CLI or another user would: the page reads it."""
    request = ValidateRequest.build(
        config={"target": "default_payment_next_month", "model": "logistic_regression", "row_limit": 1500,
                "subgroups": ["SEX"], "seed": 42},
        data_content=None, data_name=None, handbook=default_handbook(), user="cli user", source="cli")
    return validate(request, store=Store(db)).run_id


def _signoffs(db: Path, run_id: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT name, comment FROM ml_signoffs WHERE run_id = ?", [run_id]).fetchall()
    finally:
        con.close()


def _drift(at: AppTest):
    return next((d for d in at.dataframe if "KS_p_value" in d.value.columns), None)


def _columns(table) -> dict:
    """The column configuration Streamlit sends with a dataframe: column → {label, help, ...}."""
    return json.loads(table.proto.columns or "{}")


def test_renders_with_no_run(db):
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "Model validation"
    assert any("No validation stored yet" in i.value for i in at.info)
    assert at.selectbox(key="ml_target").value == "default_payment_next_month"


def test_run_small_validation_then_sign_off(db):
    at = _app(role="validator", user="Erin Validator").run()
    assert "ml_user" not in [t.key for t in at.text_input]  # who runs it is the signed-in user
    at.number_input(key="ml_row_limit").set_value(1500)
    at.selectbox(key="ml_model").set_value("logistic_regression")
    at.multiselect(key="ml_subgroups").set_value(["SEX"])
    at.run()
    at.button(key="ml_run").click().run()
    assert not at.exception
    problems = [e.value for e in at.error if "Decision:" not in e.value]  # REDESIGN shows as st.error
    assert not problems, problems
    assert any("stored: decision" in s.value for s in at.success)
    assert not any("stored: decision" in s.value for s in at.error)
    assert any("Decision:" in b.value for b in [*at.success, *at.warning, *at.error])
    run_id = at.session_state["ml_run_id"]
    assert at.selectbox(key="ml_open_run").value == run_id
    assert "ml_signoff_name" not in [t.key for t in at.text_input]  # no free-text name
    at.text_area(key="ml_signoff_comment").input("Reviewed.")
    at.button(key="ml_signoff_submit").click().run()
    assert not at.exception
    assert any("Sign-off by Erin Validator recorded" in s.value for s in at.success)
    assert _signoffs(db, run_id) == [("Erin Validator", "Reviewed.")]
    con = duckdb.connect(str(db), read_only=True)  # the app holds no connection between runs
    try:
        # the run's artifacts and the sign-off addendum (no .sig files: the test's key directory is empty)
        names = {n for (n,) in con.execute("SELECT name FROM ml_artifacts WHERE run_id = ?", [run_id]).fetchall()}
        assert names == {*ARTIFACT_NAMES, "signoff_001.json"}
        assert con.execute("SELECT kind, summary FROM runs WHERE run_id = ?", [run_id]).fetchone()[0] == "mlrisk"
    finally:
        con.close()
    stored = load_run(run_id, store=Store(db))
    assert stored.validator == "Erin Validator"
    assert json.loads(stored.artifacts["evidence_manifest.json"])["team_or_user"] == "Erin Validator"
    at.button(key="ml_verify").click().run()
    assert not at.exception
    assert any(w.value.replace("\\", "").startswith(f"UNSIGNED: the files of run {run_id} match")
               for w in at.warning)
    checks = next(d.value for d in at.dataframe if list(d.value.columns) == ["subject", "status", "detail"])
    assert "FAIL" not in set(checks["status"]) and "unsigned" in set(checks["status"])
    # the confirmation lasts: still shown after another action on the page
    assert any("Sign-off by Erin Validator recorded" in s.value for s in at.success)


def test_sign_off_records_the_signed_in_user_and_keeps_the_tab(db, stored_run):
    at = _app(role="validator", user="val").run()
    at.session_state["ml_result_tab"] = "Drift"  # the reader is on the Drift tab
    at.run()
    at.text_area(key="ml_signoff_comment").input("Drift acceptable.")
    at.button(key="ml_signoff_submit").click().run()
    assert not at.exception
    assert _signoffs(db, stored_run) == [("val", "Drift acceptable.")]
    assert at.session_state["ml_result_tab"] == "Drift"
    assert _drift(at) is not None  # the Drift tab's content is drawn
    done = [s.value for s in at.success if "Sign-off by val recorded" in s.value]
    assert len(done) == 1 and "signoff\\_001\\.json" in done[0]
    signed = next(d.value for d in at.dataframe if "signed_at" in d.value.columns)
    assert signed["name"].tolist() == ["val"]
    at.selectbox(key="ml_chart_metric").set_value("ECE").run()  # another action: still confirmed
    assert any("Sign-off by val recorded" in s.value for s in at.success)


def test_leadership_reads_and_downloads_but_is_refused_run_and_sign_off(db, stored_run):
    at = _app(role="leadership", user="lee").run()
    assert not at.exception
    refusals = [i.value for i in at.info]
    assert any("may not run a model validation" in r for r in refusals)
    assert any("may not sign off a validation decision" in r for r in refusals)
    keys = {b.key for b in at.button}
    assert "ml_run" not in keys and "ml_signoff_submit" not in keys
    assert "ml_signoff_comment" not in [t.key for t in at.text_area]
    assert "ml_verify" in keys  # reading the evidence is open to every role
    assert "ml_dl_zip" in [d.key for d in at.download_button]
    assert at.selectbox(key="ml_open_run").value == stored_run
    assert _signoffs(db, stored_run) == []


def test_analyst_is_refused_sign_off(db, stored_run):
    at = _app(role="analyst", user="ann").run()
    assert any("may not sign off" in i.value and "validator or admin" in i.value for i in at.info)
    assert "ml_signoff_submit" not in {b.key for b in at.button}
    assert _signoffs(db, stored_run) == []


def test_drift_tab_shows_ks_p_values_for_reading(db, stored_run):
    at = _app(role="leadership").run()
    at.session_state["ml_result_tab"] = "Drift"
    at.run()
    assert not at.exception
    table = _drift(at)
    stored = drift_table(load_run(stored_run, store=Store(db)).results)
    # written as a statistician writes them, not 70 zeros: "< 0.001" below 0.001, else 3 decimals
    assert table.value["KS_p_value"].tolist() == [pvalue(p) for p in stored["KS_p_value"]]
    assert "< 0.001" in table.value["KS_p_value"].tolist()
    assert all(len(v) <= 7 for v in table.value["KS_p_value"])
    cols = _columns(table)
    assert cols["KS_p_value"]["label"] == "KS p-value"
    assert "Kolmogorov–Smirnov" in cols["KS_p_value"]["help"]
    assert cols["PSI"]["label"] == "PSI" and "Population stability index" in cols["PSI"]["help"]
    assert cols["KS"]["label"] == "KS statistic"


def test_labels_are_reader_names_with_help(db, stored_run):
    at = _app().run()  # the local single user (admin) sees the inputs
    assert at.number_input(key="ml_thr_log_loss").label == "Log loss (%)"
    assert at.number_input(key="ml_thr_subgroup_delta").label == "Subgroup delta (absolute)"
    assert "Expected calibration error" in at.number_input(key="ml_thr_ECE").help
    assert "Area under the ROC curve" in at.number_input(key="ml_thr_AUC").help
    assert "Root mean squared error" in at.number_input(key="ml_thr_RMSE").help
    assert "Expected calibration error" in at.number_input(key="ml_ece_bins").help
    assert at.selectbox(key="ml_model").options == ["Logistic regression", "Random forest", "Gradient boosting"]
    assert at.selectbox(key="ml_chart_metric").options == ["AUC", "Accuracy", "Brier score", "Log loss", "ECE",
                                                           "Subgroup delta"]
    baseline = {m.label: m for m in at.metric}
    assert list(baseline) == ["AUC", "Brier score", "ECE", "Accuracy", "Log loss"]
    stored = load_run(stored_run, store=Store(db)).results["baseline"]["metrics"]
    assert baseline["Log loss"].value == f"{stored['log_loss']:.4f}"
    assert "Cross-entropy" in baseline["Log loss"].help and "calibration" in baseline["ECE"].help
    at.session_state["ml_result_tab"] = "Degradation"
    at.run()
    report = next(d for d in at.dataframe if "status" in d.value.columns)  # not the key failures
    assert "degradation_pct" not in report.value.columns and "threshold_kind" not in report.value.columns
    assert set(report.value["stress_type"]) == {"Noise", "Feature shift", "Missing values",
                                                "Out of distribution", "Subgroup"}
    assert _columns(report)["worsening_pct"]["label"] == "Worsening (%)"
    assert "% of the baseline value" in _columns(report)["threshold"]["help"]


def test_upload_mode_waits_for_a_file(db):
    at = _app().run()
    at.radio(key="ml_source").set_value("Upload CSV or Parquet").run()
    assert not at.exception
    # no table yet: no column pickers; the reader's refusals are tested in tests/engine/mlrisk/test_data.py
    assert "ml_target" not in [s.key for s in at.selectbox]


def test_no_features_is_refused_with_message(db):
    at = _app().run()
    at.number_input(key="ml_row_limit").set_value(300)
    at.selectbox(key="ml_model").set_value("logistic_regression")
    at.multiselect(key="ml_features").set_value([])
    at.run()
    at.button(key="ml_run").click().run()
    assert not at.exception
    assert any("nothing was stored" in e.value for e in at.error)
    rules = [r for t in at.dataframe if "rule" in t.value.columns for r in t.value["rule"]]
    assert "no feature columns selected" in rules  # the issues table under the message


def test_out_of_range_setting_is_an_engine_error_not_a_crash(db):
    at = _app().run()
    at.number_input(key="ml_row_limit").set_value(50)  # below the configuration's minimum of 100 rows
    at.selectbox(key="ml_model").set_value("logistic_regression")
    at.run()
    at.button(key="ml_run").click().run()
    assert not at.exception
    assert any("validation settings" in e.value for e in at.error)
    fields = [f for t in at.dataframe if "field" in t.value.columns for f in t.value["field"]]
    assert "config.row_limit" in fields  # the issues table names the field
