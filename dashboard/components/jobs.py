"""The credit stress run on a background thread, polled from the page's script thread.

The thread calls :func:`engine.credit.workflow.run_stress`, which computes the run and records it
in the store itself (success, partial, or a failed run before it raises). The page only follows
the progress and, when the run ends, shows the stored run by its id
(:func:`dashboard.components.credit.cached_run`), so a fresh run and a reopened one look the
same and nothing is recomputed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dashboard import state
from engine.credit.workflow import StressRunRequest, run_stress
from engine.errors import StressLabError

__all__ = ["RunJob", "start_run", "poll_run", "finish_run"]


@dataclass
class RunJob:
    """A stress run on a background thread; the page polls ``events`` from the script thread.

    The engine calls ``progress`` from its worker threads, where Streamlit elements must not be
    touched: each call only puts ``(key, name, status, n_done, n_total)`` on ``events``. The page
    reads the queue and updates ``st.progress`` / ``st.status``. Setting ``cancel`` makes the
    scenarios not yet started end with status ``error`` ("cancelled by the user"); finished
    scenarios are kept and the workflow stores the run as ``partial`` (or ``error`` when none
    finished).

    Attributes
    ----------
    request : StressRunRequest
        What runs.
    n_total : int
        Scenarios in the run, the base case included.
    cancel : threading.Event
        Set to cancel the scenarios not yet started.
    events : queue.Queue
        Progress events from the workers, read by :func:`poll_run`.
    done : list of (key, name, status)
        Scenarios already reported to the page (kept across reruns, e.g. after Cancel).
    outcome : dict
        ``{"run_id": str}`` when the run was recorded, or ``{"error": StressLabError}``.
    """

    request: StressRunRequest
    n_total: int
    cancel: threading.Event = field(default_factory=threading.Event)
    events: queue.Queue = field(default_factory=queue.Queue)
    done: list[tuple[str, str, str]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        return self.thread is not None and self.thread.is_alive()


def start_run(request: StressRunRequest, *, cancel: threading.Event | None = None) -> RunJob:
    """Start ``run_stress(request)`` on a background thread and return at once.

    The run is recorded in the app's store (:func:`dashboard.state.store`, resolved here on the
    script thread).

    Parameters
    ----------
    request : StressRunRequest
        The run; ``record`` should be True so the page can show it from the store.
    cancel : threading.Event, optional
        An event of one's own (already set: every scenario ends as cancelled).

    Returns
    -------
    RunJob
        Poll it with :func:`poll_run`, then :func:`finish_run` gives the run id.
    """
    n_total = len(dict.fromkeys(["base", *request.scenario_names]))
    job = RunJob(request=request, n_total=n_total,
                 cancel=threading.Event() if cancel is None else cancel)
    store = state.store()

    def progress(key: str, result: Any, n_done: int, n_total: int) -> None:
        job.events.put((key, result.scenario.name, result.status, n_done, n_total))

    def work() -> None:
        try:
            run = run_stress(request, store=store, progress=progress, cancel=job.cancel)
        except StressLabError as exc:
            job.outcome["error"] = exc
        except Exception as exc:  # noqa: BLE001 - shown as a message, never a traceback
            job.outcome["error"] = StressLabError(
                f"the stress run failed: {type(exc).__name__}: {exc}")
        else:
            job.outcome["run_id"] = run.run_id

    job.thread = threading.Thread(target=work, name="stresslab-run", daemon=True)
    job.thread.start()
    return job


def poll_run(job: RunJob, on_event: Callable[[str, str, str, int, int], None], *,
             on_tick: Callable[[float], None] | None = None, interval: float = 0.05,
             tick_every: float = 0.25) -> None:
    """On the script thread: pass each progress event to ``on_event`` until the run ends.

    ``on_tick(seconds_elapsed)`` is called every ``tick_every`` seconds; updating an element
    there lets Streamlit stop this script promptly when the user presses a button (Cancel).
    """
    t0 = last_tick = time.perf_counter()
    while True:
        alive = job.running
        try:
            while True:
                ev = job.events.get_nowait()
                job.done.append((ev[0], ev[1], ev[2]))
                on_event(*ev)
        except queue.Empty:
            pass
        if not alive:
            return
        now = time.perf_counter()
        if on_tick is not None and now - last_tick >= tick_every:
            on_tick(now - t0)
            last_tick = now
        time.sleep(interval)


def finish_run(job: RunJob) -> str:
    """The id of the finished run, as the workflow recorded it.

    Raises
    ------
    StressLabError
        The run's own error (the workflow has recorded it as a failed run), or if the run is
        still going or was not recorded.
    """
    if job.running:
        raise StressLabError("the stress run has not finished yet")
    if "error" in job.outcome:
        raise job.outcome["error"]
    run_id = job.outcome.get("run_id")
    if not run_id:
        raise StressLabError("the stress run was not recorded (request.record is False)")
    return run_id
