"""The risk desk over HTTP and its WebSocket, against the bundled example replayed into the store.

The bundled replay (real S&P 500 closes, a SYNTHETIC blotter of three accounts: alpha with an
initial capital of 2,000,000, beta 1,000,000, gamma 500,000) is run once per test process into a
prepared file (about 1.5 s), copied for each test. Every answer is checked against the live
workflow's own output on the same store (``status``, ``history``, ``alerts`` …), against the
command line's JSON, or against figures a reader can recompute from the answer.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from engine.api.app import create_app
from engine.audit.runs import list_runs
from engine.auth.workflow import TokenRequest, create_token
from engine.canonical import canonical
from engine.errors import InputError
from engine.live import workflow as lw
from engine.store import Store

#: The bundled replay's last event (a close, 21:00 UTC) and size.
LAST_EVENT = "2022-12-28T21:00:00"
EVENTS, TRADES, ALERTS = 16_888, 1_054, 221
#: Where the partly replayed desk stops (19 alerts), and where the WebSocket test goes on to.
PART_UNTIL, PART_NEXT = "2021-01-31", "2021-03-31"
INITIAL_CAPITAL = {"alpha": 2_000_000.0, "beta": 1_000_000.0, "gamma": 500_000.0}


@dataclass(frozen=True)
class Prepared:
    path: Path
    result: lw.ReplayResult


def _prepare(folder: Path, until: str | None) -> Prepared:
    path = folder / "desk.duckdb"
    result = lw.replay(lw.ReplayRequest.build(example=True, until=until), store=Store(path))
    return Prepared(path=path, result=result)


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The whole bundled example, replayed once per test process."""
    prepared = _prepare(tmp_path_factory.mktemp("live-full"), None)
    assert (prepared.result.status, prepared.result.events_done,
            prepared.result.trades_applied, prepared.result.alerts_raised) == \
        ("finished", EVENTS, TRADES, ALERTS)
    return prepared


@pytest.fixture(scope="session")
def replayed_part(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The bundled example up to the end of January 2021."""
    prepared = _prepare(tmp_path_factory.mktemp("live-part"), PART_UNTIL)
    assert (prepared.result.status, prepared.result.alerts_raised) == ("until", 19)
    return prepared


@pytest.fixture
def api_store(tmp_path: Path, replayed: Prepared) -> Store:
    """The conftest's store, holding a copy of the replayed desk (so ``client`` and ``auth``
    work on it)."""
    path = tmp_path / "api.duckdb"
    shutil.copyfile(replayed.path, path)
    return Store(path, timeout=5)


def _rows(store: Store, sql: str, *params) -> list[tuple]:
    with store.read() as con:
        return con.execute(sql, list(params)).fetchall()


def _json(obj) -> object:
    """An engine object as the API's JSON (times as ISO text, no NaN or infinity)."""
    return json.loads(json.dumps(canonical(obj)))


# --------------------------------------------------------------------------- panels

@pytest.mark.parametrize("account", ["alpha", "gamma"])
def test_the_three_panels_are_the_status_json_of_the_command(client, auth, api_store, account,
                                                             monkeypatch, capsys) -> None:
    from engine.cli import main

    headers = auth("leadership")
    got = {panel: client.get(f"/api/v1/{path}", headers=headers)
           for panel, path in [("risk", f"risk/{account}/metrics"),
                               ("pl", f"pl/{account}/current"),
                               ("portfolio", f"portfolio/{account}/analytics")]}
    assert {k: r.status_code for k, r in got.items()} == {"risk": 200, "pl": 200, "portfolio": 200}
    answers = {k: r.json() for k, r in got.items()}
    assert answers == _json(lw.status(account, store=api_store).panels())
    monkeypatch.setenv("STRESSLAB_DB", str(api_store.path))
    capsys.readouterr()
    assert main(["live", "status", "--account", account, "--json"]) == 0
    assert answers == json.loads(capsys.readouterr().out)
    assert answers["risk"]["trading_state"] == "ACTIVE"
    assert set(answers["risk"]["risk_components"]) == {"position", "leverage", "concentration",
                                                       "correlation", "liquidity", "pl"}


