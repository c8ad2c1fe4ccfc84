"""Workflow calls on a background thread, followed from the page's script thread.

:class:`Job` and :func:`start_job` run any workflow call on a thread, keep its result or its
error (never a traceback) and hold the event that stops it; the Risk desk's replay uses them as
they are. The credit stress run (:class:`RunJob`) adds its progress queue. Its thread calls
:func:`engine.credit.workflow.run_stress`, which computes the run and records it in the store
itself (success, partial, or a failed run before it raises). The page only follows
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

__all__ = ["Job", "start_job", "RunJob", "start_run", "wait_run", "poll_run", "finish_run",
           "QUICK_RUN_S"]

#: A run that ends within this many seconds is shown finished at once, without live progress:
#: drawing a progress bar, a status and a Cancel button for a run of a few tenths of a second
#: costs the browser more than the run itself (the 10,000-loan pool under 4 scenarios runs in
#: about 0.2 s).
QUICK_RUN_S = 0.6


@dataclass
class Job:
    """A workflow call on a background thread.

    Attributes
    ----------
    cancel : threading.Event
        Handed to the workflow as its stop (or cancel) event.
    outcome : dict
        ``{"result": ...}`` when the call returned, or ``{"error": StressLabError}``.
    latest : object
        The last progress report the call sent, if it sends any (kept by the caller's callback).
    """

    cancel: threading.Event = field(default_factory=threading.Event)
    outcome: dict[str, Any] = field(default_factory=dict)
    latest: Any = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        return self.thread is not None and self.thread.is_alive()


def start_job(call: Callable[[Any], Any], *, job: Job | None = None,
              name: str = "the background job") -> Job:
    """Run ``call(job)`` on a background thread and return the job at once.

    The call's return value goes to ``job.outcome["result"]``; an engine error to
    ``job.outcome["error"]``, and any other exception as a :class:`StressLabError` naming it, so
    that the page shows a message and never a traceback.

    Parameters
    ----------
    call : callable
        Takes the job (for its ``cancel`` event; a progress callback may set ``latest``).
    job : Job, optional
        The job to run it in (a subclass with more fields); default a new :class:`Job`.
    name : str
        What runs, for the thread's name and the error message ("the stress run").

    Returns
    -------
    Job
    """
    job = Job() if job is None else job

    def work() -> None:
        try:
            job.outcome["result"] = call(job)
        except StressLabError as exc:
            job.outcome["error"] = exc
        except Exception as exc:  # noqa: BLE001 - shown as a message, never a traceback
            job.outcome["error"] = StressLabError(f"{name} failed: {type(exc).__name__}: {exc}")

    job.thread = threading.Thread(target=work, name=f"stresslab: {name}", daemon=True)
    job.thread.start()
    return job


@dataclass(kw_only=True)
class RunJob(Job):
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
    events : queue.Queue
        Progress events from the workers, read by :func:`poll_run`.
    done : list of (key, name, status)
        Scenarios already reported to the page (kept across reruns, e.g. after Cancel).

    ``outcome`` holds ``{"result": run_id}`` when the run was recorded (see :class:`Job`).
    """

    request: StressRunRequest
    n_total: int
    events: queue.Queue = field(default_factory=queue.Queue)
    done: list[tuple[str, str, str]] = field(default_factory=list)


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

    def call(job: RunJob) -> str:
        return run_stress(request, store=store, progress=progress, cancel=job.cancel).run_id

    return start_job(call, job=job, name="the stress run")


def wait_run(job: RunJob, *, timeout: float = QUICK_RUN_S, interval: float = 0.01) -> bool:
    """On the script thread: wait up to ``timeout`` seconds for the run to end, drawing nothing.

    Progress events that arrive meanwhile are kept in ``job.done`` (so that :func:`poll_run`,
    if the run goes on, shows them first).

    Returns
    -------
    bool
        True if the run has ended (then call :func:`finish_run`).
    """
    deadline = time.perf_counter() + timeout
    while True:
        alive = job.running
        try:
            while True:
                ev = job.events.get_nowait()
                job.done.append((ev[0], ev[1], ev[2]))
        except queue.Empty:
            pass
        if not alive:
            return True
        if time.perf_counter() >= deadline:
            return False
        time.sleep(interval)


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
    run_id = job.outcome.get("result")
    if not run_id:
        raise StressLabError("the stress run was not recorded (request.record is False)")
    return run_id
