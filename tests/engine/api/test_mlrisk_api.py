"""Model validation over HTTP: a validation as a task (polled and followed on its WebSocket), the
stored run's decision and evidence files, roles, bad bodies, and file paths confined to the data
root, against a real app on a temporary store (FastAPI's TestClient).

The data is small and seeded (600 rows, a two-scenario handbook, logistic regression), so a
validation takes about a second."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from engine.audit.runs import list_runs
from engine.mlrisk import ARTIFACT_NAMES, ValidationConfig, parse_handbook
from engine.mlrisk import workflow as wf
from engine.store import Store

RUN = "/api/v1/validation/run"
CONFIG = {"data": "credit/synthetic.csv", "handbook": "credit/handbook.json", "target": "y",
          "subgroups": ["region"], "model": "logistic_regression", "seed": 5, "test_size": 0.3,
          "min_subgroup_rows": 20}
HANDBOOK = [
    {"scenario_id": "noise_x1", "stress_type": "NOISE", "description": "noise on x1", "seed": 1,
     "severity_level": 2, "parameters": {"feature": "x1", "std_dev_multiplier": 1.0}},
    {"scenario_id": "south", "stress_type": "SUBGROUP", "description": "southern region",
     "seed": 5, "severity_level": 3, "parameters": {"column": "region", "value": "south"}},
]


def synthetic_csv() -> bytes:
    """600 rows: x1 ~ N(0, 1), x2 ~ U(0, 10), a region (70 % north) and a 0/1 target driven by
    x1 (seeded)."""
    rng = np.random.default_rng(0)
    n = 600
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.uniform(0.0, 10.0, n)
    region = rng.choice(["north", "south"], n, p=[0.7, 0.3])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.5 * x1 - 0.5)))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "region": region, "y": y}).to_csv(index=False).encode()


@pytest.fixture(autouse=True)
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The API's data root (``credit/synthetic.csv``, ``credit/handbook.json``), a secret file
    outside it, and an empty key directory of the test's own (evidence unsigned)."""
    root = tmp_path / "root"
    (root / "credit").mkdir(parents=True)
    (root / "credit" / "synthetic.csv").write_bytes(synthetic_csv())
    (root / "credit" / "handbook.json").write_text(json.dumps(HANDBOOK))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("password\nhunter2\n")
    monkeypatch.setenv("STRESSLAB_API_DATA_ROOT", str(root))
    monkeypatch.setenv("STRESSLAB_KEYS", str(tmp_path / "keys"))
    return root


