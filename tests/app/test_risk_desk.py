"""AppTest of the Risk desk page: renders on an empty store; after a replay through the engine it
shows one row per account; the inbox acknowledges an alert; the kill switch halts an account and
resume makes it ACTIVE again, each checked in the store through the engine's read functions."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from engine.live import workflow as lw

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


def _app() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()


def _desk(at: AppTest):
    found = [d.value for d in at.dataframe if "Trading state" in d.value.columns
             or "trading_state" in d.value.columns]
    assert len(found) == 1
    return found[0].set_index("account_id")


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
    assert [m.label for m in at.metric][1:] == ["P&L total", "VaR 95 % (1 day)",
                                                "Margin utilisation"]
    # The inbox lists the 19 alerts of the replay, none acknowledged.
    alerts = [d.value for d in at.dataframe if "alert_id" in d.value.columns]
    assert len(alerts) == 1 and len(alerts[0]) == 19


def test_acknowledge_an_alert_through_the_form(replayed):
    at = _app()
    target = lw.alerts().alerts[0]
    at.selectbox(key="rd_ack_alert").set_value(target["alert_id"])
    at.text_input(key="rd_ack_by").input("Dana Risk")
    at.text_input(key="rd_ack_note").input("looked at the drawdown")
    at.button(key="FormSubmitter:rd_ack_form-Acknowledge").click().run()
    _ok(at)
    assert any(f"Alert {target['alert_id']} acknowledged by Dana Risk" in s.value.replace("\\", "")
               for s in at.success)
    stored = {a["alert_id"]: a for a in lw.alerts(include_acknowledged=True).alerts}
    acked = stored[target["alert_id"]]
    assert (acked["is_acknowledged"], acked["acknowledged_by"], acked["ack_note"]) == (
        True, "Dana Risk", "looked at the drawdown")
    assert target["alert_id"] not in {a["alert_id"] for a in lw.alerts().alerts}
    assert len(lw.alerts().alerts) == 18
    # No name: the request is refused, the error names the field, nothing else is acknowledged.
    at.text_input(key="rd_ack_by").input("")
    at.button(key="FormSubmitter:rd_ack_form-Acknowledge").click().run()
    assert not at.exception and at.error
    assert len(lw.alerts().alerts) == 18


def test_kill_switch_needs_confirmation_then_halts_and_resume_releases(replayed):
    at = _app()
    at.selectbox(key="rd_kill_account").set_value("beta")
    at.text_input(key="rd_kill_reason").input("limit review")
    at.text_input(key="rd_kill_by").input("Ola Desk")
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

    at.selectbox(key="rd_resume_account").set_value("beta")
    at.text_input(key="rd_resume_by").input("Ola Desk")
    at.button(key="FormSubmitter:rd_resume_form-Resume trading").click().run()
    _ok(at)
    assert _desk(at).loc["beta", "trading_state"] == "ACTIVE"
    assert lw.desk().accounts.set_index("account_id").loc["beta", "trading_state"] == "ACTIVE"


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
