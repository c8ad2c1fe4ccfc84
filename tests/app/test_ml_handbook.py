"""AppTest of the Scenario handbook page: add, edit, refuse out-of-range parameters, delete, reset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.components.format import plain

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "ml_handbook.py")
NEW = "(new scenario)"


@pytest.fixture()
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "hb.duckdb"))
    import streamlit as st

    st.cache_data.clear()
    yield tmp_path / "hb.duckdb"


def _ids(at) -> list[str]:
    return [s["scenario_id"] for s in json.loads(at.session_state["ml_handbook_json"])]


def test_default_handbook_renders(db):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert _ids(at) == ["volatility_noise", "rate_shift", "missing_credit_limit", "beyond_range_bills",
                        "subgroup_high_school"]


def test_add_a_noise_scenario(db):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    k = f"_{NEW}_NOISE"
    at.text_input(key="ml_hb_id" + k).input("limit_noise")
    at.text_input(key="ml_hb_feature" + k).input("LIMIT_BAL")
    at.number_input(key="ml_hb_sdm" + k).set_value(1.0)
    at.text_input(key="ml_hb_desc" + k).input("One std of noise on limits")
    at.button[0].click().run()  # the form's submit button comes first on the page
    assert not at.exception
    assert _ids(at)[-1] == "limit_noise"
    added = json.loads(at.session_state["ml_handbook_json"])[-1]
    assert added["parameters"] == {"feature": "LIMIT_BAL", "std_dev_multiplier": 1.0}


def test_out_of_range_parameter_is_refused(db):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox(key="ml_hb_pick").set_value("missing_credit_limit").run()
    at.number_input(key="ml_hb_missing_missing_credit_limit_MISSINGNESS").set_value(1.5)
    at.button[0].click().run()
    assert not at.exception
    assert any("nothing was stored" in e.value for e in at.error)
    rules = [r for t in at.dataframe if "rule" in t.value.columns for r in t.value["rule"]]
    assert any("missing_percentage" in r for r in rules)  # the issues table under the message
    assert json.loads(at.session_state["ml_handbook_json"])[2]["parameters"]["missing_percentage"] == 0.3


def test_delete_and_reset(db):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox(key="ml_hb_delete_pick").set_value("rate_shift")
    at.button(key="ml_hb_delete").click().run()
    assert "rate_shift" not in _ids(at)
    at.button(key="ml_hb_reset").click().run()
    assert "rate_shift" in _ids(at) and len(_ids(at)) == 5


def test_save_and_open_a_handbook_in_the_store(db):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox(key="ml_hb_delete_pick").set_value("rate_shift")
    at.button(key="ml_hb_delete").click().run()
    at.text_input(key="ml_hb_save_name").input("four scenarios")
    at.button(key="ml_hb_save").click().run()
    assert not at.exception
    assert any(plain("Saved as 'four scenarios'") in s.value for s in at.success)
    at.button(key="ml_hb_reset").click().run()
    assert len(_ids(at)) == 5
    at.selectbox(key="ml_hb_open_pick").set_value("four scenarios")
    at.button(key="ml_hb_open").click().run()
    assert not at.exception
    assert "rate_shift" not in _ids(at) and len(_ids(at)) == 4
