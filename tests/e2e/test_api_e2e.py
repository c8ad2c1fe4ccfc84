"""The HTTP API as a client meets it: `stresslab serve` started as a process on a free port,
driven by the plain requests + websocket-client script of the README
(docs/examples/api_client.py): scenarios, a sync run, an async run with progress messages to
completion; then 401 and 403, and the sync response's numbers against `stresslab stress --json`
on the same pool."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from engine.store import Store
from engine.tasks.workflow import task_events
from tests.api_server import serve
from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.xdist_group("e2e")]

TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"stresslab {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("api")
    env = dict(os.environ, STRESSLAB_DB=str(tmp / "api.duckdb"), PYTHONUNBUFFERED="1")
    env.pop("REDIS_HOST", None)
    pool_id = json.loads(_cli(env, "pools", "import", str(TAPE), "--json"))["pool_id"]
    tokens = {role: _cli(env, "tokens", "create", "--user", f"{role}-user", "--role",
                         role).strip().splitlines()[-1]
              for role in ("analyst", "leadership")}
    with serve(env, log=tmp / "serve.log", timeout=60) as url:
        yield {"url": url, "env": env, "tokens": tokens, "pool": pool_id}


def test_client_script_runs_sync_and_async_to_completion(server: dict) -> None:
    env = dict(server["env"], STRESSLAB_URL=server["url"],
               STRESSLAB_TOKEN=server["tokens"]["analyst"])
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "examples" / "api_client.py"),
                           server["pool"]], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["scenarios"]) >= 7 and "credit_crisis" in out["scenarios"]
    messages = out["async"]["messages"]
    assert messages[-1]["status"] == "completed"
    statuses = [m["status"] for m in messages]
    if statuses[0] == "completed":
        # the client connected after the run ended: the socket sends the final state alone
        # (a late client gets the current state, then the rest); the progress it missed is
        # stored, and the socket would have replayed nothing else
        assert len(messages) == 1
        stored = task_events(out["async"]["task_id"], after_seq=0,
                             store=Store(server["env"]["STRESSLAB_DB"]))
        messages = [m.model_dump(mode="json") for _, m in stored]
        statuses = [m["status"] for m in messages]
    assert statuses[0] in ("queued", "running") and "running" in statuses
    assert statuses[-1] == "completed"
    progress = [m["data"]["progress"] for m in messages if m["status"] == "running"]
    assert progress == sorted(progress) and progress[-1] == 100.0
    results = messages[-1]["data"]["results"]
    assert list(results) == list(out["sync"])
    for key, entry in out["sync"].items():
        assert results[key]["metrics"] == entry["metrics"], key
        assert results[key]["cache_hit"] is False  # the async run asked use_cache=false

    # the sync response's numbers equal `stresslab stress --json` on the same pool
    cli = json.loads(_cli(server["env"], "stress", server["pool"], "--json", "--no-cache",
                          "--discount-rate", "0.05"))
    assert list(cli) == list(out["sync"])
    for key, entry in out["sync"].items():
        assert entry["metrics"] == cli[key]["metrics"], key


def test_no_token_gets_401_and_the_wrong_role_403(server: dict) -> None:
    url = server["url"]
    body = {"request": {"pool": {"pool_id": server["pool"]}}, "scenario_names": ["base"]}
    run = f"{url}/api/v1/asset-classes/stress-testing/run"
    r = requests.post(run, json=body, timeout=30)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    r = requests.post(run, json=body, timeout=30,
                      headers={"Authorization": "Bearer slk_forged_token"})
    assert r.status_code == 401
    r = requests.post(run, json=body, timeout=30,
                      headers={"Authorization": f"Bearer {server['tokens']['leadership']}"})
    assert r.status_code == 403 and r.json()["role"] == "leadership"
    # leadership may read
    r = requests.get(f"{url}/api/v1/asset-classes/stress-testing/scenarios", timeout=30,
                     headers={"Authorization": f"Bearer {server['tokens']['leadership']}"})
    assert r.status_code == 200
    assert requests.get(f"{url}/docs", timeout=30).status_code == 200
    schema = requests.get(f"{url}/openapi.json", timeout=30).json()
    assert "StressTestBody" in schema["components"]["schemas"]


def test_a_token_revoked_while_the_server_runs_is_refused(server: dict) -> None:
    env = server["env"]
    token = _cli(env, "tokens", "create", "--user", "temp", "--role", "analyst").splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    scenarios = f"{server['url']}/api/v1/asset-classes/stress-testing/scenarios"
    assert requests.get(scenarios, headers=headers, timeout=30).status_code == 200
    listed = json.loads(_cli(env, "tokens", "list", "--json"))
    rows = listed["tokens"] if isinstance(listed, dict) else listed
    token_id = next(t["token_id"] for t in rows if t["user"] == "temp")
    _cli(env, "tokens", "revoke", token_id)
    assert requests.get(scenarios, headers=headers, timeout=30).status_code == 401


def test_the_server_binds_localhost_only(server: dict) -> None:
    """The listening socket's local address in /proc/net/tcp (proc(5)) is 127.0.0.1."""
    port = int(server["url"].rsplit(":", 1)[1])
    listening = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, local_port = local.split(":")
        if int(local_port, 16) == port and state == "0A":  # 0A = LISTEN
            listening.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    assert listening == ["127.0.0.1"]