def test_trends_are_the_last_risk_updates(client, auth, api_store) -> None:
    headers = auth("validator")
    r = client.get("/api/v1/risk/alpha/trends?limit=5", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["account_id"], body["as_of"]) == ("alpha", LAST_EVENT)
    points = body["points"]
    history = lw.history("alpha", limit=5, store=api_store)
    assert [p["risk_score"] for p in points] == history["risk_score"].tolist()
    assert [p["total_exposure"] for p in points] == history["total_exposure"].tolist()
    assert [p["event_index"] for p in points] == history["event_index"].tolist()
    assert [p["event_at"] for p in points] == sorted(p["event_at"] for p in points)
    risk = lw.status("alpha", store=api_store).risk
    last = points[-1]
    assert last["event_at"] == LAST_EVENT
    assert (last["risk_score"], last["var_95"], last["current_leverage"],
            last["margin_utilization"], last["risk_level"]) == \
        (risk.risk_score, risk.var_95, risk.current_leverage, risk.margin_utilization,
         risk.risk_level)
    assert body == _json(lw.risk_trends("alpha", limit=5, store=api_store))
    # the default is the last 500 of alpha's updates
    everything = lw.history("alpha", store=api_store)
    assert len(everything) > 500
    default = client.get("/api/v1/risk/alpha/trends", headers=headers).json()["points"]
    assert [p["event_index"] for p in default] == everything["event_index"].tolist()[-500:]


