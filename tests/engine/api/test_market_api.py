"""Market risk over HTTP: VaR and ES, limit evaluations and the Prometheus figures on the API's
own server; tokens and roles, bad bodies, and what is (and is not) stored, against a real app on
a temporary store (FastAPI's TestClient)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from engine.audit.runs import list_runs
from engine.market import workflow as mw
from engine.store import Store

VAR = "/api/v1/market/var"
LIMITS = "/api/v1/market/limits/evaluate"


def small_prices() -> pd.DataFrame:
    """Three instruments, 300 business days of seeded log-normal prices."""
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2020-01-01", periods=300, name="date")
    r = rng.normal(0.0003, 0.01, size=(300, 3))
    return pd.DataFrame(100 * np.exp(np.cumsum(r, axis=0)), index=idx, columns=["A", "B", "C"])


def prices_file() -> dict:
    return {"name": "prices.csv", "content": small_prices().to_csv()}


def _count(store: Store, table: str) -> int:
    with store.read() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _metrics(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


# --------------------------------------------------------------------------- VaR

def test_var_of_one_column_is_the_hand_computed_historical_var(client: TestClient,
                                                               auth) -> None:
    """One column worth 1,000,000: historical VaR 99 % = the ceil(0.99 n)-th smallest of the
    n losses -r_t x 1,000,000 (no interpolation)."""
    body = {"prices": prices_file(), "column": "A", "methods": ["historical"],
            "confidences": [0.99], "es_confidence": 0.99}
    got = client.post(VAR, json=body, headers=auth("analyst"))
    assert got.status_code == 200, got.text
    prices = small_prices()["A"]
    losses = np.sort(-(prices / prices.shift(1) - 1).dropna().to_numpy() * 1_000_000.0)
    k = math.ceil(0.99 * len(losses))  # 299 losses: the 297th smallest
    figures = {(f["measure"], f["confidence"]): f["value"] for f in got.json()["report"]["figures"]}
    assert figures[("VaR", 0.99)] == pytest.approx(losses[k - 1], rel=1e-12)
    assert figures[("ES", 0.99)] == pytest.approx(losses[k - 1:].mean(), rel=1e-12)
    assert got.json()["run_id"] is None  # record defaults to false


def test_var_json_is_the_workflows_and_the_run_is_recorded_with_the_token_user(
        client: TestClient, auth, api_store: Store) -> None:
    body = {"prices": prices_file(), "methods": ["historical", "parametric", "monte_carlo"],
            "positions": {"name": "positions.csv",
                          "content": "account,instrument,quantity\nx,A,100\nx,B,50\ny,C,200\n"},
            "sims": 2000, "seed": 3, "record": True, "requested_by": "mallory"}
    got = client.post(VAR, json=body, headers=auth("analyst", user="ana"))
    assert got.status_code == 200, got.text
    direct = mw.var_report(mw.VaRRequest.build(**{**body, "record": False}))
    assert got.json()["report"] == direct.report.model_dump(mode="json")
    assert got.json()["summary"] == direct.summary
    run_id = got.json()["run_id"]
    with api_store.read() as con:
        runs = list_runs(con, kind="market")
    assert runs["run_id"].tolist() == [run_id]
    assert runs["requested_by"].tolist() == ["ana"]  # the body's own requested_by is replaced


def test_var_of_the_bundled_data_needs_no_file(client: TestClient, auth) -> None:
    got = client.post(VAR, json={"methods": ["historical"]}, headers=auth("admin"))
    assert got.status_code == 200
    direct = mw.var_report(mw.VaRRequest.build(methods=("historical",)))
    assert got.json() == direct.model_dump(mode="json")


# --------------------------------------------------------------------------- limits

def test_limits_evaluation_is_the_workflows_and_recorded_with_the_token_user(
        client: TestClient, auth, api_store: Store, tmp_path) -> None:
    got = client.post(LIMITS, json={"mode": "gradual", "requested_by": "mallory"},
                      headers=auth("analyst", user="ana"))
    assert got.status_code == 200, got.text
    answer = got.json()
    direct = mw.evaluate_limits(mw.LimitsRequest.build(mode="gradual"),
                                store=Store(tmp_path / "direct.duckdb", timeout=5))
    expected = direct.model_dump(mode="json")
    for key in ("snapshot", "summary"):
        assert answer[key] == expected[key], key
    wall = "latency_us"  # the evaluation's own wall time, the one figure that differs
    assert answer["evaluation"].pop(wall) > 0
    assert answer["evaluation"] == {k: v for k, v in expected["evaluation"].items() if k != wall}
    assert answer["summary"] == f"limit evaluation (gradual mode): {answer['evaluation']['action']}"
    assert answer["audit_seq"] >= 1
    with api_store.read() as con:
        runs = list_runs(con, kind="market")
    assert runs["run_id"].tolist() == [answer["evaluation_id"]]
    assert runs["requested_by"].tolist() == ["ana"]
    assert mw.evaluations(store=api_store)["evaluation_id"].tolist() == [answer["evaluation_id"]]


# --------------------------------------------------------------------------- /metrics

def test_metrics_are_prometheus_text_of_the_stored_evaluations(client: TestClient,
                                                               auth) -> None:
    assert client.get("/metrics").status_code == 401
    reader = auth("leadership")
    empty = client.get("/metrics", headers=reader)
    assert empty.status_code == 200
    assert empty.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    before = _metrics(empty.text)
    assert before[("stresslab_market_evaluations_total", ())] == 0.0
    assert not [key for key in before if key[0] == "stresslab_market_var"]  # nothing evaluated

    analyst = auth("analyst")
    answers = [client.post(LIMITS, json={}, headers=analyst).json() for _ in range(2)]
    samples = _metrics(client.get("/metrics", headers=reader).text)
    assert samples[("stresslab_market_evaluations_total", ())] == 2.0
    latest = answers[-1]["snapshot"]
    for confidence, value in latest["var"].items():
        assert samples[("stresslab_market_var", (("confidence", confidence),))] == \
            pytest.approx(value, rel=1e-12)
    assert samples[("stresslab_market_evaluation_latency_seconds_count", ())] == 2.0


# --------------------------------------------------------------------------- tokens, roles, bodies

def test_every_endpoint_needs_a_token(client: TestClient) -> None:
    for method, path in [("POST", VAR), ("POST", LIMITS), ("GET", "/metrics")]:
        got = client.request(method, path, json={} if method == "POST" else None)
        assert got.status_code == 401, path
        assert got.json()["error"] == "unauthorized"


@pytest.mark.parametrize("role", ["leadership", "validator"])
def test_only_analysts_and_admins_may_post(client: TestClient, auth, api_store: Store,
                                           role: str) -> None:
    headers = auth(role)
    for path, body in [(VAR, {"record": True, "methods": ["historical"]}), (LIMITS, {})]:
        got = client.post(path, json=body, headers=headers)
        assert got.status_code == 403, path
        assert got.json()["allowed"] == ["analyst", "admin"]
    assert _count(api_store, "runs") == 0
    assert mw.evaluations(store=api_store).empty


def test_bad_bodies_get_422_with_every_issue_and_store_nothing(client: TestClient, auth,
                                                               api_store: Store) -> None:
    headers = auth("analyst")
    got = client.post(VAR, headers=headers,
                      json={"confidences": [0.99, 1.5], "horizon": 0, "colour": "red"})
    assert got.status_code == 422
    assert {i["column"] for i in got.json()["issues"]} == {"confidences.1", "horizon", "colour"}
    got = client.post(VAR, headers=headers, json={"column": "A", "weights": prices_file()})
    assert got.status_code == 422 and "at most one of" in got.json()["message"]
    got = client.post(LIMITS, headers=headers, json={"mode": "panic", "notional": -5})
    assert got.status_code == 422
    assert {i["column"] for i in got.json()["issues"]} == {"mode", "notional"}
    # a file that is not prices: the reader's issues, nothing stored
    got = client.post(LIMITS, headers=headers,
                      json={"prices": {"name": "p.csv", "content": "date,A\n2024-01-02,abc\n"}})
    assert got.status_code == 422 and got.json()["error"] in ("validation", "input")
    assert "p.csv" in got.json()["message"]
    assert _count(api_store, "runs") == 0 and mw.evaluations(store=api_store).empty
