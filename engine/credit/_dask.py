"""Run a stress test's chunks on a Dask distributed cluster (``--executor dask``).

The client (:class:`DaskExecutor`, plugged into :func:`engine.credit._runner.execute_run`):

1. uses an exported partition directory (``stresslab pools export POOL --parquet DIR``) whose
   manifest matches the run, or writes the run's loan arrays as Parquet partitions of whole
   chunks on the fly (:mod:`engine.credit._partitions`), in a directory every worker must see;
2. submits one task per partition (``retries=2``): the task reads its partition itself (the
   client never sends loan arrays through the scheduler), projects each of its chunks under
   every scenario not served from the cache with :func:`~engine.credit._runner.project_chunk`
   (the local executor's own computation and discount factors), and returns each chunk's pool
   table; for a loan-level run it writes the loan rows as Parquet next to the partitions and
   returns their path;
3. takes the tasks as they complete (``distributed.as_completed``) and hands every chunk to the
   runner's accumulators, which sum a scenario's tables in chunk order when its last chunk is in:
   the same tables summed in the same order as the local executor, so the results are the same
   bit for bit; the chunk and scenario progress callbacks fire from there;
4. on cancel (the run's ``threading.Event``) cancels the futures still out
   (``Client.cancel``); their chunks fail with "cancelled by the user", as locally.

A worker killed mid-run loses its tasks; the scheduler reruns them on another worker (the
nanny restarts the killed one). Dask is imported only here, and only when a run asks for it:
without the ``dask`` extra, :func:`require_distributed` raises an :class:`InputError`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from engine.credit._cashflows import LOAN_FIELDS
from engine.credit._partitions import (
    PartitionManifest, _filesystem, _join, partition_path, read_manifest, read_partition,
    write_partitions,
)
from engine.credit._runner import CHUNK_SIZE, ChunkPlan, PreparedRun, _Sink, project_chunk
from engine._dask import DASK_MISSING, dask_client, distributed_module
from engine.errors import InputError

__all__ = ["MISSING_EXTRA", "DaskExecutor", "require_distributed"]

#: What a user without the extra is told (the engine's one message).
MISSING_EXTRA = DASK_MISSING
#: The message of chunks cancelled by the user (the local executor's).
CANCELLED = "cancelled by the user"


def require_distributed() -> Any:
    """The ``distributed`` module.

    Raises
    ------
    InputError
        If Dask distributed is not installed (:data:`MISSING_EXTRA`).
    """
    return distributed_module()


def _project_partition(path: str, *, bounds: list[tuple[int, int]],
                       plans: dict[str, ChunkPlan], loan_dir: str | None,
                       index: int) -> dict[str, Any]:
    """The task: project every chunk of one partition under every scenario (runs on a worker).

    Parameters
    ----------
    path : str
        The partition file (:func:`engine.credit._partitions.partition_path`).
    bounds : list of (int, int)
        Each chunk's ``[start, stop)`` inside the partition.
    plans : dict of key to ChunkPlan
    loan_dir : str or None
        Where loan rows go (loan-level runs), a directory the client can read.
    index : int
        The partition's index (names the loan-row files).

    Returns
    -------
    dict
        ``seconds`` (the task's compute time) and ``scenarios``: key → ``{"chunks": [...],
        "loans": path or None}``, one item per chunk: the pool table and its loan rows'
        ``[lo, hi)`` in the file, or the chunk's error message.
    """
    t0 = time.perf_counter()
    loans = read_partition(path)
    out: dict[str, Any] = {}
    for s, (key, plan) in enumerate(plans.items()):
        items: list[Any] = []
        rows: list[np.ndarray] = []
        n_rows = 0
        for a, b in bounds:
            try:
                part, loans_out = project_chunk(loans.take(a, b), plan=plan)
            except Exception as exc:  # noqa: BLE001 - a failing chunk fails its scenario only
                items.append(f"{type(exc).__name__}: {exc}")
                continue
            if loans_out is not None:
                rows.append(loans_out)
                items.append((part, n_rows, n_rows + loans_out.shape[0]))
                n_rows += loans_out.shape[0]
            else:
                items.append((part, 0, 0))
        file = None
        if plan.loan_level and rows and loan_dir is not None:
            import pyarrow as pa
            import pyarrow.parquet as pq

            block = np.concatenate(rows)
            file = _join(loan_dir, f"loans-{s:03d}-{index:05d}.parquet")
            fs, target = _filesystem(file)
            pq.write_table(pa.table({f: block[:, i] for i, f in enumerate(LOAN_FIELDS)}),
                           target, filesystem=fs)
        out[key] = {"chunks": items, "loans": file}
    return {"seconds": time.perf_counter() - t0, "scenarios": out}


def _read_loan_rows(path: str) -> np.ndarray:
    import pyarrow.parquet as pq

    fs, file = _filesystem(path)
    table = pq.read_table(file, filesystem=fs)
    return np.column_stack([table.column(f).to_numpy() for f in LOAN_FIELDS]).astype(np.float64)


class DaskExecutor:
    """The chunks of a run as tasks on a Dask cluster (see the module docstring).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:8786``): the run connects to it.
    local_workers : int, optional
        Without ``scheduler``: start a LocalCluster of this many worker processes (one thread
        each) for the run and close it after; default the CPU count.
    partition_dir : str, optional
        A directory (local path or fsspec URL) every worker can read. If it holds a manifest
        (``stresslab pools export``), its partitions are used (they must match the run);
        otherwise the run writes its partitions into a new sub-directory of it, removed after
        the run. Default: a temporary local directory (fine for a LocalCluster; a cluster on
        other machines needs a shared path).
    n_partitions : int, optional
        Partitions written on the fly; default 4 per worker, at most one per chunk.
    retries : int
        Retries of a task that raised (a task of a killed worker is rerun by the scheduler
        in any case).

    Attributes
    ----------
    stats : dict
        After a run: ``n_workers``, ``n_partitions``, ``partition_seconds`` (writing the
        partitions; 0 for exported ones), ``first_result_seconds`` (from the first submit to
        the first result received), ``task_seconds`` (each task's compute time, in completion
        order).
    """

    def __init__(self, *, scheduler: str | None = None, local_workers: int | None = None,
                 partition_dir: str | None = None, n_partitions: int | None = None,
                 retries: int = 2) -> None:
        self.scheduler = scheduler
        self.local_workers = local_workers
        self.partition_dir = partition_dir
        self.n_partitions = n_partitions
        self.retries = retries
        self.stats: dict[str, Any] = {}

    @contextmanager
    def _client(self, distributed: Any) -> Iterator[Any]:
        """A client of the scheduler asked for, or of a LocalCluster started for the run
        (:func:`engine._dask.dask_client`)."""
        with dask_client(scheduler=self.scheduler, local_workers=self.local_workers) as client:
            yield client

    def _manifest(self, prepared: PreparedRun, *, n_workers: int,
                  run_dir: str) -> PartitionManifest:
        """The run's partitions: the exported ones if they match, else written into ``run_dir``."""
        order = "pool" if prepared.loan_level else "projection"
        given = self.partition_dir
        if given is not None and _has_manifest(given):
            m = read_manifest(given)
            wanted = {"n_assets": prepared.loans.n_assets, "chunk_size": CHUNK_SIZE,
                      "order": order, "pool_hash": prepared.pool_hash,
                      "delinquent_cdr": dict(prepared.delinquent_cdr)}
            have = {"n_assets": m.n_assets, "chunk_size": m.chunk_size, "order": m.order,
                    "pool_hash": m.pool_hash, "delinquent_cdr": m.delinquent_cdr}
            wrong = [k for k in wanted if wanted[k] != have[k]]
            if wrong:
                raise InputError(
                    f"the partitions in {given!r} do not match this run ({', '.join(wrong)} "
                    "differ: another pool, a roll-forward to a later analysis date, another "
                    "assumption table or a loan-level run); export the pool again or leave the "
                    "partition directory out to partition on the fly")
            self.stats["partition_seconds"] = 0.0
            return m
        t0 = time.perf_counter()
        n_chunks = -(-prepared.loans.n_assets // CHUNK_SIZE)
        wanted_parts = self.n_partitions or max(1, min(n_chunks, 4 * n_workers))
        m = write_partitions(prepared.loans, directory=_join(run_dir, "partitions"),
                             n_partitions=wanted_parts, chunk_size=CHUNK_SIZE, order=order,
                             pool_hash=prepared.pool_hash, delinquent_cdr=prepared.delinquent_cdr)
        self.stats["partition_seconds"] = time.perf_counter() - t0
        return m

    def run(self, prepared: PreparedRun, *, plans: dict[str, ChunkPlan],
            chunks: list[tuple[int, int]], sink: _Sink,
            cancel: threading.Event | None) -> None:
        """Compute every chunk of ``prepared`` under every scenario of ``plans`` on the cluster.

        See :class:`engine.credit._runner.ChunkExecutor`.

        Raises
        ------
        InputError
            Dask not installed, the scheduler unreachable, or exported partitions that do not
            match the run.
        """
        distributed = require_distributed()
        self.stats = {}
        with self._client(distributed) as client, _run_directory(self.partition_dir) as run_dir:
            n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
            self.stats["n_workers"] = n_workers
            manifest = self._manifest(prepared, n_workers=n_workers, run_dir=run_dir)
            loan_dir = None
            if prepared.loan_level:
                loan_dir = _join(run_dir, "loan_level")
                fs, root = _filesystem(loan_dir)
                if fs is None:
                    os.makedirs(root, exist_ok=True)
                else:
                    fs.create_dir(root, recursive=True)
            self._compute(client, distributed, manifest=manifest, plans=plans, chunks=chunks,
                          sink=sink, cancel=cancel, loan_dir=loan_dir)

    def _compute(self, client: Any, distributed: Any, *, manifest: PartitionManifest,
                 plans: dict[str, ChunkPlan], chunks: list[tuple[int, int]], sink: _Sink,
                 cancel: threading.Event | None, loan_dir: str | None) -> None:
        token = uuid.uuid4().hex[:12]
        for k in plans:
            sink.start(k)
        futures = []
        where: dict[str, int] = {}
        t0 = time.perf_counter()
        for p, entry in enumerate(manifest.partitions):
            c0, c1 = entry["chunks"]
            start = entry["start"]
            if chunks[c0][0] != start or chunks[c1 - 1][1] != entry["stop"]:
                raise InputError(f"partition {p} of {manifest.directory!r} does not hold whole "
                                 "chunks of the run")
            key = f"stresslab-partition-{token}-{p:05d}"
            futures.append(client.submit(
                _project_partition, partition_path(manifest, p),
                bounds=[(a - start, b - start) for a, b in chunks[c0:c1]], plans=plans,
                loan_dir=loan_dir, index=p, key=key, retries=self.retries))
            where[key] = p
        self.stats.update(n_partitions=len(futures), task_seconds=[],
                          first_result_seconds=None)

        def fail_partition(p: int, message: str) -> None:
            c0, c1 = manifest.partitions[p]["chunks"]
            for k in plans:
                for ci in range(c0, c1):
                    sink.fail(k, ci, message)

        done_watching = threading.Event()

        def watch() -> None:  # cancel the futures as soon as the user cancels
            while not done_watching.is_set():
                if cancel.wait(0.05):
                    client.cancel(futures)
                    return

        watcher = None
        if cancel is not None:
            watcher = threading.Thread(target=watch, name="stress-dask-cancel", daemon=True)
            watcher.start()
        try:
            for fut in distributed.as_completed(futures, loop=client.loop):
                p = where[fut.key]
                if cancel is not None and cancel.is_set():
                    client.cancel(futures)
                    fail_partition(p, CANCELLED)
                    continue
                try:
                    res = fut.result() if fut.status == "finished" else None
                except Exception:  # noqa: BLE001 - cancelled or failed meanwhile: handled below
                    res = None
                if res is None:
                    if fut.status == "cancelled":
                        fail_partition(p, CANCELLED)
                    else:
                        exc = fut.exception()
                        fail_partition(p, f"{type(exc).__name__}: {exc}")
                    continue
                if self.stats["first_result_seconds"] is None:
                    self.stats["first_result_seconds"] = time.perf_counter() - t0
                self.stats["task_seconds"].append(res["seconds"])
                self._deliver(res["scenarios"], first_chunk=manifest.partitions[p]["chunks"][0],
                              sink=sink)
        finally:
            done_watching.set()
            if watcher is not None:
                watcher.join()
            client.cancel(futures)  # nothing left running on the cluster for this run

    @staticmethod
    def _deliver(scenarios: dict[str, Any], *, first_chunk: int, sink: _Sink) -> None:
        for key, entry in scenarios.items():
            rows = _read_loan_rows(entry["loans"]) if entry["loans"] else None
            for j, item in enumerate(entry["chunks"]):
                ci = first_chunk + j
                if isinstance(item, str):
                    sink.fail(key, ci, item)
                    continue
                part, lo, hi = item
                sink.add(key, ci, part=part, loans_out=rows[lo:hi] if rows is not None else None)


def _has_manifest(directory: str) -> bool:
    from engine.credit._partitions import MANIFEST

    fs, root = _filesystem(directory)
    if fs is None:
        return os.path.isfile(os.path.join(root, MANIFEST))
    import pyarrow as pa

    return fs.get_file_info(_join(root, MANIFEST)).type != pa.fs.FileType.NotFound


@contextmanager
def _run_directory(base: str | None) -> Iterator[str]:
    """A fresh directory for one run's partitions and loan rows, removed afterwards: under
    ``base`` (a local path or fsspec URL every worker sees), else a local temporary one."""
    name = f"stresslab-run-{uuid.uuid4().hex[:12]}"
    if base is None:
        path = tempfile.mkdtemp(prefix="stresslab-run-")
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
        return
    path = _join(base, name)
    fs, root = _filesystem(path)
    if fs is None:
        os.makedirs(root)
    else:
        fs.create_dir(root, recursive=True)
    try:
        yield path
    finally:
        if fs is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            fs.delete_dir(root)