def test_pl_history_is_a_window_of_feed_time(client, auth, api_store) -> None:
    headers = auth("analyst")
    full = lw.history("alpha", store=api_store)
    for hours in (24, 720, 8760):
        r = client.get(f"/api/v1/pl/alpha/history?hours={hours}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        since = datetime.fromisoformat(LAST_EVENT) - timedelta(hours=hours)
        assert (body["as_of"], body["since"], body["hours"]) == \
            (LAST_EVENT, since.isoformat(), hours)
        inside = full[(full["event_at"] >= since)]
        assert [p["event_index"] for p in body["points"]] == inside["event_index"].tolist()
        assert [p["total_pl"] for p in body["points"]] == inside["total_pl"].tolist()
        assert all(since.isoformat() <= p["event_at"] <= LAST_EVENT for p in body["points"])
    pl = lw.status("alpha", store=api_store).pl
    last = body["points"][-1]
    assert (last["event_at"], last["total_pl"], last["daily_pl"], last["market_value"]) == \
        (LAST_EVENT, pl.total_pl, pl.daily_pl, pl.market_value)
    # 24 hours before the last close reach back to the close before it (the window is closed)
    day = client.get("/api/v1/pl/alpha/history", headers=headers).json()
    assert day["hours"] == 24 and day["points"][0]["event_at"] == "2022-12-27T21:00:00"


@pytest.mark.parametrize("hours", ["0", "8761", "-1", "1.5", "x"])
def test_hours_outside_1_to_8760_is_422(client, auth, hours) -> None:
    r = client.get(f"/api/v1/pl/alpha/history?hours={hours}", headers=auth("analyst"))
    assert r.status_code == 422, r.text
    assert [i["column"] for i in r.json()["issues"]] == ["hours"]


def test_the_workflow_refuses_hours_outside_the_window_too(api_store) -> None:
    for hours in (0, 8761, True):
        with pytest.raises(InputError, match="hours must be a whole number from 1 to 8760"):
            lw.pl_history("alpha", hours=hours, store=api_store)


def test_performance_is_the_portfolio_panel_with_its_equity_curve(client, auth,
                                                                  api_store) -> None:
    r = client.get("/api/v1/portfolio/alpha/performance", headers=auth("leadership"))
    assert r.status_code == 200, r.text
    body = r.json()
    panel = lw.status("alpha", store=api_store).portfolio
    capital = INITIAL_CAPITAL["alpha"]
    assert body["initial_capital"] == capital
    assert (body["total_value"], body["daily_return"], body["sharpe_ratio"], body["volatility"],
            body["max_drawdown"]) == (panel.total_value, panel.daily_return, panel.sharpe_ratio,
                                      panel.volatility, panel.max_drawdown)
    assert body["total_return"] == pytest.approx(panel.total_value / capital - 1.0, rel=1e-12)
    assert body["total_pl"] == pytest.approx(panel.total_value - capital, rel=1e-9)
    curve = body["equity_curve"]
    assert curve[-1] == {"day": LAST_EVENT[:10], "equity": panel.total_value,
                         "daily_return": panel.daily_return, "closed": False}
    assert all(p["closed"] for p in curve[:-1])
    equity = np.array([capital] + [p["equity"] for p in curve])
    returns = equity[1:] / equity[:-1] - 1.0
    assert [p["daily_return"] for p in curve] == pytest.approx(returns.tolist(), rel=1e-12)
    assert body["return_days"] == len(curve) == len(returns)
    # quantstats' Sharpe ratio and volatility of those returns (risk free 0, 252 periods)
    assert body["periods_per_year"] == 252 and body["risk_free_rate"] == 0.0
    assert body["sharpe_ratio"] == pytest.approx(
        returns.mean() / returns.std(ddof=1) * math.sqrt(252), rel=1e-9)
    assert body["volatility"] == pytest.approx(returns.std(ddof=1) * math.sqrt(252), rel=1e-9)
    assert body["max_drawdown"] == pytest.approx(
        (equity / np.maximum.accumulate(equity) - 1.0).min(), rel=1e-9)


# --------------------------------------------------------------------------- alerts

def test_active_alerts_are_the_unacknowledged_alerts(client, auth, api_store) -> None:
    headers = auth("leadership")
    body = client.get("/api/v1/alerts/active", headers=headers).json()
    every = lw.alerts(limit=10_000, store=api_store).alerts
    assert body["total_active_alerts"] == len(every) == ALERTS
    assert body["alerts"] == _json(lw.alerts(limit=500, store=api_store).alerts)
    gamma = client.get("/api/v1/alerts/active?account_id=gamma&limit=3", headers=headers).json()
    of_gamma = lw.alerts(account_id="gamma", limit=10_000, store=api_store).alerts
    assert gamma["total_active_alerts"] == len(of_gamma) > 3
    assert gamma["alerts"] == _json(of_gamma[:3])
    assert {a["account_id"] for a in gamma["alerts"]} == {"gamma"}
    assert set(gamma["alerts"][0]) >= {"alert_id", "account_id", "alert_type", "severity",
                                       "title", "message", "risk_score", "triggered_at",
                                       "is_acknowledged"}


def test_an_acknowledgement_is_the_token_users(client, auth, api_store) -> None:
    newest = lw.alerts(account_id="alpha", store=api_store).alerts[0]["alert_id"]
    r = client.post(f"/api/v1/alerts/{newest}/acknowledge", json={"acknowledged_by": "ana"},
                    headers=auth("analyst", user="ana"))
    assert r.status_code == 200, r.text
    assert (r.json()["alert_id"], r.json()["acknowledged_by"], r.json()["note"]) == \
        (newest, "ana", None)
    stored = {a["alert_id"]: a for a in lw.alerts(include_acknowledged=True, limit=10_000,
                                                  store=api_store).alerts}[newest]
    assert (stored["is_acknowledged"], stored["acknowledged_by"], stored["ack_note"]) == \
        (True, "ana", None)
    active = client.get("/api/v1/alerts/active", headers=auth("leadership")).json()
    assert active["total_active_alerts"] == ALERTS - 1
    assert newest not in {a["alert_id"] for a in active["alerts"]}
    again = client.post(f"/api/v1/alerts/{newest}/acknowledge", json={"acknowledged_by": "ana"},
                        headers=auth("analyst", user="ana"))
    assert again.status_code == 422 and "already acknowledged by ana" in again.json()["message"]


def test_another_name_in_the_body_goes_into_the_note(client, auth, api_store) -> None:
    first, second = [a["alert_id"] for a in lw.alerts(account_id="gamma",
                                                      store=api_store).alerts[:2]]
    headers = auth("analyst", user="ana")
    r = client.post(f"/api/v1/alerts/{first}/acknowledge",
                    json={"acknowledged_by": "bob", "note": "hedged"}, headers=headers)
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/alerts/{second}/acknowledge", json={"acknowledged_by": "bob"},
                    headers=headers)
    assert r.status_code == 200, r.text
    stored = {a["alert_id"]: (a["acknowledged_by"], a["ack_note"])
              for a in lw.alerts(include_acknowledged=True, limit=10_000,
                                 store=api_store).alerts}
    assert stored[first] == ("ana", "hedged; acknowledged_by given as 'bob'")
    assert stored[second] == ("ana", "acknowledged_by given as 'bob'")


