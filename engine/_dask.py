"""Dask clients for the engine's executors (credit stress runs, model validation).

Dask is an optional extra (``stresslab[dask]``): ``distributed`` is imported only inside these
functions, and without it :func:`distributed_module` (and so :func:`dask_client`) raises
:class:`~engine.errors.InputError` with :data:`DASK_MISSING`; the engine itself imports without
Dask. :func:`dask_client` connects to a running scheduler or starts a LocalCluster for one run
(worker processes, one thread each, every port free on 127.0.0.1, no dashboard) and closes it
after; it refuses workers that import another StressLab version (their results could differ).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - types only
    from distributed import Client

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DASK_MISSING",
    "NO_DASHBOARD",
    "dask_client",
    "default_local_workers",
    "distributed_module",
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


def distributed_module() -> Any:
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
    distributed = distributed_module()
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
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
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
