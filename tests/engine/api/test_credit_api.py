"""Credit stress testing over HTTP: the original API's shapes, tokens and roles, errors, tasks
and their WebSocket, against a real app on a temporary store (FastAPI's TestClient)."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
from fastapi.testclient import TestClient

from engine.api.app import create_app
from engine.audit import chain
from engine.audit.runs import list_runs, utc_now
from engine.credit.models import StressTestBody
from engine.credit.workflow import run_stress_body, save_pool
from engine.store import Store, transaction
from engine.tasks import _store as task_store
from engine.tasks.workflow import task_events
from tests.engine.credit.conftest import synthetic_pool

RUN = "/api/v1/asset-classes/stress-testing/run"
ASYNC = "/api/v1/asset-classes/stress-testing/async-run"


def asset(i: int, **fields) -> dict:
    row = {"asset_id": f"L{i}", "asset_class": "consumer_loan", "balance": 1000.0,
           "rate": 0.06, "term": 12, "age": 0, "rate_type": "fixed", "prepayment_speed": 0.0,
           "default_probability": 0.0, "recovery_rate": 0.4, "loss_severity": 0.6,
           "status": "performing"}
    row.update(fields)
    return row


def body(assets: list[dict] | None = None, *, pool_id: str = "api-pool", **top) -> dict:
    pool = {"pool_id": pool_id, "pool_name": "API pool", "cutoff_date": "2024-06-30",
            "metadata": {}}
    if assets is not None:
        pool["assets"] = assets
    inner = {"pool": pool, "analysis_date": "2024-06-30", "discount_rate": 0.06,
             "projection_periods": None, "include_cashflows": False}
    inner.update(top.pop("request", {}))
    return {"request": inner, "scenario_names": ["base"], "custom_scenarios": {},
            "run_parallel": True, "max_workers": None, "include_cashflows": False,
            "generate_report": True, **top}


def mixed_assets(n: int = 40) -> list[dict]:
    return [asset(i, balance=1000.0 + 25 * i, rate=0.04 + 0.001 * i, term=24 + i,
                  prepayment_speed=0.05, default_probability=0.02 + 0.001 * i)
            for i in range(1, n + 1)]


# --------------------------------------------------------------------------- health and tokens

def test_health_needs_no_token_and_everything_else_does(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    for path in ("/health/detailed", "/api/v1/health/stress-testing", "/api/v1/health/redis",
                 "/api/v1/asset-classes/stress-testing/scenarios", "/api/v1/tasks/x"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"] == "unauthorized"
    r = client.get("/health/detailed", headers={"Authorization": "Bearer slk_not_a_token"})
    assert r.status_code == 401
    assert "slk_not_a_token" not in r.text


def test_detailed_health_reports_the_store_and_the_cache(client: TestClient, auth,
                                                         monkeypatch) -> None:
    monkeypatch.delenv("REDIS_HOST", raising=False)
    h = client.get("/health/detailed", headers=auth("leadership")).json()
    assert h["store"]["status"] == "ok" and h["store"]["schema_version"] >= 8
    assert h["cache"]["status"] == "not_configured"
    s = client.get("/api/v1/health/stress-testing", headers=auth("analyst")).json()
    assert s["status"] == "healthy" and s["scenarios_available"] >= 7


def test_scenarios_are_the_library_with_every_factor(client: TestClient, auth) -> None:
    got = client.get("/api/v1/asset-classes/stress-testing/scenarios",
                     headers=auth("leadership")).json()
    assert list(got)[:7] == ["base", "rate_shock_up", "rate_shock_down", "credit_crisis",
                             "liquidity_crisis", "housing_boom", "housing_bust"]
    crisis = got["credit_crisis"]
    assert crisis["name"] == "Credit Crisis"
    # ARCHITECTURE.md's table: default 3.0, recovery 0.6, prepayment 0.5, rate +0.01
    assert crisis["market_factors"]["default_multiplier"] == 3.0
    assert crisis["market_factors"]["recovery_multiplier"] == 0.6
    assert crisis["market_factors"]["prepayment_multiplier"] == 0.5
    assert crisis["market_factors"]["interest_rate_shock"] == 0.01
    assert got["base"]["market_factors"]["default_multiplier"] == 1.0


# --------------------------------------------------------------------------- sync run

def test_par_loan_at_its_coupon_is_worth_par(client: TestClient, auth) -> None:
    """No default, no prepayment, discounted at its own coupon: NPV = balance."""
    r = client.post(RUN, json=body([asset(1)]), headers=auth("analyst"))
    assert r.status_code == 200, r.text
    base = r.json()["base"]
    assert base["status"] == "success" and base["cache_hit"] is False
    assert base["pool_name"] == "API pool" and base["analysis_date"] == "2024-06-30"
    assert base["metrics"]["npv"] == pytest.approx(1000.0, abs=1e-8)
    assert base["metrics"]["total_principal"] == pytest.approx(1000.0, abs=1e-8)
    # a 12-month 6 % annuity of 1000: payment 86.0664, interest = 12 * payment - 1000
    payment = 1000 * 0.005 / (1 - 1.005 ** -12)
    assert base["metrics"]["total_interest"] == pytest.approx(12 * payment - 1000, abs=1e-8)
    assert base["metrics"]["irr"] == pytest.approx(0.06, abs=1e-9)
    assert r.headers["x-run-id"].startswith("credit-")


def test_response_has_the_documented_shape_and_matches_the_workflow(
        client: TestClient, auth, api_store: Store) -> None:
    b = body(mixed_assets(), scenario_names=["credit_crisis", "rate_shock_up"])
    r = client.post(RUN, json=b, headers=auth("analyst"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert list(got) == ["base", "credit_crisis", "rate_shock_up"]
    for key, entry in got.items():
        assert set(entry) >= {"pool_name", "analysis_date", "status", "execution_time",
                              "metrics", "analytics", "cache_hit"}
        assert set(entry["metrics"]) >= {"npv", "irr", "total_principal", "total_interest",
                                         "duration", "weighted_average_life", "npv_change",
                                         "npv_change_percent"}
        if key != "base":
            assert set(entry["analytics"]["scenario"]) == {"name", "description",
                                                           "market_factors"}
    report = got["base"]["analytics"]["stress_test_report"]
    assert {"execution_time_total", "scenarios_count", "scenarios_success",
            "scenarios_failed", "base_case", "scenarios"} <= set(report)
    assert report["scenarios_count"] == 3 and report["scenarios_failed"] == 0
    assert got["credit_crisis"]["metrics"]["npv"] < got["base"]["metrics"]["npv"]
    # the same body through the workflow directly gives the same numbers
    direct = run_stress_body(StressTestBody.model_validate(b), use_cache=False,
                             store=api_store).result.response()
    for key in got:
        assert got[key]["metrics"] == pytest.approx(
            {k: v for k, v in direct[key]["metrics"].items()}, rel=0, abs=0)


def test_second_run_hits_the_cache_unless_asked_not_to(client: TestClient, auth) -> None:
    b = body(mixed_assets(), scenario_names=["housing_bust"])
    first = client.post(RUN, json=b, headers=auth("analyst")).json()
    again = client.post(RUN, json=b, headers=auth("analyst")).json()
    fresh = client.post(RUN + "?use_cache=false", json=b, headers=auth("analyst")).json()
    assert not first["housing_bust"]["cache_hit"] and again["housing_bust"]["cache_hit"]
    assert not fresh["housing_bust"]["cache_hit"]
    assert again["housing_bust"]["metrics"] == first["housing_bust"]["metrics"]


def test_a_stored_pool_is_named_by_pool_id(client: TestClient, auth) -> None:
    client.post(RUN, json=body(mixed_assets()), headers=auth("analyst"))
    r = client.post(RUN, json=body(None), headers=auth("analyst"))
    assert r.status_code == 200, r.text
    assert r.json()["base"]["pool_name"] == "API pool"
    r = client.post(RUN, json=body(None, pool_id="nope"), headers=auth("analyst"))
    assert r.status_code == 404 and "nope" in r.json()["message"]


def test_other_content_under_a_stored_pool_id_is_refused(client: TestClient, auth) -> None:
    assert client.post(RUN, json=body([asset(1)]), headers=auth("analyst")).status_code == 200
    r = client.post(RUN, json=body([asset(1, balance=2000.0)]), headers=auth("analyst"))
    assert r.status_code == 422
    assert "already stored" in r.json()["message"]


def test_the_run_records_the_tokens_user(client: TestClient, auth, api_store: Store) -> None:
    r = client.post(RUN, json=body([asset(1)]), headers=auth("analyst", user="ana"))
    run_id = r.headers["x-run-id"]
    with api_store.read() as con:
        runs = list_runs(con, kind="credit")
        records = list(chain.iter_records(con, event_types=["run"], run_id=run_id))
    assert runs.loc[runs.run_id == run_id, "requested_by"].item() == "ana"
    assert records[-1].payload["requested_by"] == "ana"


# --------------------------------------------------------------------------- refusals

def test_bad_assets_get_422_with_row_field_value_and_rule(client: TestClient, auth,
                                                          api_store: Store) -> None:
    assets = [asset(1), asset(2, rate=1.7), asset(3, balance=-5.0)]
    r = client.post(RUN, json=body(assets), headers=auth("analyst"))
    assert r.status_code == 422
    got = r.json()
    assert got["error"] == "validation"
    issues = {(i["row"], i["column"]): i for i in got["issues"]}
    assert issues[(2, "rate")]["value"] == 1.7
    assert "[0, 1]" in issues[(2, "rate")]["rule"]
    assert (3, "balance") in issues
    assert "Traceback" not in r.text
    with api_store.read() as con:  # nothing stored
        assert con.execute("SELECT count(*) FROM pools").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_a_malformed_body_gets_the_engines_issue_list(client: TestClient, auth) -> None:
    b = body([asset(1)])
    b["request"]["discount_rate"] = 7
    b["surprise"] = True
    r = client.post(RUN, json=b, headers=auth("analyst"))
    assert r.status_code == 422
    fields = {i["column"]: i for i in r.json()["issues"]}
    assert fields["request.discount_rate"]["value"] == 7
    assert "surprise" in fields


def test_a_custom_key_may_not_shadow_base(client: TestClient, auth) -> None:
    b = body([asset(1)], custom_scenarios={
        "Base": {"name": "not base", "market_factors": {"default_multiplier": 5.0}}})
    r = client.post(RUN, json=b, headers=auth("analyst"))
    assert r.status_code == 422
    assert "Base" in r.text


def test_unknown_scenario_is_refused_before_running(client: TestClient, auth,
                                                    api_store: Store) -> None:
    r = client.post(ASYNC, json=body([asset(1)], scenario_names=["moon_landing"]),
                    headers=auth("analyst"))
    assert r.status_code == 422 and "moon_landing" in r.json()["message"]
    with api_store.read() as con:
        assert con.execute("SELECT count(*) FROM api_tasks").fetchone()[0] == 0


@pytest.mark.parametrize("role", ["leadership", "validator"])
def test_roles_that_may_not_run_get_403_and_nothing_is_stored(client: TestClient, auth,
                                                              api_store: Store, role) -> None:
    for path in (RUN, ASYNC):
        r = client.post(path, json=body([asset(1)]), headers=auth(role))
        assert r.status_code == 403, path
        assert r.json()["role"] == role and "analyst" in r.json()["allowed"]
    with api_store.read() as con:
        assert con.execute("SELECT count(*) FROM pools").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_admin_may_run(client: TestClient, auth) -> None:
    assert client.post(RUN, json=body([asset(1)]), headers=auth("admin")).status_code == 200


def test_a_body_over_the_limit_gets_413_unread(client: TestClient, auth, monkeypatch) -> None:
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "1")
    big = body([asset(i) for i in range(1, 6000)])
    r = client.post(RUN, content=json.dumps(big).encode(), headers={
        **auth("analyst"), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert "STRESSLAB_MAX_INPUT_MB=1" in r.json()["message"]


def test_deeply_nested_json_gets_422(client: TestClient, auth) -> None:
    deep = "[" * 5000 + "]" * 5000
    r = client.post(RUN, content=deep.encode(), headers={
        **auth("analyst"), "Content-Type": "application/json"})
    assert r.status_code == 422
    assert "STRESSLAB_MAX_JSON_DEPTH" in r.json()["message"]


def test_a_busy_store_gets_503_with_retry_after(tmp_path, monkeypatch) -> None:
    path = tmp_path / "busy.duckdb"
    from engine.auth.workflow import TokenRequest, create_token

    token = create_token(TokenRequest.build(user="ana", role="analyst"), store=Store(path)).token
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Store(path).write():
            held.set()
            release.wait(10)

    with TestClient(create_app(store=Store(path, timeout=0.3))) as client:
        t = threading.Thread(target=hold)
        t.start()
        held.wait(5)
        try:
            r = client.post(RUN, json=body([asset(1)]),
                            headers={"Authorization": f"Bearer {token}"})
        finally:
            release.set()
            t.join()
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"] == "store_busy"


# --------------------------------------------------------------------------- async runs and tasks

def _wait_task(client: TestClient, task_id: str, headers: dict, *, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()
        if state["status"] in ("completed", "error"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish in {timeout} s")


def test_async_run_streams_progress_to_completion(client: TestClient, auth,
                                                   api_store: Store) -> None:
    """A pool large enough (200,000 loans) that the socket connects while the run goes on."""
    pool = synthetic_pool(200_000)
    save_pool(pool, store=api_store)
    headers = auth("analyst", user="ana")
    b = body(None, pool_id=pool.pool_id, scenario_names=["all"])
    r = client.post(ASYNC, json=b, headers=headers)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "queued" and accepted["pool_name"] == pool.pool_name
    assert accepted["scenario_count"] >= 7
    assert accepted["websocket_url"] == f"/ws/ana?task_id={accepted['task_id']}"
    messages = []
    with client.websocket_connect(accepted["websocket_url"], headers=headers) as ws:
        while True:
            m = ws.receive_json()
            messages.append(m)
            if m["status"] in ("completed", "error"):
                break
    assert {m["task_id"] for m in messages} == {accepted["task_id"]}
    assert messages[-1]["status"] == "completed", messages[-1]
    assert messages[0]["status"] in ("queued", "running")
    # every message after the first is the stored one of the same number, in order
    stored = [m.model_dump() for _, m in task_events(accepted["task_id"], after_seq=0,
                                                     store=api_store)]
    assert messages[1:] == stored[len(stored) - len(messages) + 1:]
    running = [m for m in messages if m["status"] == "running"]
    progress = [m["data"]["progress"] for m in running]
    assert progress == sorted(progress) and progress[-1] == 100.0
    assert all("current_scenario" in m["data"] for m in running if m["data"]["progress"] > 0)
    results = messages[-1]["data"]["results"]
    assert len(results) == accepted["scenario_count"]
    sync = client.post(RUN, json=b, headers=headers).json()
    for key in sync:
        assert results[key]["metrics"] == sync[key]["metrics"]
    state = client.get(f"/api/v1/tasks/{accepted['task_id']}", headers=headers).json()
    assert state["status"] == "completed" and state["run_id"] == messages[-1]["data"]["run_id"]


def test_a_late_websocket_gets_the_current_state(client: TestClient, auth) -> None:
    headers = auth("analyst", user="ana")
    task_id = client.post(ASYNC, json=body([asset(1)]), headers=headers).json()["task_id"]
    _wait_task(client, task_id, headers)
    with client.websocket_connect(f"/ws/ana?task_id={task_id}", headers=headers) as ws:
        first = ws.receive_json()
    assert first["status"] == "completed"
    assert first["data"]["results"]["base"]["metrics"]["npv"] == pytest.approx(1000.0, abs=1e-8)


def test_websocket_refusals_close_with_a_reason(client: TestClient, auth) -> None:
    from starlette.websockets import WebSocketDisconnect

    headers = auth("analyst", user="ana")
    task_id = client.post(ASYNC, json=body([asset(1)]), headers=headers).json()["task_id"]
    cases = [(f"/ws/ana?task_id={task_id}", {}, 4401),
             (f"/ws/bob?task_id={task_id}", auth("analyst", user="bob"), 4403),
             ("/ws/ana?task_id=nope", headers, 4404)]
    for url, h, code in cases:
        with client.websocket_connect(url, headers=h) as ws:
            m = ws.receive_json()
            assert m["status"] == "error"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == code, url
    # a browser passes the token as a query parameter
    token = headers["Authorization"].split()[1]
    with client.websocket_connect(f"/ws/ana?task_id={task_id}&token={token}") as ws:
        assert ws.receive_json()["task_id"] == task_id


def test_a_task_whose_server_died_ends_as_error(client: TestClient, auth,
                                                api_store: Store) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = utc_now()
    with api_store.write() as con, transaction(con):
        task_store.insert_task(con, task={
            "task_id": "t-dead", "kind": "credit_stress", "user_id": "ana", "label": "x",
            "status": "running", "message": "credit_crisis: success (2/7)", "progress": 28.6,
            "run_id": None, "owner_pid": dead.pid, "owner_started": "1", "seq": 1,
            "created_at": now, "updated_at": now})
    state = client.get("/api/v1/tasks/t-dead", headers=auth("analyst", user="ana")).json()
    assert state["status"] == "error"
    assert f"pid {dead.pid}" in state["message"] and "stopped" in state["message"]
    assert state["data"]["error"] == state["message"]


def test_tasks_left_running_are_ended_when_a_server_starts(api_store: Store) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = utc_now()
    with api_store.write() as con, transaction(con):
        task_store.insert_task(con, task={
            "task_id": "t-old", "kind": "credit_stress", "user_id": "ana", "label": "x",
            "status": "queued", "message": "queued", "progress": 0.0, "run_id": None,
            "owner_pid": dead.pid, "owner_started": "1", "seq": 1, "created_at": now,
            "updated_at": now})
    with TestClient(create_app(store=api_store)):
        pass
    with api_store.read() as con:
        assert task_store.get_task(con, "t-old")["status"] == "error"


def test_progress_counts_cached_scenarios_as_done_at_once(client: TestClient, auth,
                                                          api_store: Store) -> None:
    """All 3 scenarios cached: the messages say 100·k/3 % for k = 1, 2, 3, in order."""
    headers = auth("analyst", user="ana")
    b = body(mixed_assets(), scenario_names=["credit_crisis", "housing_bust"])
    assert client.post(RUN, json=b, headers=headers).status_code == 200  # warms the cache
    task_id = client.post(ASYNC, json=b, headers=headers).json()["task_id"]
    assert _wait_task(client, task_id, headers)["status"] == "completed"
    running = [m for _, m in task_events(task_id, after_seq=0, store=api_store)
               if m.status == "running" and m.data.get("current_scenario")]
    assert [m.data["progress"] for m in running] == [33.33, 66.67, 100.0]
    assert [m.data["current_scenario"] for m in running] == ["base", "credit_crisis",
                                                              "housing_bust"]


def test_a_user_name_with_a_space_stays_one_path_segment(client: TestClient, auth) -> None:
    headers = auth("analyst", user="Ana Lyst/desk")
    accepted = client.post(ASYNC, json=body([asset(1)]), headers=headers).json()
    assert accepted["websocket_url"] == f"/ws/Ana%20Lyst%2Fdesk?task_id={accepted['task_id']}"
    with client.websocket_connect(accepted["websocket_url"], headers=headers) as ws:
        while (m := ws.receive_json())["status"] not in ("completed", "error"):
            pass
    assert m["status"] == "completed"


def test_json_checks_hold_whatever_the_content_types_case(client: TestClient, auth) -> None:
    """Duplicate keys are refused (not last-one-wins) for Application/JSON too."""
    text = '{"request": {"pool": {"pool_id": "x", "pool_id": "y"}}}'
    r = client.post(RUN, content=text.encode(), headers={
        **auth("analyst"), "Content-Type": "Application/JSON; charset=utf-8"})
    assert r.status_code == 422
    assert "pool_id" in r.json()["message"]


def test_only_its_user_or_an_admin_reads_a_task(client: TestClient, auth) -> None:
    task_id = client.post(ASYNC, json=body([asset(1)]),
                          headers=auth("analyst", user="ana")).json()["task_id"]
    assert client.get(f"/api/v1/tasks/{task_id}",
                      headers=auth("leadership", user="lee")).status_code == 403
    assert client.get(f"/api/v1/tasks/{task_id}", headers=auth("admin")).status_code == 200


def test_a_task_whose_messages_cannot_be_stored_still_ends(api_store: Store) -> None:
    """A message the store refuses (a duplicate number) ends the task as error; the writer
    lives on and the next task completes."""
    from engine.tasks.workflow import TaskRunner, get_task

    runner = TaskRunner(store=api_store)
    try:
        def clash(reporter):
            with api_store.write() as con, transaction(con):  # takes the next message's number
                task_store.add_events(con, [{"task_id": reporter.task_id, "seq": 3,
                                             "status": "running", "message": "x", "data": None,
                                             "at": utc_now()}])
            reporter.running(progress=50, message="half")
            return None, {"ok": True}

        first = runner.submit(clash, kind="test", user_id="ana")
        second = runner.submit(lambda r: (None, {"value": float("nan")}), kind="test",
                               user_id="ana")
        assert runner.flush(timeout=30)
    finally:
        runner.shutdown()
    assert get_task(first.task_id, store=api_store).status == "error"
    done = get_task(second.task_id, store=api_store)
    assert done.status == "completed" and done.data == {"value": None}


def test_a_token_in_a_url_is_hidden_in_the_servers_log() -> None:
    import logging

    from engine.api.cli import RedactTokens, log_config

    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1,
                               '%s - "WebSocket %s" [accepted]',
                               ("127.0.0.1:5000", "/ws/ana?task_id=t1&token=slk_abc_SECRET"), None)
    assert RedactTokens().filter(record)
    assert "SECRET" not in record.getMessage()
    assert "task_id=t1&token=[redacted]" in record.getMessage()
    assert all("redact_tokens" in h["filters"] for h in log_config()["handlers"].values())


def test_an_issue_holding_nan_is_answered_as_json() -> None:
    from engine.api._errors import error_body
    from engine.errors import Issue, ValidationError

    status, payload, _ = error_body(ValidationError(
        [Issue(row=2, column="rate", value=float("nan"), rule="a number")], subject="pool"))
    assert status == 422
    assert json.loads(json.dumps(payload, allow_nan=False))["issues"][0]["value"] == "nan"
