"""The Dask executor of a stress run (``executor="dask"``) against the local one, on a real
LocalCluster of 2 worker processes (one thread each): the same JSON bit for bit, a worker killed
mid-run, cancel, the missing extra, and ``pools export --parquet``.

The worker-kill test follows distributed's own tests of a lost worker (a Nanny restarts a worker
process killed with SIGKILL; the scheduler reruns its tasks): distributed/tests/test_nanny.py,
``test_nanny_process_failure``.
"""

from __future__ import annotations

import json
import operator
import os
import signal
import sys
import threading
import time
from datetime import date

import distributed
import numpy as np
import pandas as pd
import pytest

from engine.credit import AnalysisRequest, StressTestRequest
from engine.credit._cashflows import LoanArrays
from engine._dask import NO_DASHBOARD
from engine.credit._dask import MISSING_EXTRA, DaskExecutor, require_distributed
from engine.credit._partitions import (
    read_manifest, read_partition, partition_path, write_partitions,
)
from engine.credit._runner import (
    CHUNK_SIZE, execute_run, packaged_delinquent_cdr, prepare_run,
)
from engine.credit.workflow import StressRunRequest, run_stress, save_pool
from engine.errors import InputError
from engine.store import Store

from .conftest import synthetic_pool

#: Constant, Fed peak and Fed path scenarios.
SCENARIOS = ["base", "rate_shock_up", "credit_crisis", "liquidity_crisis", "housing_bust",
             "fed_2025_severely_adverse", "fed_2025_severely_adverse_path"]
#: Keys that hold timings or say where a result came from: not part of the comparison.
VOLATILE = {"execution_time", "execution_time_total", "cache_hit"}


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes, one thread each, and a client of the test's own."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None, scheduler_port=0,
                                  scheduler_kwargs=NO_DASHBOARD) as c, \
            distributed.Client(c, set_as_default=False) as client:
        yield c, client


@pytest.fixture(scope="module")
def pool_200k():
    return synthetic_pool(200_000)


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _json(result) -> str:
    """The response JSON with cashflows, minus timings and cache fields."""
    return json.dumps(_strip(json.loads(result.response_json())), sort_keys=True)


def _request(**inner) -> StressTestRequest:
    return StressTestRequest(request=AnalysisRequest(analysis_date=date(2026, 1, 1),
                                                     include_cashflows=True, **inner),
                             scenario_names=SCENARIOS, include_cashflows=True)


def _stresslab_tasks(client) -> list[str]:
    return client.run_on_scheduler(
        lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks
                                if str(k).startswith("stresslab-partition-")])


@pytest.mark.parametrize("inner", [
    {},  # flat discounting, full run-off
    {"discounting": "curve", "curve_date": date(2014, 6, 27), "curve_spread": 0.01},
    {"projection_periods": 48, "residual_valuation": "run_off"},
], ids=["flat", "curve", "horizon-run-off"])
def test_dask_json_is_bit_identical_to_local(cluster, pool_200k, inner):
    prepared = prepare_run(_request(**inner), pool=pool_200k)
    local = execute_run(prepared, cache=None)
    executor = DaskExecutor(scheduler=cluster[0].scheduler_address)
    chunks_seen: list[tuple[str, int, int]] = []
    remote = execute_run(prepared, cache=None, executor=executor,
                         chunk_progress=lambda k, d, t: chunks_seen.append((k, d, t)))
    assert all(r.status == "success" for r in local.scenarios.values())
    assert _json(remote) == _json(local)
    assert remote.inputs_hash == local.inputs_hash
    # 4 chunks of 50,000 loans, one task per chunk (4 per worker, at most one per chunk)
    assert executor.stats["n_partitions"] == 4 and executor.stats["n_workers"] == 2
    n_jobs = len(SCENARIOS) * 4
    assert [d for _, d, _ in chunks_seen] == list(range(1, n_jobs + 1))
    assert {t for _, _, t in chunks_seen} == {n_jobs}


def test_dask_loan_level_rows_are_identical(cluster):
    pool = synthetic_pool(120_000, seed=5)
    request = StressTestRequest(request=AnalysisRequest(analysis_date=date(2026, 1, 1)),
                                scenario_names=["base", "fed_2025_baseline_path"],
                                include_loan_level=True)
    prepared = prepare_run(request, pool=pool)
    local = execute_run(prepared, cache=None)
    remote = execute_run(prepared, cache=None, executor=DaskExecutor(
        scheduler=cluster[0].scheduler_address, n_partitions=2))
    assert _json(remote) == _json(local)
    a, b = local.loan_level_frame(), remote.loan_level_frame()
    assert len(a) == 2 * 120_000
    pd.testing.assert_frame_equal(b, a, check_exact=True)


def test_killed_worker_mid_run_still_completes_identically(cluster, pool_200k):
    c, client = cluster
    prepared = prepare_run(_request(), pool=pool_200k)
    local = execute_run(prepared, cache=None)
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_once(key, done, total):  # on the first chunk handed back: a task has completed
        if killed:
            return
        busy = [w for w, keys in client.processing().items()
                if any(str(k).startswith("stresslab-partition-") for k in keys)]
        victim = (busy or sorted(pids))[0]
        os.kill(pids[victim], signal.SIGKILL)
        killed.append(pids[victim])
        killed.append(total - done)  # chunks still to come when the worker died

    remote = execute_run(prepared, cache=None, chunk_progress=kill_once,
                         executor=DaskExecutor(scheduler=c.scheduler_address))
    assert len(killed) == 2 and killed[1] > 0
    assert all(r.status == "success" for r in remote.scenarios.values())
    assert _json(remote) == _json(local)
    assert killed[0] not in client.run(os.getpid).values()
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it for the next tests


