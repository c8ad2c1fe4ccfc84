"""The Dask executor of a validation: the handbook's scenarios as tasks on a Dask cluster.

The fitted model and the evaluation data (:class:`~engine.mlrisk._runner.EvaluationData`: the
test split, training statistics, baseline scores) are scattered to the workers once, in one
``client.scatter(..., broadcast=True)``; each scenario is then one task,
:func:`~engine.mlrisk._runner.evaluate_scenario`, that takes the two futures and the scenario.
Results are gathered in the handbook's order. A stress draws its randomness from its own
scenario's seed, so the entries, and so the artifacts and their hashes, are the same bytes as
the local executor's. Training, the baseline, the decision and the artifacts stay in the
calling process; a worker never opens the store.

Dask is an optional extra: this module imports ``distributed`` only inside its functions, and
without it :func:`dask_client` raises :class:`~engine.errors.InputError` with
:data:`DASK_MISSING` (the engine itself imports without Dask).

Workers need the same StressLab version as the caller (the task is the engine's own function);
:func:`dask_client` checks every worker's ``engine.__version__`` before a run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - types only
    from distributed import Client

    from engine.mlrisk._models import Scenario
    from engine.mlrisk._runner import EvaluationData

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DASK_MISSING",
    "DaskScenarioMap",
    "NO_DASHBOARD",
    "dask_client",
    "default_local_workers",
]

#: What a user without the optional extra is told.
DASK_MISSING = ("the Dask executor needs the optional extra that installs dask and distributed: "
                "pip install 'stresslab[dask]' (or run with --executor local)")
#: Seconds to wait for a scheduler to answer and for its first worker to join.
CONNECT_TIMEOUT_S = 10.0
#: A LocalCluster's scheduler without its dashboard: with ``dashboard_address=None`` alone it
#: still opens its plain HTTP endpoints (health, metrics) on port 8787, or warns and moves when
#: that port is taken (distributed/scheduler.py, ``start_http_server(..., default_port=8787)``);
#: here they go to a free port of 127.0.0.1.
NO_DASHBOARD = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}


def _distributed() -> Any:
    """The ``distributed`` module, or the engine's error naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise InputError(DASK_MISSING) from None
    return distributed


def default_local_workers() -> int:
    """Worker processes of a LocalCluster when none is asked for: one per CPU core."""
    return max(1, os.cpu_count() or 1)


def _engine_version() -> str:
    """Run on each worker: the StressLab version it imports."""
    import engine

    return engine.__version__


@contextmanager
def dask_client(*, scheduler: str | None = None, local_workers: int | None = None) -> Iterator[Client]:
    """A Dask client for one run: connected to a running cluster, or to a LocalCluster started
    for the run and shut down afterwards.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, ``tcp://HOST:PORT`` (or ``tls://``). The cluster is left
        running when the run ends.
    local_workers : int, optional
        Worker processes of a LocalCluster started for this run (one thread each, dashboard off,
        scheduler and its HTTP endpoints on free ports of 127.0.0.1); default :func:`default_local_workers` when
        ``scheduler`` is not given either.

    Yields
    ------
    distributed.Client

    Raises
    ------
    InputError
        Dask is not installed (:data:`DASK_MISSING`); both arguments are given; the scheduler
        does not answer, or no worker joins it, within :data:`CONNECT_TIMEOUT_S` seconds; or a
        worker runs another StressLab version.
    """
    if scheduler is not None and local_workers is not None:
        raise InputError("give either a scheduler address or a number of local workers, not both")
    distributed = _distributed()
    cluster = None
    if scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=local_workers or default_local_workers(), threads_per_worker=1, processes=True,
            host="127.0.0.1", scheduler_port=0, dashboard_address=None, scheduler_kwargs=NO_DASHBOARD)
        address = cluster.scheduler_address
    else:
        address = scheduler
    try:
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:  # TimeoutError and refused connections are OSErrors
            raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}. Start one "
                             "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or use "
                             "--local-workers N") from None
        try:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except OSError:  # distributed's TimeoutError is the built-in one, an OSError
                raise InputError(f"the Dask scheduler at {address} has no worker after "
                                 f"{CONNECT_TIMEOUT_S:g} s; start workers with `dask worker {address}`") from None
            _check_versions(client)
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _check_versions(client: Client) -> None:
    """Refuse workers that import another StressLab version (their results could differ)."""
    try:
        versions = client.run(_engine_version)
    except ImportError:
        raise InputError(f"a Dask worker cannot import StressLab; install stresslab {__version__} "
                         "on every worker") from None
    other = {w: v for w, v in sorted(versions.items()) if v != __version__}
    if other:
        raise InputError(f"Dask workers run another StressLab version than this one ({__version__}): "
                         + ", ".join(f"{w} has {v}" for w, v in other.items())
                         + f"; install stresslab {__version__} on every worker")


class DaskScenarioMap:
    """A :data:`~engine.mlrisk._runner.ScenarioMap` that runs each scenario as one Dask task.

    Parameters
    ----------
    client : distributed.Client
        A connected client (:func:`dask_client`); not closed here.

    Notes
    -----
    One call scatters ``[model, data]`` once with ``broadcast=True`` (every worker gets one copy,
    not one per task), submits one task per scenario with the two futures (``pure=False``; keys
    ``mlrisk-scenario-<run token>-<position>``), gathers the entries in the order of the
    scenarios and releases every future. A worker lost mid-run has its tasks rerun elsewhere by
    the scheduler (``distributed.scheduler.allowed-failures``); a task that raises re-raises
    here.
    """

    def __init__(self, client: Client) -> None:
        self.client = client

    def __call__(self, fn: Callable[..., dict], *, scenarios: Sequence[Scenario], model: Any,
                 data: EvaluationData) -> list[dict]:
        """Evaluate ``fn(scenario, model=model, data=data)`` for every scenario on the cluster.

        Returns
        -------
        list of dict
            One entry per scenario, in the order of ``scenarios``.
        """
        model_f, data_f = self.client.scatter([model, data], broadcast=True, hash=False)
        token = uuid.uuid4().hex[:12]
        futures = []
        try:
            futures = [self.client.submit(fn, sc, model=model_f, data=data_f, pure=False,
                                          key=f"mlrisk-scenario-{token}-{i:04d}")
                       for i, sc in enumerate(scenarios)]
            return list(self.client.gather(futures))
        finally:
            for f in [*futures, model_f, data_f]:
                f.release()
