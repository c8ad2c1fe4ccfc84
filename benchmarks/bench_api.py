"""HTTP API speed: the sync run under 16 concurrent clients, the async run of a 1,000,000-loan
pool followed on its WebSocket, each with no cache, the store's cache and the Redis cache, and
the same run in-process for reference.

    .venv/bin/python benchmarks/bench_api.py [--clients 16] [--requests 12] [--sequential 20]
                                             [--big-loans 1000000] [--no-workers2] [--quick]

Everything runs against ``stresslab serve`` processes (uvicorn, ``--log-level warning``) on free
ports of 127.0.0.1. One temporary store is prepared before any server starts:

* the first 1,000 loans of the bundled Lending Club tape (``stresslab pools import``);
* a synthetic seeded pool of 1,000,000 loans (``bench_credit.synthetic_frame``: 360-month terms),
  read with ``engine.ingest.read_pool`` (native layout, from Parquet) and stored with
  ``engine.credit.workflow.save_pool``;
* an analyst token (``stresslab tokens create``).

Every run asks for the 7 predefined scenarios (base included) at a 5 % discount rate and, like
every API run, is recorded in the store. A recorded run costs a write session, and the store
grows with every run, so each server below gets its own fresh copy of the prepared store (no
mode inherits the runs of the one before). Each measurement starts with one unmeasured request
(in a new server it loads numba's kernels; with a cache, it fills the cache).

1. **In-process reference**: ``engine.credit.workflow.run_stress`` on the 1,000-loan pool,
   ``use_cache=False``, recorded, called sequentially (no server running).
2. **Sync run** ``POST /api/v1/asset-classes/stress-testing/run`` on the 1,000-loan pool, one
   server per mode: ``use_cache=false`` (every request computes); the store's cache warm;
   ``use_cache=false`` under ``--workers 2``; the Redis cache warm (the server started with
   ``REDIS_HOST``/``REDIS_PORT`` pointing at a ``redis-server`` started here on a free port). In
   each, 1 client sequentially (the HTTP cost, next to the reference), then 16 clients (threads,
   each its own ``requests.Session``, released together), each sending the same number of
   requests. Latency is from sending a request to its whole response; requests per second are
   the successful requests over the wall time from release to the last answer.
3. **Async run** ``POST …/async-run`` of the 1,000,000-loan pool, followed on
   ``WS /ws/{user}?task_id=…`` until ``completed``: end to end (from sending the POST to the
   ``completed`` message), the time to the first ``running`` message, the number of progress
   messages (``running``, ``data.progress``) and their rate over the running phase;
   ``use_cache=false``, then each cache cold (the run that fills it) and warm. These run on the
   store-cache and Redis servers before their sync load.

Progress messages come chunk by chunk of loans (at most every 0.2 s) and as each scenario
finishes; the WebSocket looks for new task messages every 0.1 s
(``engine.api._credit.POLL_SECONDS``), so they arrive in bursts of that grain. Figures are
printed, then one JSON line; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
import websocket  # websocket-client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
PY = sys.executable
TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
RUN = "/api/v1/asset-classes/stress-testing/run"
ASYNC_RUN = "/api/v1/asset-classes/stress-testing/async-run"
USER = "bench"

from bench_credit import SCENARIOS, synthetic_frame  # noqa: E402

from tests.api_server import serve  # noqa: E402
from tests.redis_server import RedisServer, start_redis_server  # noqa: E402


# --------------------------------------------------------------------------- setup

def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PY, "-m", "engine.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"stresslab {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def prepare_store(work: Path, *, env: dict[str, str], big_loans: int) -> dict[str, Any]:
    """Store both pools and make a token, before any server starts."""
    from engine.credit.workflow import save_pool
    from engine.ingest import read_pool
    from engine.store import Store

    small = work / "lendingclub_first1000.csv"
    pd.read_csv(TAPE, nrows=1000).to_csv(small, index=False)
    imported = json.loads(_cli(env, "pools", "import", str(small), "--json", "--name",
                               "Lending Club 2018 Q1, first 1,000 loans"))
    big_file = work / f"synthetic{big_loans}.parquet"
    synthetic_frame(big_loans).to_parquet(big_file, index=False)
    t0 = time.perf_counter()
    pool = read_pool(big_file, format="native")
    save_pool(pool, store=Store(Path(env["STRESSLAB_DB"]), timeout=600))
    store_s = time.perf_counter() - t0
    big_id, n_big = pool.pool_id, pool.n_assets
    del pool
    big_file.unlink()
    token = _cli(env, "tokens", "create", "--user", USER, "--role",
                 "analyst").strip().splitlines()[-1]
    return {"small": imported["pool_id"], "n_small": imported["n_assets"], "big": big_id,
            "n_big": n_big, "big_store_s": store_s, "token": token}


def body(pool_id: str) -> dict[str, Any]:
    return {"request": {"pool": {"pool_id": pool_id}, "discount_rate": 0.05},
            "scenario_names": SCENARIOS}


# --------------------------------------------------------------------------- measurements

def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def reference(pool_id: str, *, db: Path, calls: int) -> dict[str, float]:
    """The same run through the workflow in this process: first call, then median and p95."""
    from engine.credit.workflow import StressRunRequest, run_stress
    from engine.store import Store

    store = Store(db, timeout=600)
    request = StressRunRequest(pool_id=pool_id, scenario_names=SCENARIOS, use_cache=False)
    times = []
    for _ in range(calls + 1):
        t = time.perf_counter()
        run = run_stress(request, store=store)
        times.append(time.perf_counter() - t)
        if run.status != "success":
            raise SystemExit(f"in-process reference run: status {run.status}")
    warm = [1e3 * s for s in times[1:]]
    return {"first_ms": 1e3 * times[0], "p50_ms": _pct(warm, 50), "p95_ms": _pct(warm, 95),
            "calls": calls, "runs_per_s": len(warm) / (sum(warm) / 1e3)}


def _post(session: requests.Session, url: str, *, pool_id: str, token: str,
          use_cache: bool) -> tuple[int, float]:
    t = time.perf_counter()
    r = session.post(f"{url}{RUN}", params={"use_cache": str(use_cache).lower()},
                     json=body(pool_id), headers={"Authorization": f"Bearer {token}"},
                     timeout=600)
    elapsed = time.perf_counter() - t
    if r.status_code == 200 and len(r.json()) != len(SCENARIOS):
        raise SystemExit(f"sync run answered {len(r.json())} scenarios, not {len(SCENARIOS)}")
    return r.status_code, elapsed


def load(url: str, *, pool_id: str, token: str, use_cache: bool, clients: int,
         per_client: int) -> dict[str, Any]:
    """``clients`` threads, each its own session, released together, ``per_client`` sync runs
    each, after one warm-up request."""
    with requests.Session() as s:
        code, _ = _post(s, url, pool_id=pool_id, token=token, use_cache=use_cache)
        if code != 200:
            raise SystemExit(f"warm-up request answered {code}")
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client() -> None:
        mine, bad = [], []
        with requests.Session() as session:
            start.wait()
            for _ in range(per_client):
                try:
                    code, elapsed = _post(session, url, pool_id=pool_id, token=token,
                                          use_cache=use_cache)
                except requests.RequestException as exc:
                    bad.append(type(exc).__name__)
                    continue
                if code == 200:
                    mine.append(elapsed)
                else:
                    bad.append(f"HTTP {code}")
        with lock:
            latencies.extend(mine)
            for what in bad:
                failures[what] = failures.get(what, 0) + 1

    load_before = os.getloadavg()[0]
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = [1e3 * x for x in latencies]
    return {"clients": clients, "requests": clients * per_client, "ok": len(ms),
            "failures": failures, "p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95),
            "max_ms": max(ms) if ms else float("nan"), "rps": len(ms) / wall, "wall_s": wall,
            "loadavg_1m": [load_before, os.getloadavg()[0]]}


def async_run(url: str, *, pool_id: str, token: str, use_cache: bool) -> dict[str, Any]:
    """One async run followed on its WebSocket to ``completed``."""
    headers = {"Authorization": f"Bearer {token}"}
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = requests.post(f"{url}{ASYNC_RUN}", params={"use_cache": str(use_cache).lower()},
                      json=body(pool_id), headers=headers, timeout=600)
    accepted_s = time.perf_counter() - t0
    if r.status_code != 202:
        raise SystemExit(f"async-run answered {r.status_code}: {r.text[:500]}")
    ws = websocket.create_connection(url.replace("http", "ws", 1) + r.json()["websocket_url"],
                                     header=[f"Authorization: {headers['Authorization']}"],
                                     timeout=600)
    received: list[tuple[float, dict[str, Any]]] = []
    try:
        while True:
            message = json.loads(ws.recv())
            received.append((time.perf_counter() - t0, message))
            if message["status"] in ("completed", "error"):
                break
    finally:
        ws.close()
    end_s, last = received[-1]
    if last["status"] != "completed":
        raise SystemExit(f"async run ended {last['status']}: {last['message']}")
    results = last["data"]["results"]
    running = [t for t, m in received if m["status"] == "running"]
    progress = [t for t, m in received
                if m["status"] == "running" and "progress" in (m["data"] or {})]
    span = end_s - running[0] if running else float("nan")
    arrivals = [t for t, _ in received]
    return {"end_to_end_s": end_s, "accepted_s": accepted_s,
            "first_running_s": running[0] if running else float("nan"),
            "progress_messages": len(progress), "messages": len(received),
            "progress_per_s": len(progress) / span if span and span > 0 else float("nan"),
            "running_span_s": span, "max_gap_s": max(np.diff(arrivals), default=float("nan")),
            "scenarios": len(results),
            "cache_hits": sum(bool(v.get("cache_hit")) for v in results.values()),
            "loadavg_1m": [load_before, os.getloadavg()[0]]}


# --------------------------------------------------------------------------- report

def _json_safe(value: Any) -> Any:
    """NaN (a figure that could not be taken) as null, so the JSON line is strict JSON."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def _load(r: dict[str, Any]) -> str:
    before, after = r["loadavg_1m"]
    return f"{before:.1f}→{after:.1f}"