def test_acknowledging_needs_the_analyst_or_admin_role(client, auth, api_store) -> None:
    alert_id = lw.alerts(account_id="beta", store=api_store).alerts[0]["alert_id"]
    url = f"/api/v1/alerts/{alert_id}/acknowledge"
    for role in ("leadership", "validator"):
        r = client.post(url, json={"acknowledged_by": role}, headers=auth(role))
        assert r.status_code == 403, r.text
        assert r.json()["allowed"] == ["analyst", "admin"]
    assert lw.alerts(account_id="beta", store=api_store).alerts[0]["alert_id"] == alert_id
    r = client.post(url, json={"acknowledged_by": "x", "by": "y"}, headers=auth("admin"))
    assert r.status_code == 422 and r.json()["issues"][0]["column"] == "by"
    r = client.post(url, json={"acknowledged_by": "root"}, headers=auth("admin", user="root"))
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "root"
    r = client.post("/api/v1/alerts/nope/acknowledge", json={"acknowledged_by": "ana"},
                    headers=auth("analyst"))
    assert r.status_code == 404 and "no alert 'nope'" in r.json()["message"]


# --------------------------------------------------------------------------- kill switch

def _state_changes(store: Store) -> list[tuple]:
    return _rows(store, "SELECT account_id, old_state, new_state, action, changed_by, reason"
                        " FROM live_state_changes ORDER BY changed_at")


@pytest.mark.parametrize("role", ["analyst", "validator", "leadership"])
def test_the_kill_switch_is_refused_to_every_role_but_admin(client, auth, api_store,
                                                            role) -> None:
    r = client.post("/api/v1/system/emergency/kill-switch/alpha?reason=drill",
                    headers=auth(role))
    assert r.status_code == 403, r.text
    assert r.json()["allowed"] == ["admin"]
    assert lw.status("alpha", store=api_store).risk.trading_state == "ACTIVE"
    assert _state_changes(api_store) == []
    r = client.post("/api/v1/system/emergency/resume/alpha", headers=auth(role))
    assert r.status_code == 403


def test_the_kill_switch_by_an_admin_halts_the_account_as_the_token_user(client, auth,
                                                                         api_store) -> None:
    admin = auth("admin", user="ops-lead")
    r = client.post("/api/v1/system/emergency/kill-switch/alpha?reason=limit%20breach",
                    headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["old_state"], r.json()["new_state"], r.json()["by"], r.json()["reason"]) == \
        ("ACTIVE", "HALTED", "ops-lead", "limit breach")
    assert lw.status("alpha", store=api_store).risk.trading_state == "HALTED"
    assert lw.status("beta", store=api_store).risk.trading_state == "ACTIVE"
    assert client.get("/api/v1/risk/alpha/metrics",
                      headers=auth("leadership")).json()["trading_state"] == "HALTED"
    again = client.post("/api/v1/system/emergency/kill-switch/alpha?reason=x", headers=admin)
    assert again.status_code == 422 and "already HALTED" in again.json()["message"]
    r = client.post("/api/v1/system/emergency/resume/alpha", headers=admin)
    assert r.status_code == 200 and r.json()["new_state"] == "ACTIVE"
    r = client.post("/api/v1/system/emergency/kill-switch/beta?reason=de-risk&reduce_only=true",
                    headers=auth("admin", user="cro"))
    assert r.status_code == 200 and r.json()["new_state"] == "REDUCING"
    assert _state_changes(api_store) == [
        ("alpha", "ACTIVE", "HALTED", "kill_switch", "ops-lead", "limit breach"),
        ("alpha", "HALTED", "ACTIVE", "resume", "ops-lead", "resumed"),
        ("beta", "ACTIVE", "REDUCING", "reduce_only", "cro", "de-risk")]


def test_the_kill_switch_needs_a_reason(client, auth, api_store) -> None:
    for url in ("/api/v1/system/emergency/kill-switch/alpha",
                "/api/v1/system/emergency/kill-switch/alpha?reason=%20%20"):
        r = client.post(url, headers=auth("admin"))
        assert r.status_code == 422, r.text
        assert r.json()["issues"][0]["column"] == "reason"
    assert _state_changes(api_store) == []


# --------------------------------------------------------------------------- compliance

