"""AppTest of the Scenario handbook page: add, edit, refuse out-of-range parameters, delete, reset;
reader labels; only a validator (or admin) edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.components.format import plain
from engine.auth import Principal

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


def _as(role: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["_principal"] = Principal(user="someone", role=role, token_id="t")
    return at


@pytest.mark.parametrize("role", ["leadership", "analyst"])
def test_only_validators_edit_the_handbook(db, role):
    at = _as(role).run()
    assert not at.exception
    assert any(f"Your role ({role}) may not edit the scenario handbook" in i.value for i in at.info)
    keys = {b.key for b in at.button}
    assert not keys & {"ml_hb_delete", "ml_hb_reset", "ml_hb_save", "ml_hb_open"}
    assert "ml_hb_pick" not in [s.key for s in at.selectbox]
    assert not at.get("form")  # no add/edit form
    assert [d.key for d in at.download_button] == ["ml_hb_export"]  # reading and exporting stay open
    assert _ids(at) == ["volatility_noise", "rate_shift", "missing_credit_limit", "beyond_range_bills",
                        "subgroup_high_school"]


def test_validator_edits_with_reader_labels(db):
    at = _as("validator").run()
    assert not at.exception and not at.info
    k = f"_{NEW}_NOISE"
    assert at.text_input(key="ml_hb_id" + k).label == "Scenario id (letters, digits, _ . -)"
    assert "scenario_id" in at.text_input(key="ml_hb_id" + k).help
    assert at.number_input(key="ml_hb_sdm" + k).label == "Noise (standard deviations of the feature)"
    assert "std_dev_multiplier" in at.number_input(key="ml_hb_sdm" + k).help
    assert at.text_input(key="ml_hb_event" + k).label == "Real-world event"
    assert at.selectbox(key=f"ml_hb_type_{NEW}").options == [
        "Noise", "Feature shift", "Missing values", "Out of distribution", "Subgroup"]
    table = next(d for d in at.dataframe if "scenario_id" in d.value.columns)
    assert table.value["stress_type"].tolist() == ["Noise", "Feature shift", "Missing values",
                                                   "Out of distribution", "Subgroup"]
    labels = {c: v.get("label") for c, v in json.loads(table.proto.columns).items()}
    assert labels["real_world_event"] == "Real-world event" and labels["severity_level"] == "Severity"
