"""AppTest of the Model validation page: renders, runs a small validation, stores it, signs off."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "ml_validation.py")


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    import streamlit as st

    st.cache_data.clear()
    yield path


def _app() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=120)


def test_renders_with_no_run(db):
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "Model validation"
    assert any("No validation stored yet" in i.value for i in at.info)
    assert at.selectbox(key="ml_target").value == "default_payment_next_month"


def test_run_small_validation_then_sign_off(db):
    at = _app().run()
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
    at.text_input(key="ml_signoff_name").input("Erin Validator")
    at.text_area(key="ml_signoff_comment").input("Reviewed.")
    at.button[-1].click().run()  # the form's submit button is the page's last button
    assert not at.exception
    assert any("Sign-off by Erin Validator recorded" in s.value for s in at.success)
    con = duckdb.connect(str(db), read_only=True)  # the app holds no connection between runs
    try:
        assert con.execute("SELECT name, comment FROM ml_signoffs WHERE run_id = ?", [run_id]).fetchall() == [
            ("Erin Validator", "Reviewed.")]
        # five artifacts and the sign-off addendum (no .sig files: the test's key directory is empty)
        assert con.execute("SELECT count(*) FROM ml_artifacts WHERE run_id = ?", [run_id]).fetchone()[0] == 6
        assert con.execute("SELECT kind, summary FROM runs WHERE run_id = ?", [run_id]).fetchone()[0] == "mlrisk"
    finally:
        con.close()
    at.button(key="ml_verify").click().run()
    assert not at.exception
    assert any(w.value.replace("\\", "").startswith(f"UNSIGNED: the files of run {run_id} match")
               for w in at.warning)
    checks = next(d.value for d in at.dataframe if list(d.value.columns) == ["subject", "status", "detail"])
    assert "FAIL" not in set(checks["status"]) and "unsigned" in set(checks["status"])


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