def test_a_compliance_check_is_stored_with_who_requested_it(client, auth, api_store) -> None:
    r = client.post("/api/v1/compliance/alpha/check", json={"regulations": ["finra"]},
                    headers=auth("analyst", user="ana"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["account_id"], body["regulations"], body["requested_by"], body["as_of"]) == \
        ("alpha", ["finra"], "ana", LAST_EVENT)
    assert body["results"] and {x["regulation"] for x in body["results"]} == {"finra"}
    assert body["rules_checked"] == len(body["results"])
    assert body["non_compliant"] == sum(x["status"] == "non_compliant" for x in body["results"])
    assert body["compliant"] == (body["non_compliant"] == 0)
    stored = lw.compliance_results("alpha", store=api_store)
    assert stored.check["check_id"] == body["check_id"]
    assert stored.results["rule_id"].tolist() == [x["rule_id"] for x in body["results"]]
    with api_store.read() as con:
        runs = list_runs(con, kind="live").set_index("run_id")
    assert runs.loc[body["run_id"], "requested_by"] == "ana"
    assert runs.loc[body["run_id"], "subject_id"] == "alpha"
    summary = client.get("/api/v1/compliance/alpha/summary", headers=auth("leadership"))
    assert summary.status_code == 200 and summary.json() == body


def test_a_compliance_check_needs_the_analyst_role_and_known_regulations(client, auth,
                                                                        api_store) -> None:
    url = "/api/v1/compliance/alpha/check"
    r = client.post(url, json={"regulations": ["finra"]}, headers=auth("leadership"))
    assert r.status_code == 403
    r = client.post(url, json={"regulations": ["basel_iv"]}, headers=auth("analyst"))
    assert r.status_code == 422 and "basel_iv" in r.json()["message"]
    r = client.post(url, json={"rules": "/etc/passwd"}, headers=auth("analyst"))
    assert r.status_code == 422 and r.json()["issues"][0]["column"] == "rules"
    assert lw.compliance_results("alpha", store=api_store).check is None
    summary = client.get("/api/v1/compliance/alpha/summary", headers=auth("analyst")).json()
    assert (summary["check_id"], summary["compliant"], summary["results"]) == (None, None, [])
    r = client.post(url, json={}, headers=auth("admin", user="root"))
    assert r.status_code == 200 and r.json()["requested_by"] == "root"
    assert set(r.json()["regulations"]) == {"mifid_ii", "cftc", "finra", "sec", "custom"}


# --------------------------------------------------------------------------- system

def test_system_performance_is_the_replays_progress_and_throughput(client, auth, api_store,
                                                                   replayed) -> None:
    r = client.get("/api/v1/system/performance", headers=auth("validator"))
    assert r.status_code == 200, r.text
    body = r.json()
    result = replayed.result
    assert (body["store_status"], body["sessions_count"], body["events_processed"],
            body["trades_applied"], body["alerts_raised"], body["active_alerts"]) == \
        ("ok", 1, EVENTS, TRADES, ALERTS, ALERTS)
    assert body["store_latency_ms"] >= 0.0
    (session,) = body["sessions"]
    assert (session["session_id"], session["status"], session["events_done"],
            session["events_total"], session["progress"], session["as_of"]) == \
        (result.session_id, "finished", EVENTS, EVENTS, 1.0, LAST_EVENT)
    assert (session["replay_runs"], session["replay_events"]) == (1, result.events_processed)
    assert session["replay_seconds"] == pytest.approx(result.elapsed, rel=1e-12)
    assert session["events_per_second"] == pytest.approx(EVENTS / result.elapsed, rel=1e-9)
    alert_id = lw.alerts(store=api_store).alerts[0]["alert_id"]
    client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"acknowledged_by": "analyst"},
                headers=auth("analyst"))
    after = client.get("/api/v1/system/performance", headers=auth("validator")).json()
    assert after["active_alerts"] == after["sessions"][0]["active_alerts"] == ALERTS - 1


# --------------------------------------------------------------------------- errors, schema

ACCOUNT_GETS = ["risk/{a}/metrics", "risk/{a}/trends", "portfolio/{a}/analytics",
                "portfolio/{a}/performance", "pl/{a}/current", "pl/{a}/history?hours=24",
                "alerts/active?account_id={a}", "compliance/{a}/summary"]


@pytest.mark.parametrize("path", ACCOUNT_GETS)
def test_an_unknown_account_is_404(client, auth, path) -> None:
    r = client.get("/api/v1/" + path.format(a="nobody"), headers=auth("leadership"))
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "not_found" and "'nobody'" in r.json()["message"]


