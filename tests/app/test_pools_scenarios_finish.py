"""AppTest of the Pools and Scenarios pages' finish (issue 13): one message for a tape whose
format is not recognised, numbers and labels for reading, assumption sources by name, scenario
keys checked by the engine's rule, a warning for a scenario that changes nothing, and the
refusals a leadership user sees in place of the upload, delete and edit controls.

What the pages stored is read back through the workflow functions on ``Store(path)``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from engine.auth import ACTIONS, Principal
from engine.ingest.models import ASSET_COLUMNS
from tests.app.conftest import add_test_user, reader_text, sign_in

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
SAVE = "FormSubmitter:scen_form-Save scenario"
LEADERSHIP = Principal(user="lee", role="leadership", token_id="t")


@pytest.fixture()
def store(tmp_path, monkeypatch, cheap_argon2):
    """A fresh store per test (its path); the app's cached data are forgotten around it."""
    import streamlit as st

    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def _store(path: Path):
    from engine.store import Store

    return Store(path)


def _app(page: str, *, principal: Principal | None = None) -> AppTest:
    """``pages/<page>.py`` opened by the local single user (admin), or by ``principal`` signed in
    through the sign-in page as a user of the store (``dashboard.signin``)."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    if principal is not None:
        add_test_user(Path(os.environ["STRESSLAB_DB"]), name=principal.user, role=principal.role)
        sign_in(at.run(), principal.user)
        assert f"**{principal.user}** · {principal.role}" in reader_text(at.sidebar.markdown)
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, at.exception
    return at



def _columns(frame_element) -> dict:
    """A dataframe's ``column_config`` as the browser receives it: column → {label, format…}."""
    return json.loads(frame_element.proto.columns or "{}")


# --------------------------------------------------------------------------- Pools

def test_an_unrecognised_tape_gets_one_message(store):
    at = _app("pools")
    at.file_uploader(key="pools_upload").set_value(
        ("odd.csv", b"colour,size\nred,3\nblue,4\n", "text/csv")).run()
    assert not at.exception
    assert len(at.warning) == 1 and not at.error
    assert reader_text(at.warning).startswith("Could not recognise the tape's format from its header.")
    assert reader_text(at.warning).endswith("Choose it under **Mapping** below.")
    assert not any(b.key == "pools_save" for b in at.button)
    # naming a mapping reads the file with it: now its problems are the one message
    at.selectbox(key="pools_format").set_value("native").run()
    assert not at.exception
    assert len(at.error) == 1 and "nothing was stored" in reader_text(at.error)


def test_a_recognised_tape_gets_no_warning(store):
    at = _app("pools")
    tape = pd.read_csv(TAPE, nrows=20).to_csv(index=False).encode()
    at.file_uploader(key="pools_upload").set_value(("twenty.csv", tape, "text/csv")).run()
    assert not at.exception and not at.warning and not at.error
    assert "Lending Club loan tape" in reader_text(at.info)
    assert {m.label: m.value for m in at.metric}["Balance (USD)"].startswith("$")
    applied = next(d.value for d in at.dataframe if "Source" in d.value.columns)
    assert list(applied.columns) == ["Assumption", "Asset class", "Grade", "Loans", "Value", "Source"]
    assert not applied["Source"].str.contains("/|\\.md", regex=True).any()
    assert "Measured on the Lending Club tape" in set(applied["Source"])


def test_the_pool_statistics_use_the_readers_names_with_help(store):
    at = _app("pools")
    metrics = {m.label: m for m in at.metric}
    assert list(metrics) == ["Loans", "Balance (USD)", "Weighted average rate",
                             "Weighted average maturity", "Weighted average CDR"]
    assert metrics["Weighted average CDR"].value == "7.09%"
    assert metrics["Weighted average maturity"].value == "42.2 months"
    assert metrics["Balance (USD)"].help == "Exactly $144,674,740."
    assert all(m.help for m in at.metric)
    assert "WAC" in metrics["Weighted average rate"].help
    assert "WART" in metrics["Weighted average maturity"].help
    assert not [m for m in at.metric if "(currency)" in m.label]