def test_cancel_cancels_the_futures(cluster, pool_200k):
    c, client = cluster
    prepared = prepare_run(_request(), pool=pool_200k)
    cancel = threading.Event()
    finished: list[str] = []
    remote = execute_run(prepared, cache=None, cancel=cancel,
                         chunk_progress=lambda k, d, t: cancel.set(),
                         progress=lambda k, r, d, t: finished.append(k),
                         executor=DaskExecutor(scheduler=c.scheduler_address))
    # every scenario had chunks in the 3 partitions still out: all end cancelled, as locally
    assert {k: (r.status, r.error) for k, r in remote.scenarios.items()} == {
        k: ("error", "cancelled by the user") for k in SCENARIOS}
    assert sorted(finished) == sorted(SCENARIOS)
    left = _stresslab_tasks(client)
    for _ in range(600):  # the scheduler forgets released tasks on its own loop
        if not left:
            break
        time.sleep(0.1)
        left = _stresslab_tasks(client)
    assert left == []
    assert client.submit(operator.add, 1, 2).result() == 3  # the cluster still works
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2


def test_missing_extra_is_an_input_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(InputError) as err:
        require_distributed()
    assert str(err.value) == MISSING_EXTRA
    assert "pip install 'stresslab[dask]'" in MISSING_EXTRA
    request = StressRunRequest.build(pool_id="any", executor="dask", local_workers=2,
                                     record=False)
    with pytest.raises(InputError, match=r"pip install 'stresslab\[dask\]'"):
        run_stress(request, store=Store(tmp_path / "none.duckdb"))
    assert not (tmp_path / "none.duckdb").exists()  # refused before any work


@pytest.mark.parametrize("fields, message", [
    ({"scheduler": "tcp://127.0.0.1:8786"}, "apply to the dask executor only"),
    ({"executor": "dask", "scheduler": "tcp://h:1", "local_workers": 2}, "not both"),
    ({"executor": "dask", "scheduler": "http://h:8786"}, "scheduler"),
    ({"executor": "dask", "local_workers": 0}, "local_workers"),
    ({"executor": "ray"}, "executor"),
])
def test_request_refuses_bad_executor_options(fields, message):
    with pytest.raises(InputError, match=message):
        StressRunRequest.build(pool_id="p", **fields)


def test_write_partitions_round_trip_in_whole_chunks(tmp_path):
    pool = synthetic_pool(130_001, seed=3)
    loans = LoanArrays.from_frame(pool.frame, delinquent_cdr=packaged_delinquent_cdr())
    loans = loans.sorted_for_projection()
    m = write_partitions(loans, directory=tmp_path / "p", n_partitions=2,
                         chunk_size=CHUNK_SIZE, order="projection", pool_hash="h", delinquent_cdr={"auto_loan": 0.1})
    # 3 chunks dealt over 2 partitions: chunk 0, then chunks 1-2
    assert [(e["start"], e["stop"], e["chunks"]) for e in m.partitions] == [
        (0, 50_000, [0, 1]), (50_000, 130_001, [1, 3])]
    back = read_manifest(tmp_path / "p")
    assert back == m.__class__(**{**m.__dict__, "directory": str(tmp_path / "p")})
    parts = [read_partition(partition_path(back, i)) for i in range(2)]
    for name in LoanArrays.__dataclass_fields__:
        got = np.concatenate([getattr(p, name) for p in parts])
        want = getattr(loans, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    with pytest.raises(InputError, match="already holds partitions"):
        write_partitions(loans, directory=tmp_path / "p", n_partitions=2,
                         chunk_size=CHUNK_SIZE, order="projection", pool_hash="h", delinquent_cdr={})


def test_pools_export_cli_then_a_dask_run_on_the_exported_partitions(cluster, tmp_path,
                                                                     monkeypatch, capsys):
    from engine.cli import main

    db = tmp_path / "s.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(db))
    pool = synthetic_pool(110_000, seed=11)
    pool_id = save_pool(pool, store=Store(db)).pool_id
    out = tmp_path / "parts"
    assert main(["pools", "export", pool_id, "--parquet", str(out), "--partitions", "3",
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    m = read_manifest(out)
    assert printed["n_assets"] == 110_000 and printed["order"] == "projection"
    assert [e["file"] for e in printed["partitions"]] == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [e["start"] % CHUNK_SIZE for e in m.partitions] == [0, 0, 0]
    stored = Store(db)
    from engine.credit.workflow import load_pool

    loans = LoanArrays.from_frame(load_pool(pool_id, store=stored).frame,
                                  delinquent_cdr=packaged_delinquent_cdr()).sorted_for_projection()
    back = [read_partition(partition_path(m, i)) for i in range(3)]
    assert np.array_equal(np.concatenate([b.balance for b in back]), loans.balance)
    assert np.array_equal(np.concatenate([b.recovery_lag for b in back]), loans.recovery_lag)
    assert m.pool_hash == load_pool(pool_id, store=stored).content_hash()

    common = dict(pool_id=pool_id, scenario_names=["base", "housing_bust",
                                                   "fed_2025_baseline_path"],
                  include_cashflows=True, use_cache=False, record=False)
    local = run_stress(StressRunRequest.build(**common), store=stored)
    remote = run_stress(StressRunRequest.build(
        **common, executor="dask", scheduler=cluster[0].scheduler_address,
        partition_dir=str(out)), store=stored)
    assert _json(remote.result) == _json(local.result)
    with pytest.raises(InputError, match="order"):  # loan-level runs need the pool's order
        run_stress(StressRunRequest.build(
            **{**common, "include_loan_level": True}, executor="dask",
            scheduler=cluster[0].scheduler_address, partition_dir=str(out)), store=stored)