def test_an_unknown_account_is_404_for_the_actions(client, auth, api_store) -> None:
    r = client.post("/api/v1/compliance/nobody/check", json={}, headers=auth("analyst"))
    assert r.status_code == 404, r.text
    r = client.post("/api/v1/system/emergency/kill-switch/nobody?reason=x", headers=auth("admin"))
    assert r.status_code == 404, r.text
    assert _state_changes(api_store) == []


ENDPOINTS = [("GET", "/api/v1/" + p.format(a="alpha")) for p in ACCOUNT_GETS] + [
    ("GET", "/api/v1/system/performance"),
    ("POST", "/api/v1/alerts/x/acknowledge"),
    ("POST", "/api/v1/compliance/alpha/check"),
    ("POST", "/api/v1/system/emergency/kill-switch/alpha?reason=x"),
    ("POST", "/api/v1/system/emergency/resume/alpha")]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_no_or_a_bad_token_is_401(client, api_store, method, url) -> None:
    body = {"acknowledged_by": "x"} if "acknowledge" in url else {}
    for headers in ({}, {"Authorization": "Bearer slk_0123456789abcdef_nope"}):
        r = client.request(method, url, json=body if method == "POST" else None,
                           headers=headers)
        assert r.status_code == 401, (url, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert _state_changes(api_store) == []


def test_the_openapi_schema_names_the_engine_models(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {("get", "/api/v1/risk/{account_id}/metrics"): "AccountRisk",
                ("get", "/api/v1/risk/{account_id}/trends"): "RiskTrends",
                ("get", "/api/v1/portfolio/{account_id}/analytics"): "PortfolioAnalytics",
                ("get", "/api/v1/portfolio/{account_id}/performance"): "PortfolioPerformance",
                ("get", "/api/v1/pl/{account_id}/current"): "PLSnapshot",
                ("get", "/api/v1/pl/{account_id}/history"): "PLHistory",
                ("get", "/api/v1/alerts/active"): "ActiveAlerts",
                ("post", "/api/v1/alerts/{alert_id}/acknowledge"): "AlertAcknowledged",
                ("get", "/api/v1/compliance/{account_id}/summary"): "ComplianceSummary",
                ("post", "/api/v1/compliance/{account_id}/check"): "ComplianceSummary",
                ("get", "/api/v1/system/performance"): "SystemPerformance",
                ("post", "/api/v1/system/emergency/kill-switch/{account_id}"): "StateChanged",
                ("post", "/api/v1/system/emergency/resume/{account_id}"): "StateChanged"}
    found = {key: paths[key[1]][key[0]]["responses"]["200"]["content"]["application/json"]
             ["schema"]["$ref"].rsplit("/", 1)[1] for key in expected}
    assert found == expected
    ack = paths["/api/v1/alerts/{alert_id}/acknowledge"]["post"]["requestBody"]
    assert ack["content"]["application/json"]["schema"]["$ref"].endswith("/AlertAckBody")


# --------------------------------------------------------------------------- the WebSocket

def _snapshot(store: Store, account: str) -> dict:
    status = lw.status(account, store=store)
    active = lw.active_alerts(account_id=account, store=store)
    return _json({"type": "snapshot", "account_id": account, "session_id": status.session_id,
                  "as_of": status.as_of,
                  "data": {**status.panels(), "total_active_alerts": active.total_active_alerts,
                           "alerts": active.alerts}})


def test_the_socket_sends_the_snapshot_then_a_kill_switch_and_an_acknowledgement(
        client, auth, api_store) -> None:
    headers = auth("leadership")
    with client.websocket_connect("/ws/risk/alpha", headers=headers) as ws:
        first = ws.receive_json()
        assert first == _snapshot(api_store, "alpha")
        assert first["data"]["total_active_alerts"] == len(first["data"]["alerts"]) > 0

        r = client.post("/api/v1/system/emergency/kill-switch/alpha?reason=drill",
                        headers=auth("admin", user="ops-lead"))
        assert r.status_code == 200, r.text
        halted = ws.receive_json()
        assert (halted["type"], halted["data"]["trading_state"]) == ("risk", "HALTED")
        assert halted["data"] == _json(lw.status("alpha", store=api_store).risk)

        alert_id = first["data"]["alerts"][0]["alert_id"]
        r = client.post(f"/api/v1/alerts/{alert_id}/acknowledge",
                        json={"acknowledged_by": "ana"}, headers=auth("analyst", user="ana"))
        assert r.status_code == 200, r.text
        acked = ws.receive_json()
        assert acked["type"] == "alert"
        assert (acked["data"]["alert_id"], acked["data"]["is_acknowledged"],
                acked["data"]["acknowledged_by"]) == (alert_id, True, "ana")

        client.post("/api/v1/system/emergency/resume/alpha", headers=auth("admin"))
        resumed = ws.receive_json()
        assert (resumed["type"], resumed["data"]["trading_state"]) == ("risk", "ACTIVE")


def test_the_socket_streams_a_running_replay(tmp_path, replayed_part) -> None:
    """A replay going on from January to March 2021 while gamma's socket is open: the socket
    sends each new alert of gamma (and each earlier one that escalates), and ends with the risk
    and P&L panels of the replay's end."""
    path = tmp_path / "part.duckdb"
    shutil.copyfile(replayed_part.path, path)
    store = Store(path, timeout=5)
    token = create_token(TokenRequest.build(user="desk", role="leadership"), store=store).token
    before = {a["alert_id"] for a in lw.alerts(account_id="gamma", include_acknowledged=True,
                                               store=store).alerts}
    with TestClient(create_app(store=store)) as client, \
            client.websocket_connect(f"/ws/risk/gamma?token={token}") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        result = lw.replay(lw.ReplayRequest.build(example=True, until=PART_NEXT), store=store)
        assert result.status == "until" and result.resumed
        end = lw.status("gamma", store=store).panels()
        new = {a["alert_id"] for a in lw.alerts(account_id="gamma", include_acknowledged=True,
                                                store=store).alerts} - before
        assert new  # gamma has alerts in February and March 2021
        seen: set[str] = set()
        last: dict[str, object] = {}
        while not (new <= seen and last.get("risk") == _json(end["risk"])
                   and last.get("pl") == _json(end["pl"])):
            m = ws.receive_json()
            assert m["account_id"] == "gamma" and m["type"] in ("risk", "pl", "alert")
            if m["type"] == "alert":
                assert m["data"]["account_id"] == "gamma"
                seen.add(m["data"]["alert_id"])
            else:
                last[m["type"]] = m["data"]
    # the others are alerts of January that escalated meanwhile
    escalated = {a["alert_id"] for a in lw.alerts(account_id="gamma", include_acknowledged=True,
                                                  store=store).alerts
                 if a["alert_id"] in before and a["escalated_at"] is not None}
    assert seen - new <= escalated


@pytest.mark.parametrize("where", ["header", "query"])
def test_the_socket_takes_the_token_in_the_header_or_the_query(client, token, api_store,
                                                               where) -> None:
    text = token("validator")
    url, headers = ("/ws/risk/beta", {"Authorization": f"Bearer {text}"}) if where == "header" \
        else (f"/ws/risk/beta?token={text}", {})
    with client.websocket_connect(url, headers=headers) as ws:
        assert ws.receive_json() == _snapshot(api_store, "beta")


@pytest.mark.parametrize(("url", "with_token", "code"), [
    ("/ws/risk/alpha", False, 4401),
    ("/ws/risk/alpha?token=slk_0123456789abcdef_nope", False, 4401),
    ("/ws/risk/nobody", True, 4404)])
def test_socket_refusals_close_with_a_code(client, auth, url, with_token, code) -> None:
    headers = auth("leadership") if with_token else {}
    with client.websocket_connect(url, headers=headers) as ws:
        m = ws.receive_json()
        assert m["type"] == "error" and m["data"]["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == code


def test_the_socket_ends_when_the_client_leaves(api_store, token) -> None:
    """Under a real uvicorn server, the socket's task ends when its client closes, although
    nothing on the desk changes (a socket that noticed a leaving client only when it next sent
    something would go on reading the store for ever). The waits are bounds, so that a
    regression fails instead of hanging; no duration is asserted."""
    import socket
    import threading
    import time

    import uvicorn
    import websocket

    text = token("leadership")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store=api_store), log_level="warning",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        client = websocket.create_connection(f"ws://127.0.0.1:{port}/ws/risk/alpha",
                                             header=[f"Authorization: Bearer {text}"], timeout=30)
        assert json.loads(client.recv())["type"] == "snapshot"
        assert len(server.server_state.tasks) == 1  # the socket's task, running
        client.close()
        deadline = time.monotonic() + 30
        while server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.server_state.tasks
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()