def _load_line(label: str, r: dict[str, Any]) -> str:
    bad = ", ".join(f"{n}× {what}" for what, n in sorted(r["failures"].items())) or "none"
    return (f"  {label:<40} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['max_ms']:>8.1f} "
            f"{r['rps']:>7.1f} {_load(r):>10}  {r['ok']}/{r['requests']} ok, failed: {bad}")


def _async_line(label: str, r: dict[str, Any]) -> str:
    return (f"  {label:<34} {r['end_to_end_s']:>7.2f} {r['accepted_s']:>8.2f} "
            f"{r['first_running_s']:>8.2f} {r['progress_messages']:>5} "
            f"{r['progress_per_s']:>7.2f} {r['max_gap_s']:>7.2f} {_load(r):>10}  cache hits "
            f"{r['cache_hits']}/{r['scenarios']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=12, help="sync runs per client")
    parser.add_argument("--sequential", type=int, default=20,
                        help="single-client sync runs per mode, and in-process reference runs")
    parser.add_argument("--big-loans", type=int, default=1_000_000)
    parser.add_argument("--no-workers2", action="store_true", help="skip --workers 2")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20,000-loan big pool, 2 requests per client, 5 "
                             "sequential runs, no --workers 2")
    args = parser.parse_args()
    if args.quick:
        args.big_loans, args.requests, args.sequential, args.no_workers2 = 20_000, 2, 5, True
    began = time.perf_counter()
    load_avg = os.getloadavg()
    out: dict[str, Any] = {"cores": os.cpu_count(), "loadavg_1m_at_start": load_avg[0],
                           "clients": args.clients, "requests_per_client": args.requests,
                           "sequential": args.sequential, "big_loans": args.big_loans,
                           "scenarios": len(SCENARIOS)}
    print(f"HTTP API benchmark: {os.cpu_count()} cores, load average at start "
          f"{load_avg[0]:.2f} / {load_avg[1]:.2f} / {load_avg[2]:.2f} (1/5/15 min); "
          f"{len(SCENARIOS)} scenarios, discount rate 5 %, every run recorded", flush=True)
    os.environ.pop("REDIS_HOST", None)  # the in-process reference uses the store's cache
    with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
        work = Path(tmp)
        pristine = work / "prepared.duckdb"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
        base_env.update(STRESSLAB_DB=str(pristine), PYTHONUNBUFFERED="1")
        setup = prepare_store(work, env=base_env, big_loans=args.big_loans)
        small, big, token = setup["small"], setup["big"], setup["token"]
        print(f"store: {setup['n_small']:,}-loan Lending Club pool '{small}'; "
              f"{setup['n_big']:,}-loan synthetic pool '{big}' (read + stored in "
              f"{setup['big_store_s']:.1f} s)", flush=True)

        def fresh(name: str) -> dict[str, str]:
            db = work / f"{name}.duckdb"
            shutil.copyfile(pristine, db)
            return dict(base_env, STRESSLAB_DB=str(db))

        ref = reference(small, db=Path(fresh("reference")["STRESSLAB_DB"]),
                        calls=args.sequential)
        out["reference"] = ref
        print(f"\n1. in-process run_stress, {setup['n_small']:,} loans × {len(SCENARIOS)} "
              f"scenarios, use_cache=False, recorded: first {ref['first_ms']:.0f} ms (numba "
              f"load), then p50 {ref['p50_ms']:.1f} ms, p95 {ref['p95_ms']:.1f} ms "
              f"({ref['calls']} sequential calls, {ref['runs_per_s']:.1f} runs/s)", flush=True)

        print(f"\n2. sync run, {setup['n_small']:,}-loan pool × {len(SCENARIOS)} scenarios; "
              f"1 client × {args.sequential} requests, {args.clients} clients × "
              f"{args.requests} requests; a fresh store and server per mode:")
        print(f"  {'mode':<40} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'req/s':>7} {'load':>10}",
              flush=True)
        sync: dict[str, Any] = {}
        asyn: dict[str, Any] = {}
        log = work / "serve.log"

        def sync_mode(url: str, key: str, label: str, *, use_cache: bool) -> None:
            sync[f"{key}_1_client"] = r = load(url, pool_id=small, token=token,
                                               use_cache=use_cache, clients=1,
                                               per_client=args.sequential)
            print(_load_line(f"{label}, 1 client", r), flush=True)
            sync[key] = r = load(url, pool_id=small, token=token, use_cache=use_cache,
                                 clients=args.clients, per_client=args.requests)
            print(_load_line(f"{label}, {args.clients} clients", r), flush=True)

        def warm_up(url: str) -> None:
            with requests.Session() as session:
                code, _ = _post(session, url, pool_id=small, token=token, use_cache=False)
            if code != 200:
                raise SystemExit(f"warm-up request answered {code}")

        try:
            with serve(fresh("no_cache"), log=log) as url:
                sync_mode(url, "no_cache", "use_cache=false", use_cache=False)
            with serve(fresh("store_cache"), log=log) as url:
                warm_up(url)
                for key, use_cache in (("no_cache", False), ("store_cache_cold", True),
                                       ("store_cache_warm", True)):
                    asyn[key] = async_run(url, pool_id=big, token=token, use_cache=use_cache)
                sync_mode(url, "store_cache", "store cache warm", use_cache=True)
            if not args.no_workers2:
                with serve(fresh("workers2"), log=log, workers=2) as url:
                    sync_mode(url, "no_cache_workers2", "use_cache=false, --workers 2",
                              use_cache=False)
            redis_server: RedisServer = start_redis_server(work / "redis")
            try:
                env = dict(fresh("redis_cache"), REDIS_HOST=redis_server.host,
                           REDIS_PORT=str(redis_server.port))
                with serve(env, log=log) as url:
                    health = requests.get(f"{url}/api/v1/health/redis", timeout=30,
                                          headers={"Authorization": f"Bearer {token}"}).json()
                    if health.get("status") != "ok":
                        raise SystemExit(f"the server does not see Redis: {health}")
                    warm_up(url)
                    for key in ("redis_cache_cold", "redis_cache_warm"):
                        asyn[key] = async_run(url, pool_id=big, token=token, use_cache=True)
                    sync_mode(url, "redis_cache", "Redis cache warm", use_cache=True)
            finally:
                redis_server.stop()
        except BaseException:
            if log.exists():
                print(f"server log (tail):\n{log.read_text(errors='replace')[-3000:]}",
                      file=sys.stderr)
            raise
        if args.no_workers2:
            print("  (--workers 2 not run)")
        print(f"  (load: the machine's 1-minute load average before → after each measurement, "
              f"here and below; {os.cpu_count()} cores)")
        out["sync"], out["async"] = sync, asyn

        print(f"\n3. async run, {setup['n_big']:,}-loan synthetic pool × {len(SCENARIOS)} "
              "scenarios, POST to the `completed` message on the WebSocket (one run each):")
        print(f"  {'mode':<34} {'total s':>7} {'POST s':>8} {'1st run':>8} {'prog':>5} "
              f"{'prog/s':>7} {'gap s':>7} {'load':>10}")
        labels = {"no_cache": "use_cache=false",
                  "store_cache_cold": "store cache cold (fills it)",
                  "store_cache_warm": "store cache warm",
                  "redis_cache_cold": "Redis cache cold (fills it)",
                  "redis_cache_warm": "Redis cache warm"}
        for key, label in labels.items():
            print(_async_line(label, asyn[key]))
        print("  (total s: POST to `completed`; POST s: until the 202 answer; 1st run: POST to "
              "the first `running` message; prog: `running` messages with data.progress; "
              "prog/s: those over the time from the first `running` message to `completed`; gap s: "
              "the longest wait between two messages)")
    out["wall_s"] = time.perf_counter() - began
    out["loadavg_1m_at_end"] = os.getloadavg()[0]
    print(f"\nwhole benchmark {out['wall_s']:.0f} s; load average (1 min) at end "
          f"{out['loadavg_1m_at_end']:.2f}")
    print(json.dumps(_json_safe(out), allow_nan=False))


if __name__ == "__main__":
    main()