def test_the_preview_formats_every_number_for_reading(store):
    at = _app("pools")
    terms, behaviour = [d for d in at.dataframe if "asset_id" in d.value.columns]
    shown = [*terms.value.columns, *behaviour.value.columns[1:]]
    assert sorted(shown) == sorted(ASSET_COLUMNS)  # every loan column, in one table or the other
    config = {**_columns(terms), **_columns(behaviour)}
    numeric = [c for d in (terms, behaviour) for c in d.value.columns
               if pd.api.types.is_numeric_dtype(d.value[c])]
    assert len(numeric) == 10 and all(config[c]["type_config"].get("format") for c in numeric)
    assert config["balance"]["label"] == "Balance (USD)"
    assert config["original_balance"]["label"] == "Original balance (USD)"
    for rate in ("rate", "prepayment_speed", "default_probability", "recovery_rate",
                 "loss_severity"):
        assert config[rate]["type_config"]["format"] == "percent", rate
    assert config["prepayment_speed"]["label"] == "CPR (annual)"
    assert config["default_probability"]["label"] == "CDR (annual)"
    assert not [c for c in config.values() if "(currency)" in c.get("label", "")]


def test_the_stored_assumptions_name_their_sources(store):
    at = _app("pools")
    applied = next(d.value for d in at.dataframe if "Source" in d.value.columns)
    assert set(applied["Source"]) == {
        "Measured on the Lending Club tape", "Judgement: CDR ladder by Lending Club grade",
        "Lending Club grace-period cure rates (judgement)",
        "Lending Club recoveries (rounded judgement)", "Judgement: recovery lag"}
    cpr = applied[applied["Assumption"] == "CPR (annual)"]
    assert set(cpr["Value"]) == {"12.70%"}  # 0.127 in the table, read as a percentage
    assert set(applied.loc[applied["Assumption"] == "Recovery lag (months)", "Value"]) == {"6 months"}


def test_leadership_may_not_upload_or_delete_a_pool(store):
    at = _app("pools", principal=LEADERSHIP)
    refusals = [i.value for i in at.info if "may not" in i.value]
    assert len(refusals) == 2  # the upload tab and the delete expander
    words = ACTIONS["upload_pool"].words  # "upload or delete a pool"
    assert all(f"Your role (leadership) may not {words};" in reader_text([i]) for i in at.info
               if "may not" in i.value)
    assert not at.get("file_uploader")
    assert not any(b.key == "pools_delete" for b in at.button)
    assert len(at.dataframe) >= 5  # reading stays: pools, breakdowns, preview, assumptions


# --------------------------------------------------------------------------- Scenarios

def test_the_factor_inputs_use_the_readers_names_and_units(store):
    at = _app("scenarios")
    labels = {n.key: n.label for n in at.number_input}
    assert labels == {
        "scen_f_interest_rate_shock": "Interest-rate shock (pp)",
        "scen_f_discount_rate_shock": "Discount-rate shock (pp)",
        "scen_f_default_multiplier": "Default multiplier (×)",
        "scen_f_recovery_multiplier": "Recovery multiplier (×)",
        "scen_f_prepayment_multiplier": "Prepayment multiplier (×)",
        "scen_f_spread_widening": "Spread widening (pp)",
    }
    shock = at.number_input(key="scen_f_interest_rate_shock")
    assert (shock.min, shock.max) == (-5.0, 10.0)
    assert "Valid range -5 … 10 pp; neutral 0 pp." in shock.help
    assert not [label for label in labels.values() if "_" in label or "decimal" in label]


def test_the_library_shows_rates_in_percentage_points(store):
    at = _app("scenarios")
    library = at.dataframe[0]
    row = library.value.set_index("key").loc["rate_shock_up"]
    assert row["interest_rate_shock"] == pytest.approx(3.0)  # +300bp
    assert row["default_multiplier"] == pytest.approx(1.2)
    config = _columns(library)
    assert config["interest_rate_shock"]["label"] == "Rate pp"
    assert config["interest_rate_shock"]["help"].startswith("Interest-rate shock (pp): ")
    guide = next(m.value for m in at.markdown if m.value.startswith("- **Interest-rate shock**"))
    assert re.findall(r"\*\*(.+?)\*\*", guide) == [
        "Interest-rate shock", "Discount-rate shock", "Default multiplier", "Recovery multiplier",
        "Prepayment multiplier", "Spread widening"]
    assert "- **Spread widening** (percentage points; valid 0 … 20, neutral 0): " in guide
    fed = at.table[0].value
    assert fed.loc["Unemployment rate, peak", "Fed 2025 Supervisory Severely Adverse"] == "10.0%"
    assert fed.loc["→ Default multiplier", "Fed 2025 Supervisory Severely Adverse"] == "2.44×"


def test_a_saved_rate_is_stored_as_a_decimal(store):
    at = _app("scenarios")
    at.text_input(key="scen_key").set_value("rates_up")
    at.number_input(key="scen_f_interest_rate_shock").set_value(2.5)  # pp
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error
    from engine.credit.workflow import custom_scenarios

    sc = custom_scenarios(store=_store(store))["rates_up"]
    assert sc.market_factors.named() == {"interest_rate_shock": 0.025}
    assert sc.name == "rates_up"  # no name given: the key
    at.selectbox(key="scen_start").set_value("rates_up").run()  # and back into the form in pp
    assert at.number_input(key="scen_f_interest_rate_shock").value == pytest.approx(2.5)