def _wait_task(client: TestClient, task_id: str, headers: dict, *, timeout: float = 120) -> dict:
    """Poll ``GET /api/v1/tasks/{id}`` until the task ends (a bounded wait, not a timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/v1/tasks/{task_id}", headers=headers).json()
        if state["status"] in ("completed", "error"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish in {timeout} s")


def _count(store: Store, table: str) -> int:
    with store.read() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _run(client: TestClient, headers: dict, **body) -> dict:
    accepted = client.post(RUN, json={"config": CONFIG, **body}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    return accepted.json()


# --------------------------------------------------------------------------- the run as a task

def test_run_answers_a_task_that_completes_with_the_run_and_its_decision(
        client: TestClient, auth, api_store: Store, data_root: Path, tmp_path: Path) -> None:
    headers = auth("validator", user="vera")
    accepted = _run(client, headers, user="mallory", requested_by="mallory", source="cli")
    task_id = accepted["task_id"]
    assert accepted["status"] == "queued"
    assert accepted["websocket_url"] == f"/ws/vera?task_id={task_id}"
    assert accepted["result_url"] == f"/api/v1/validation/{accepted['run_id']}"
    assert accepted["message"] == "validation of y on synthetic.csv queued"

    state = _wait_task(client, task_id, headers)
    assert state["status"] == "completed", state
    assert (state["kind"], state["user_id"], state["run_id"]) == (
        "mlrisk_validation", "vera", accepted["run_id"])
    data = state["data"]
    assert data["run_id"] == accepted["run_id"] and data["recorded"] is True

    # the same request through the workflow, on a store of its own: same decision, same evidence
    direct = wf.validate(wf.ValidateRequest(config=ValidationConfig(**CONFIG), base_dir=data_root,
                                            user="vera"),
                         store=Store(tmp_path / "direct.duckdb", timeout=5))
    assert data["decision"] == direct.decision in ("DEPLOY", "RESTRICT", "REDESIGN")
    assert data["summary"] == direct.summary
    assert data["failing_scenarios"] == direct.results["decision"]["failing_scenarios"]
    for name in ("robustness_results.json", "performance_degradation_report.json",
                 "stress_scenarios.json"):  # only the manifest and decision name the run
        got = client.get(data["artifacts"][name], headers=headers)
        assert got.content == direct.artifacts[name], name

    # recorded with the token's user, whatever the body said
    with api_store.read() as con:
        runs = list_runs(con, kind="mlrisk")
        configuration = json.loads(con.execute("SELECT configuration FROM runs WHERE run_id = ?",
                                               [accepted["run_id"]]).fetchone()[0])
    assert runs["run_id"].tolist() == [accepted["run_id"]]
    assert runs["requested_by"].tolist() == ["vera"]
    assert (configuration["requested_by"], configuration["user"], configuration["source"]) == (
        "vera", "vera", "api")
    # the paths were checked and recorded relative to the resolved data root
    assert configuration["base_dir"] == str(data_root.resolve())
    assert (configuration["config"]["data"], configuration["config"]["handbook"]) == (
        "credit/synthetic.csv", "credit/handbook.json")
    manifest = json.loads(client.get(data["artifacts"]["evidence_manifest.json"],
                                     headers=headers).content)
    assert manifest["team_or_user"] == "vera"


def test_uploaded_data_and_inline_handbook_followed_on_the_websocket(
        client: TestClient, auth, api_store: Store) -> None:
    """The files may travel in the body: data as base64, the handbook as JSON."""
    headers = auth("admin", user="root")
    content = synthetic_csv()
    config = {k: v for k, v in CONFIG.items() if k not in ("data", "handbook")}
    accepted = client.post(RUN, headers=headers, json={
        "config": config, "data_content": base64.b64encode(content).decode(),
        "data_name": "upload.csv", "handbook": {"scenarios": HANDBOOK}})
    assert accepted.status_code == 202, accepted.text
    messages = []
    with client.websocket_connect(accepted.json()["websocket_url"], headers=headers) as ws:
        while True:
            messages.append(ws.receive_json())
            if messages[-1]["status"] in ("completed", "error"):
                break
    assert messages[-1]["status"] == "completed", messages[-1]
    assert messages[-1]["data"]["run_id"] == accepted.json()["run_id"]
    view = client.get(accepted.json()["result_url"], headers=headers).json()
    assert view["dataset_name"] == "upload.csv"
    assert view["dataset_sha256"] == hashlib.sha256(content).hexdigest()
    assert view["requested_by"] == view["validator"] == "root"
    stored = wf.load_run(view["run_id"], store=api_store)
    assert [s["scenario_id"] for s in json.loads(stored.artifacts["stress_scenarios.json"])] == [
        "noise_x1", "south"]


def test_a_task_that_fails_ends_as_error_with_the_issues(client: TestClient, auth,
                                                         api_store: Store) -> None:
    """A target the table lacks is found while the task runs: ``error`` with the issue list."""
    headers = auth("validator", user="vera")
    accepted = client.post(RUN, json={"config": {**CONFIG, "target": "no_such_column"}},
                           headers=headers).json()
    state = _wait_task(client, accepted["task_id"], headers)
    assert state["status"] == "error"
    assert state["data"]["error"] == "validation"
    assert [i["column"] for i in state["data"]["issues"]] == ["no_such_column"]
    assert _count(api_store, "runs") == 0
    assert client.get(accepted["result_url"], headers=headers).status_code == 404


# --------------------------------------------------------------------------- the stored run

def test_view_and_artifacts_are_the_stored_ones(client: TestClient, auth,
                                                api_store: Store) -> None:
    headers = auth("validator", user="vera")
    accepted = _run(client, headers)
    assert _wait_task(client, accepted["task_id"], headers)["status"] == "completed"
    run_id = accepted["run_id"]
    wf.sign_off(run_id, name="Quinn", comment="fit for a pilot", store=api_store)

    reader = auth("leadership")  # reading needs any role
    got = client.get(f"/api/v1/validation/{run_id}", headers=reader)
    assert got.status_code == 200
    view = got.json()
    assert view == wf.validation_view(run_id, store=api_store).model_dump(mode="json")
    stored = wf.load_run(run_id, store=api_store)
    assert view["decision"] == stored.decision and view["summary"] == stored.summary
    assert [(s["name"], s["comment"], s["decision"]) for s in view["signoffs"]] == [
        ("Quinn", "fit for a pilot", stored.decision)]
    names = [a["name"] for a in view["artifacts"]]
    assert names == [*sorted([*ARTIFACT_NAMES, "signoff_001.json"]), "evidence.zip"]

    types = {".json": "application/json", ".md": "text/markdown; charset=utf-8",
             ".html": "text/html; charset=utf-8", ".zip": "application/zip"}
    for link in view["artifacts"]:
        assert link["url"] == f"/api/v1/validation/{run_id}/artifacts/{link['name']}"
        got = client.get(link["url"], headers=reader)
        assert got.status_code == 200, link
        assert got.headers["content-type"] == types[Path(link["name"]).suffix]
        expected = (wf.evidence_zip(run_id, store=api_store) if link["name"] == "evidence.zip"
                    else stored.artifacts[link["name"]])
        assert got.content == expected, link["name"]
        assert link["size"] == len(expected)
        if link["name"] != "evidence.zip":
            assert link["sha256"] == hashlib.sha256(expected).hexdigest()


def test_unknown_artifact_names_are_404_never_paths(client: TestClient, auth) -> None:
    """The signature of unsigned evidence, a file of the working directory, escapes."""
    headers = auth("validator", user="vera")
    accepted = _run(client, headers)
    assert _wait_task(client, accepted["task_id"], headers)["status"] == "completed"
    for name in ("evidence_manifest.sig", "pyproject.toml", "..%2F..%2Fpyproject.toml",
                 "%2Fetc%2Fpasswd", "%2E%2E"):
        got = client.get(f"/api/v1/validation/{accepted['run_id']}/artifacts/{name}",
                         headers=headers)
        assert got.status_code == 404, name
        assert b"[project" not in got.content and b"root:" not in got.content
    got = client.get(f"/api/v1/validation/{accepted['run_id']}/artifacts/pyproject.toml",
                     headers=headers)
    assert got.json()["message"] == (
        f"run {accepted['run_id']!r} has no evidence file 'pyproject.toml'; it has "
        + ", ".join([*sorted(ARTIFACT_NAMES), "evidence.zip"]))


def test_unknown_run_is_404(client: TestClient, auth) -> None:
    headers = auth("analyst")
    got = client.get("/api/v1/validation/mlrisk-nope", headers=headers)
    assert got.status_code == 404 and got.json()["error"] == "not_found"
    got = client.get("/api/v1/validation/mlrisk-nope/artifacts/evidence.zip", headers=headers)
    assert got.status_code == 404


# --------------------------------------------------------------------------- tokens and roles

def test_every_endpoint_needs_a_token(client: TestClient) -> None:
    for method, path in [("POST", RUN), ("GET", "/api/v1/validation/x"),
                         ("GET", "/api/v1/validation/x/artifacts/validation_decision.md")]:
        got = client.request(method, path, json={"config": CONFIG} if method == "POST" else None)
        assert got.status_code == 401, path
        assert got.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("role", ["leadership", "analyst"])
def test_only_validators_and_admins_may_run(client: TestClient, auth, api_store: Store,
                                            role: str) -> None:
    got = client.post(RUN, json={"config": CONFIG}, headers=auth(role))
    assert got.status_code == 403
    assert got.json()["role"] == role and got.json()["allowed"] == ["validator", "admin"]
    assert _count(api_store, "api_tasks") == 0 and _count(api_store, "runs") == 0


# --------------------------------------------------------------------------- bad bodies

def test_a_bad_body_gets_422_with_every_issue(client: TestClient, auth, api_store: Store) -> None:
    got = client.post(RUN, headers=auth("validator"),
                      json={"config": {"model": "svm", "tets_size": 0.3}, "record": "maybe"})
    assert got.status_code == 422
    columns = {i["column"] for i in got.json()["issues"]}
    assert {"config.target", "config.model", "config.tets_size", "record"} <= columns
    assert _count(api_store, "api_tasks") == 0


def test_an_unrecorded_validation_is_refused(client: TestClient, auth, api_store: Store) -> None:
    got = client.post(RUN, headers=auth("validator"), json={"config": CONFIG, "record": False})
    assert got.status_code == 422
    assert [i["column"] for i in got.json()["issues"]] == ["record"]
    assert _count(api_store, "api_tasks") == 0


def test_a_bad_handbook_file_is_refused_before_queueing(client: TestClient, auth,
                                                        api_store: Store, data_root: Path) -> None:
    (data_root / "credit" / "bad.json").write_text(json.dumps(
        [{**HANDBOOK[0], "stress_type": "TSUNAMI"}]))
    got = client.post(RUN, headers=auth("validator"),
                      json={"config": {**CONFIG, "handbook": "credit/bad.json"}})
    assert got.status_code == 422
    assert [(i["row"], i["column"]) for i in got.json()["issues"]] == [(1, "stress_type")]
    assert _count(api_store, "api_tasks") == 0 and _count(api_store, "runs") == 0


# --------------------------------------------------------------------------- paths

def _refused(client: TestClient, auth, body: dict) -> list[dict]:
    got = client.post(RUN, json=body, headers=auth("validator"))
    assert got.status_code == 422, got.text
    assert got.json()["error"] == "validation"
    return got.json()["issues"]


@pytest.mark.parametrize(("field", "value"), [
    ("data", "../../../../../../etc/passwd"),
    ("data", "/etc/passwd"),
    ("handbook", "credit/../../outside/secret.csv"),
    ("model_path", "/etc/hostname"),
    ("data", "credit/synthetic.csv\u0000.txt"),  # a NUL byte: no file system path at all
])
def test_paths_outside_the_data_root_are_refused(client: TestClient, auth, api_store: Store,
                                                 tmp_path: Path, field: str, value: str) -> None:
    issues = _refused(client, auth, {"config": {**CONFIG, field: value}})
    assert [(i["column"], i["value"]) for i in issues] == [(f"config.{field}", value)]
    assert issues[0]["rule"] == wf.PATH_RULE
    assert _count(api_store, "api_tasks") == 0 and _count(api_store, "runs") == 0


def test_a_path_outside_gets_the_same_answer_whether_or_not_it_exists(client: TestClient,
                                                                      auth, tmp_path: Path) -> None:
    there = _refused(client, auth, {"config": {**CONFIG, "data": str(tmp_path / "outside" /
                                                                     "secret.csv")}})
    absent = _refused(client, auth, {"config": {**CONFIG, "data": str(tmp_path / "outside" /
                                                                      "absent.csv")}})
    assert there[0]["rule"] == absent[0]["rule"] == wf.PATH_RULE


def test_symbolic_links_out_of_the_root_are_refused(client: TestClient, auth, api_store: Store,
                                                    data_root: Path, tmp_path: Path) -> None:
    (data_root / "credit" / "link.csv").symlink_to(tmp_path / "outside" / "secret.csv")
    (data_root / "away").symlink_to(tmp_path / "outside", target_is_directory=True)
    issues = _refused(client, auth, {"config": {**CONFIG, "data": "credit/link.csv",
                                                "handbook": "away/secret.csv"}})
    assert [i["column"] for i in issues] == ["config.data", "config.handbook"]
    assert {i["rule"] for i in issues} == {wf.PATH_RULE}
    issues = _refused(client, auth, {"config": CONFIG, "base_dir": "away"})
    assert [(i["column"], i["value"]) for i in issues][0] == ("base_dir", "away")
    assert _count(api_store, "api_tasks") == 0


def test_base_dir_may_not_leave_the_root(client: TestClient, auth) -> None:
    issues = _refused(client, auth, {"config": {**CONFIG, "data": "etc/passwd"}, "base_dir": "/"})
    assert [(i["column"], i["rule"]) for i in issues] == [
        ("base_dir", wf.PATH_RULE), ("config.data", "no such file under the API's data root")]


def test_the_key_directory_is_refused_even_inside_the_root(client: TestClient, auth,
                                                           data_root: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    keys = data_root / "keys"
    keys.mkdir()
    (keys / "backup.csv").write_text("a,b\n1,2\n")  # any file there, not only the key
    monkeypatch.setenv("STRESSLAB_KEYS", str(keys))
    issues = _refused(client, auth, {"config": {**CONFIG, "data": "keys/backup.csv"}})
    assert [(i["column"], i["rule"]) for i in issues] == [
        ("config.data", "may not name the signing key directory")]


def test_no_data_root_refuses_every_path(client: TestClient, auth, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRESSLAB_API_DATA_ROOT", str(tmp_path / "missing"))
    issues = _refused(client, auth, {"config": CONFIG})
    assert [i["column"] for i in issues] == ["config.data", "config.handbook"]
    assert all("no data root" in i["rule"] for i in issues)


def test_paths_inside_the_root_are_rewritten_relative_to_it(data_root: Path) -> None:
    """An absolute path inside the root, and one through '..' that stays inside, are accepted
    and recorded relative to the resolved root."""
    request = wf.ValidateRequest(config=ValidationConfig(**{
        **CONFIG, "data": str(data_root / "credit" / "synthetic.csv"),
        "handbook": "credit/../credit/handbook.json"}))
    confined = wf.confine_paths(request, root=data_root)
    assert confined.base_dir == data_root.resolve()
    assert (confined.config.data, confined.config.handbook) == (
        "credit/synthetic.csv", "credit/handbook.json")
    in_base = wf.confine_paths(request.model_copy(update={
        "base_dir": Path("credit"), "config": request.config.model_copy(update={
            "data": "synthetic.csv", "handbook": "handbook.json"})}), root=data_root)
    assert (in_base.config.data, in_base.config.handbook) == (
        "credit/synthetic.csv", "credit/handbook.json")
    bare = wf.ValidateRequest(config=ValidationConfig(target="y"),
                              handbook=parse_handbook(HANDBOOK))
    assert wf.confine_paths(bare, root=data_root) is bare  # names no file: nothing to check


@pytest.mark.parametrize(("extra", "column"), [
    ({"executor": "dask", "local_workers": 64}, "local_workers"),
    ({"executor": "dask", "scheduler": "tcp://10.0.0.1:8786"}, "scheduler"),
    ({"executor": "dask"}, "executor"),  # the server has no STRESSLAB_DASK_SCHEDULER
])
def test_a_body_may_not_start_workers_or_pick_a_cluster(client: TestClient, auth, api_store: Store,
                                                        monkeypatch, extra, column) -> None:
    monkeypatch.delenv("STRESSLAB_DASK_SCHEDULER", raising=False)
    issues = _refused(client, auth, {"config": CONFIG, **extra})
    assert [i["column"] for i in issues] == [column]
    assert _count(api_store, "api_tasks") == 0
