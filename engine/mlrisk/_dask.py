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

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from engine._dask import (  # noqa: F401 - re-exported
    CONNECT_TIMEOUT_S, DASK_MISSING, NO_DASHBOARD, dask_client, default_local_workers,
)

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

# The client handling is shared with the credit executor (engine/_dask.py); re-exported here.

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