def test_my_bad_key_is_refused_with_field_value_and_rule(store):
    at = _app("scenarios")
    at.text_input(key="scen_key").set_value("my bad key!")
    at.number_input(key="scen_f_default_multiplier").set_value(2.0)
    at.button(key=SAVE).click().run()
    assert not at.exception
    assert reader_text(at.error).startswith("custom scenario 'my bad key!': 1 problem found")
    issues = at.dataframe[-1].value
    assert list(issues.columns) == ["row", "field", "value", "rule"]
    assert issues.iloc[0][["field", "value"]].tolist() == ["key", "my bad key!"]
    assert issues.iloc[0]["rule"].endswith("write it e.g. as 'my_bad_key'")
    assert not at.success
    from engine.credit.workflow import custom_scenarios

    assert custom_scenarios(store=_store(store)) == {}


def test_a_scenario_that_changes_nothing_is_saved_with_a_warning(store):
    at = _app("scenarios")
    at.text_input(key="scen_key").set_value("flat")
    at.text_input(key="scen_name").set_value("Flat")
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error
    assert "Saved custom scenario **Flat** as flat." in reader_text(at.success)
    assert len(at.warning) == 1
    assert reader_text(at.warning).startswith("Scenario 'flat' changes nothing: every market factor "
                                         "is at its neutral value")
    from engine.credit.workflow import custom_scenarios

    assert list(custom_scenarios(store=_store(store))) == ["flat"]
    at.run()  # the warning belongs to the save, not to the page
    assert not at.warning


def test_a_moved_factor_gets_no_warning(store):
    at = _app("scenarios")
    at.text_input(key="scen_key").set_value("worse")
    at.number_input(key="scen_f_default_multiplier").set_value(1.5)
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error and not at.warning
    assert "Saved custom scenario" in reader_text(at.success)


def test_importing_a_neutral_scenario_warns_about_it(store):
    at = _app("scenarios")
    payload = {"flat": {"name": "Flat"}, "mild": {"market_factors": {"default_multiplier": 1.3}}}
    at.file_uploader(key="scen_import").set_value(
        ("s.json", json.dumps(payload).encode(), "application/json")).run()
    at.button(key="scen_import_go").click().run()
    assert not at.exception and not at.error
    assert "Imported 2 scenarios: flat, mild" in reader_text(at.success)
    assert [reader_text([w]).split("'")[1] for w in at.warning] == ["flat"]


def test_leadership_may_read_and_export_but_not_edit_scenarios(store):
    at = _app("scenarios", principal=LEADERSHIP)
    refusals = [i.value for i in at.info if "may not" in i.value]
    assert len(refusals) == 1
    assert "Your role (leadership)" in refusals[0]
    assert not at.text_input and not at.number_input  # no form
    assert not at.get("file_uploader")  # no import
    assert not any(b.key in ("scen_duplicate", "scen_delete", "scen_import_go") for b in at.button)
    assert "fed_2025_severely_adverse" in set(at.dataframe[0].value["key"])  # the library reads
    assert [d.label for d in at.get("download_button")] == [
        "Export custom scenarios (JSON)", "Export the whole library (JSON)"]


def test_an_analyst_may_edit_scenarios_and_upload_pools(store):
    analyst = Principal(user="ana", role="analyst", token_id="t2")
    at = _app("scenarios", principal=analyst)
    assert not [i for i in at.info if "may not" in i.value]
    assert at.text_input(key="scen_key")
    at.switch_page("../pages/pools.py").run()
    assert not at.exception
    assert not [i for i in at.info if "may not" in i.value]
    assert at.get("file_uploader")


@pytest.mark.parametrize("source,name", [
    ("engine/ingest/data/ASSUMPTIONS.md#lc-tape-prepay", "Measured on the Lending Club tape"),
    ("engine/ingest/data/ASSUMPTIONS.md#fed-nco-2024q2", "Federal Reserve charge-off rates, 2024 Q2"),
    ("engine/ingest/data/ASSUMPTIONS.md#my-own-figure", "My own figure"),
    ("edited in the app", "Edited in the app"),
    ("/home/ana/tables/my assumptions.csv", "my assumptions.csv"),
    ("C:\\Users\\ana\\mine.csv", "mine.csv"),
    (None, "–"),
])
def test_a_source_reads_as_a_name_never_a_path(source, name):
    from dashboard.components.credit import source_name

    assert source_name(source) == name
