"""AppTest of the VaR and limits page: renders, evaluates, switches mode, marks a false positive,
records a VaR report, and shows engine errors (never a traceback) for bad uploads."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.components.format import plain
from engine.auth import Principal
from engine.store import connect

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "market_risk.py")
TIMEOUT = 60


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def _app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    return at.run()


def _frame(at: AppTest, column: str):
    """The displayed table that has ``column`` (AppTest does not expose a dataframe's key)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, f"expected one table with {column!r}"
    return found[0]


def _rows(db, sql):
    con = connect(db)  # the app holds no session between runs
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _as(at: AppTest, user: str, role: str) -> AppTest:
    at.session_state["_principal"] = Principal(user=user, role=role, token_id="t")
    return at


def _text(elements) -> list[str]:
    return [e.value.replace("\\", "") for e in elements]  # plain() escapes punctuation


def test_page_renders_var_table_backtest_and_sensors(db):
    at = _app()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "VaR and limits"
    var = _frame(at, "VaR 99%")
    # Methods read as a reader writes them (issue 13), not as code names.
    assert var["Method"].tolist() == ["Historical", "Parametric (normal)", "Cornish–Fisher",
                                      "Monte Carlo"]
    assert list(var.columns) == ["Method", "VaR 95%", "VaR 99%", "VaR 99.9%", "ES 97.5%"]
    assert at.selectbox(key="mr_bt_method").format_func("cornish_fisher") == "Cornish–Fisher"
    figures = {m.label: m.value for m in at.metric}
    assert figures["Traffic light"] in {"Green", "Yellow", "Red"}
    assert re.fullmatch(r"\d+ of \d{1,3}(,\d{3})*", figures["Exceptions"]), figures["Exceptions"]
    # VaR, ES, Kupiec, Christoffersen and the traffic light carry their help text.
    helps = {m.label: m.help for m in at.metric}
    assert "Proportion-of-failures" in helps["Kupiec p-value"]
    assert "cluster" in helps["Christoffersen p-value"]
    assert "Basel" in helps["Traffic light"]
    details = _frame(at, "Measure")
    assert "Kupiec p-value" in details["Measure"].tolist()
    assert set(_frame(at, "max_drawdown")["name"]) == {"2008 crisis", "2020 crash"}
    sensors = _frame(at, "Sensor")
    assert len(sensors) == 10 and set(sensors["status"]) == {"MONITORING"}
    assert sensors["Sensor"].iloc[0] == "VaR"
    assert len(at.get("plotly_chart")) == 1
    # The audit trail is verified on demand, not on every rerun.
    assert not any("Audit trail" in w for w in _text(at.warning))
    assert _rows(db, "SELECT count(*) FROM runs") == [(0,)]  # computing records nothing


def test_audit_trail_is_verified_on_demand_and_stays_shown(db):
    at = _app()
    at.session_state["mr_section"] = "Metrics and audit"
    at.run()
    assert not at.exception
    assert not any("Audit trail:" in w for w in _text(at.warning))
    at.button(key="mr_verify").click().run()
    # No signing key in the test's key directory: the trail is intact but unsigned.
    assert any("Audit trail: UNSIGNED, 0 records" in w for w in _text(at.warning))
    at.run()  # another rerun shows the same result without verifying again
    assert any("Audit trail: UNSIGNED, 0 records" in w for w in _text(at.warning))
    assert at.session_state["mr_section"] == "Metrics and audit"


def test_limit_reasons_read_amounts_in_usd(db):
    at = _app()
    at.session_state["mr_section"] = "Limits and sensors"
    at.button(key="mr_evaluate").click().run()
    assert not at.exception and not at.error
    said = " ".join(_text(at.success))
    assert "recorded by " in said and "e+0" not in said
    decisions = _frame(at, "reason")
    reasons = decisions["reason"].tolist()
    assert not any("e+0" in r for r in reasons), reasons
    stress = decisions.set_index("Rule").loc["Worst stress loss"]
    # The bundled positions lose about $1.22M in their worst window, above the $1.2M limit.
    assert stress["reason"].startswith("Worst stress loss $1,2")
    assert "above the limit $1,200,000 (USD)" in stress["reason"]
    assert (stress["Limit"], stress["Value"][:3]) == ("$1,200,000", "$1,")
    assert decisions.set_index("Rule").loc["Leverage (gross / capital)", "Limit"] == "2.50×"
    assert at.session_state["mr_section"] == "Limits and sensors"  # still where the user was
    breaches = _frame(at, "fp_reason")
    assert "e+0" not in " ".join(breaches["Value"].tolist() + breaches["Limit"].tolist())


def test_evaluate_switch_mode_and_mark_false_positive(db):
    at = _app()  # the local single user: admin
    at.button(key="mr_evaluate").click().run()
    assert not at.exception and not at.error
    assert any("recorded" in s for s in _text(at.success))
    at.radio(key="mr_mode").set_value("gradual").run()
    assert not at.exception
    assert any("Mode set to gradual" in s for s in _text(at.success))
    at.text_input(key="mr_fp_reason").input("stale price feed")
    at.button(key="FormSubmitter:mr_fp_form-Mark false positive").click().run()
    assert not at.exception and not at.error
    rows = _rows(db, "SELECT event_type FROM audit_chain ORDER BY seq")
    types = [r[0] for r in rows]
    assert types[0] == "evaluation" and "mode_change" in types and types[-1] == "false_positive"
    assert _rows(db, "SELECT new_mode FROM market_mode_changes") == [("gradual",)]
    runs = _rows(db, "SELECT kind, summary FROM runs")
    assert len(runs) == 1 and runs[0][0] == "market"
    assert runs[0][1].startswith("limit evaluation (monitoring mode): ")


def test_false_positive_stays_on_breaches_with_a_lasting_confirmation_naming_the_user(db):
    at = _as(AppTest.from_file(PAGE, default_timeout=TIMEOUT), "ana", "analyst").run()
    at.button(key="mr_evaluate").click().run()  # an analyst may run the evaluation
    assert not at.exception and not at.error
    # The evaluation is recorded under the signed-in user's name.
    assert _rows(db, "SELECT json_extract_string(configuration, '$.requested_by') FROM runs") \
        == [("ana",)]
    at.session_state["mr_section"] = "Breaches"
    at.run()
    breach = at.selectbox(key="mr_fp_breach").value
    at.text_input(key="mr_fp_reason").input("stale price feed")
    at.button(key="FormSubmitter:mr_fp_form-Mark false positive").click().run()
    assert not at.exception and not at.error
    said = f"Breach {breach} marked as a false positive by ana"
    assert at.session_state["mr_section"] == "Breaches"
    assert any(said in s for s in _text(at.success))
    at.number_input(key="mr_var_window").set_value(400).run()  # any later rerun
    assert at.session_state["mr_section"] == "Breaches"
    assert any(said in s for s in _text(at.success)), "the confirmation must last"
    assert _rows(db, "SELECT breach_id, reason FROM market_false_positives") == [
        (breach, "stale price feed")]
    # An analyst may not change the mode: no radio, the refusal names the role.
    assert not [r for r in at.radio if r.key == "mr_mode"]
    assert any("needs the role admin" in i.value for i in at.info)


def test_leadership_reads_but_records_nothing(db):
    at = _as(AppTest.from_file(PAGE, default_timeout=TIMEOUT), "lee", "leadership").run()
    assert not at.exception and not at.error
    keys = {b.key for b in at.button}
    assert not keys & {"mr_record_var", "mr_record_bt", "mr_evaluate"}
    assert not [r for r in at.radio if r.key == "mr_mode"]
    refusals = [i.value for i in at.info]
    assert any("may not run a market-risk calculation" in r for r in refusals)
    assert _frame(at, "VaR 99%")["Method"].iloc[2] == "Cornish–Fisher"  # reading is allowed
    assert _rows(db, "SELECT count(*) FROM runs") == [(0,)]


def test_record_var_report_and_backtest_store_one_run_each(db):
    at = _app()
    at.button(key="mr_record_var").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("VaR report recorded as run" in s.value for s in at.success)
    at.button(key="mr_record_bt").click().run()
    assert not at.exception and not at.error
    assert any("Backtest recorded as run" in s.value for s in at.success)
    summaries = sorted(r[0] for r in _rows(db, "SELECT summary FROM runs WHERE kind = 'market'"))
    assert len(summaries) == 2
    assert summaries[0].startswith("VaR 99 % (historical) ")
    assert summaries[1].startswith("backtest historical VaR 99 % on portfolio")


def test_a_stress_window_ending_before_it_starts_is_an_engine_error(db):
    at = _app()
    at.text_input(key="mr_st_name").input("mine")
    at.date_input(key="mr_st_end").set_value(date(2021, 1, 4)).run()
    assert not at.exception
    assert any(e.value.startswith(plain("stress replay request: 1 problem")) for e in at.error)
    issues = _frame(at, "rule")  # show_error lays the validation issues out as a table
    assert "must precede end" in issues["rule"].iloc[0]


def test_bad_price_upload_shows_an_error_not_a_traceback(db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    # AppTest cannot drive st.file_uploader; call the page's cached loader the way it does.
    from dashboard.components.market import cached_inputs
    from engine.errors import ValidationError
    from engine.market.workflow import DataFile, InputsRequest

    bad = DataFile.from_bytes(b"date,A\n2024-01-02,1\n2024-01-01,2\n", name="bad.csv")
    with pytest.raises(ValidationError, match="sorted ascending"):
        cached_inputs(InputsRequest.build(prices=bad))


def test_limit_evaluation_report_is_built_on_demand(db):
    at = _app()
    at.session_state["mr_section"] = "Limits and sensors"
    at.button(key="mr_evaluate").click().run()
    labels = [b.label for b in at.get("download_button")]
    assert "Download report (PDF)" not in labels  # nothing built on a rerun
    at.button(key="mr_prepare_report").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = [b.label for b in at.get("download_button")]
    assert {"Download report (HTML)", "Download report (PDF)"} <= set(labels)
    evaluation = _rows(db, "SELECT evaluation_id FROM market_evaluations")[0][0]
    assert at.session_state["mr_reports"][0] == evaluation
    html = at.session_state["mr_reports"][1]["html"].content.decode()
    assert evaluation in html


def test_a_stress_window_from_2008_can_be_entered_and_is_replayed(db):
    """The date pickers reach back over the whole price history, not ±10 years of today."""
    at = _app()
    at.text_input(key="mr_st_name").input("Lehman weeks")
    at.date_input(key="mr_st_start").set_value(date(2008, 9, 1))
    at.date_input(key="mr_st_end").set_value(date(2008, 11, 28)).run()
    assert not at.exception
    assert not at.error
    for key in ("mr_st_start", "mr_st_end"):  # the whole history, from its first day (1990)
        assert at.date_input(key=key).min == date(1990, 1, 2)
    windows = _frame(at, "max_drawdown").set_index("name")
    # 2008-09-01 was Labor Day: the replay starts on the next trading day.
    assert str(windows.loc["Lehman weeks", "start"]) == "2008-09-02"
    assert str(windows.loc["Lehman weeks", "end"]) == "2008-11-28"
