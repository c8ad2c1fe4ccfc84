"""AppTest of the Risk desk page: renders on an empty store; after a replay through the engine it
shows one row per account; the inbox acknowledges an alert; the kill switch halts an account and
resume makes it ACTIVE again, each checked in the store through the engine's read functions.
Roles (issue 13): the name recorded is the signed-in user's; leadership is refused the kill
switch and the acknowledgement, and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from engine.auth import Principal
from engine.live import workflow as lw
from engine.store import connect

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "risk_desk.py")
TIMEOUT = 60
#: The bundled replay stopped here has 3 accounts, 55 trades and 19 alerts (gamma's first on
#: 2021-01-25); the blotter starts on 2021-01-04.
UNTIL = "2021-01-31"


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "desk.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


@pytest.fixture()
def replayed(db):
    result = lw.replay(lw.ReplayRequest.build(example=True, until=UNTIL))
    assert (result.status, result.trades_applied, result.alerts_raised) == ("until", 55, 19)
    return db


def _app(principal: Principal | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    if principal is not None:
        at.session_state["_principal"] = principal
    return at.run()


ANA = Principal(user="ana", role="analyst", token_id="t")
LEE = Principal(user="lee", role="leadership", token_id="t")
ADA = Principal(user="ada", role="admin", token_id="t")


def _desk(at: AppTest):
    found = [d.value for d in at.dataframe if "Trading state" in d.value.columns
             or "trading_state" in d.value.columns]
    assert len(found) == 1
    return found[0].set_index("account_id")


def _changes(db) -> list[tuple]:
    """Manual trading-state changes in the store: (account, action, new state, changed by)."""
    con = connect(db)  # the app holds no session between runs
    try:
        return con.execute("SELECT account_id, action, new_state, changed_by FROM "
                           "live_state_changes WHERE action IN ('kill_switch', 'resume') "
                           "ORDER BY changed_at").fetchall()
    finally:
        con.close()


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_empty_store_renders_with_the_synthetic_note(db):
    at = _app()
    _ok(at)
    assert at.title[0].value == "Risk desk"
    assert "SYNTHETIC trade blotter" in at.info[0].value.replace("\\", "")
    assert "real S&P 500 daily closes" in at.info[0].value.replace("\\", "")
    assert any("No replay in the store yet" in i.value for i in at.info)
    assert not at.dataframe  # no desk, no alerts
    assert at.button(key="rd_start").disabled is False
    assert at.button(key="rd_pause").disabled is True


def test_replayed_desk_shows_a_row_per_account_and_the_charts(replayed):
    at = _app()
    _ok(at)
    desk = _desk(at)
    assert list(desk.index) == ["alpha", "beta", "gamma"]
    engine_rows = lw.desk().accounts.set_index("account_id")
    assert desk["risk_score"].tolist() == engine_rows["risk_score"].tolist()
    assert set(desk["trading_state"]) == {"ACTIVE"}
    assert desk.loc["gamma", "open_alerts"] == engine_rows.loc["gamma", "open_alerts"] > 0
    assert any("Events 5,767 of 16,888" in p.proto.text for p in at.get("progress"))
    assert len(at.get("plotly_chart")) == 2
    assert [m.label for m in at.metric][1:] == ["P&L total (USD)", "VaR 95% (1 day, USD)",
                                                "Margin utilisation"]
    assert all(m.value.replace("\\", "").startswith(("$", "-$")) for m in at.metric[:3])
    # The inbox lists the 19 alerts of the replay, none acknowledged.
    alerts = [d.value for d in at.dataframe if "alert_id" in d.value.columns]
    assert len(alerts) == 1 and len(alerts[0]) == 19


def test_acknowledge_an_alert_records_the_signed_in_user(replayed):
    at = _app(ANA)
    assert not [t for t in at.text_input if t.key == "rd_ack_by"]  # no name field any more
    target = lw.alerts().alerts[0]
    at.selectbox(key="rd_ack_alert").set_value(target["alert_id"])
    at.text_input(key="rd_ack_note").input("looked at the drawdown")
    at.button(key="FormSubmitter:rd_ack_form-Acknowledge").click().run()
    _ok(at)
    said = f"Alert {target['alert_id']} acknowledged by ana"
    assert any(said in s.value.replace("\\", "") for s in at.success)
    stored = {a["alert_id"]: a for a in lw.alerts(include_acknowledged=True).alerts}
    acked = stored[target["alert_id"]]
    assert (acked["is_acknowledged"], acked["acknowledged_by"], acked["ack_note"]) == (
        True, "ana", "looked at the drawdown")
    assert target["alert_id"] not in {a["alert_id"] for a in lw.alerts().alerts}
    assert len(lw.alerts().alerts) == 18
    at.checkbox(key="rd_alert_all").check().run()  # a later rerun: the confirmation lasts
    assert any(said in s.value.replace("\\", "") for s in at.success)


def test_leadership_is_refused_acknowledgement_kill_switch_and_compliance(replayed):
    at = _app(LEE)
    _ok(at)
    assert list(_desk(at).index) == ["alpha", "beta", "gamma"]  # reading is allowed
    keys = {b.key for b in at.button}
    assert not keys & {"FormSubmitter:rd_ack_form-Acknowledge",
                       "FormSubmitter:rd_kill_form-Trigger kill switch",
                       "FormSubmitter:rd_resume_form-Resume trading", "rd_comp_run"}
    assert at.button(key="rd_start").disabled is True
    refusals = " ".join(i.value for i in at.info)
    assert "may not acknowledge an alert" in refusals
    assert "may not use the kill switch or resume an account" in refusals
    assert "may not run a compliance check" in refusals
    # Nothing stored: every alert still open, every account ACTIVE, no compliance check.
    assert len(lw.alerts().alerts) == 19
    assert set(lw.desk().accounts["trading_state"]) == {"ACTIVE"}
    assert lw.compliance_results("alpha").check is None
    assert _changes(replayed) == []


def test_an_analyst_may_not_use_the_kill_switch(replayed):
    at = _app(ANA)
    _ok(at)
    assert not [c for c in at.checkbox if c.key == "rd_kill_confirm"]
    assert any("needs the role admin" in i.value for i in at.info)
    assert set(lw.desk().accounts["trading_state"]) == {"ACTIVE"}
    assert _changes(replayed) == []


def test_kill_switch_needs_confirmation_then_halts_and_resume_releases(replayed):
    at = _app(ADA)
    at.session_state["rd_section"] = "Kill switch"
    at.selectbox(key="rd_kill_account").set_value("beta")
    at.text_input(key="rd_kill_reason").input("limit review")
    at.button(key="FormSubmitter:rd_kill_form-Trigger kill switch").click().run()
    assert not at.exception
    assert any("tick the confirmation box" in e.value.replace("\\", "") for e in at.error)
    assert lw.desk().accounts.set_index("account_id").loc["beta", "trading_state"] == "ACTIVE"

    at.checkbox(key="rd_kill_confirm").check()
    at.button(key="FormSubmitter:rd_kill_form-Trigger kill switch").click().run()
    _ok(at)
    assert _desk(at).loc["beta", "trading_state"] == "HALTED"
    assert _desk(at).loc["alpha", "trading_state"] == "ACTIVE"
    states = lw.desk().accounts.set_index("account_id")["trading_state"].to_dict()
    assert states == {"alpha": "ACTIVE", "beta": "HALTED", "gamma": "ACTIVE"}
    # The admin's signed-in name is recorded (the API's kill-switch log reads it back).
    assert any("beta is HALTED (was ACTIVE), by ada" in s.value.replace("\\", "")
               for s in at.success)
    assert at.session_state["rd_section"] == "Kill switch"  # still where the user was

    at.selectbox(key="rd_resume_account").set_value("beta")
    at.button(key="FormSubmitter:rd_resume_form-Resume trading").click().run()
    _ok(at)
    assert any("beta is ACTIVE again, by ada" in s.value.replace("\\", "") for s in at.success)
    assert _desk(at).loc["beta", "trading_state"] == "ACTIVE"
    assert lw.desk().accounts.set_index("account_id").loc["beta", "trading_state"] == "ACTIVE"
    assert _changes(replayed) == [("beta", "kill_switch", "HALTED", "ada"),
                                  ("beta", "resume", "ACTIVE", "ada")]


def test_compliance_check_is_stored_and_shown(replayed):
    at = _app()
    at.selectbox(key="rd_comp_account").set_value("alpha")
    at.button(key="rd_comp_run").click().run()
    _ok(at)
    view = lw.compliance_results("alpha")
    assert view.check is not None and view.check["rules_checked"] == 11
    shown = [d.value for d in at.dataframe if "rule_id" in d.value.columns
             or "regulation" in d.value.columns]
    assert len(shown) == 1 and len(shown[0]) == 11
    # Values and limits read in their units (issue 13): no "2e+07", regulators' names.
    table = shown[0].set_index("title")
    assert "e+0" not in " ".join(table["measured"].tolist() + table["limit"].tolist())
    day = table.loc[[t for t in table.index if t.startswith("Large trader") and "one day" in t][0]]
    assert (day["regulation"], day["limit"]) == ("SEC", "< $20,000,000")
    assert day["measured"].startswith("$")
