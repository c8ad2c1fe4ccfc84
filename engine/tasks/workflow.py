"""Background tasks: a long workflow (an async stress run, a validation) run on a thread of the
server, with every state message stored.

A task sends messages ``{task_id, status, message, data}`` with status ``queued``, ``running``,
``completed`` or ``error`` (the original API's WebSocket protocol). Each message is stored
(``api_task_events``) and the task's row (``api_tasks``) holds the latest, so:

* a client that connects late reads the current state, then every message after it
  (:func:`task_events`);
* ``GET /api/v1/tasks/{id}`` answers after a server restart (:func:`get_task`);
* a task whose process died while it was queued or running is ended as ``error`` with the
  reason, the first time anyone looks at it or when a server starts (:func:`end_orphans`). A
  task's process is known by its pid and its start time (``/proc/<pid>/stat``, field 22), so a
  reused pid is not mistaken for the server that ran it.

Messages are written in order by one writer thread per :class:`TaskRunner`, never from the
computing threads: a busy store delays a progress message, not the computation.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from engine.audit.runs import utc_now
from engine.errors import NotFoundError, StoreBusyError
from engine.store import Store, transaction
from engine.tasks import _store

__all__ = [
    "TaskStatus",
    "TaskMessage",
    "TaskState",
    "TaskReporter",
    "TaskRunner",
    "get_task",
    "task_events",
    "end_orphans",
    "websocket_url",
]

TaskStatus = Literal["queued", "running", "completed", "error"]
TERMINAL: tuple[str, ...] = ("completed", "error")
log = logging.getLogger("stresslab.tasks")


class TaskMessage(BaseModel):
    """One message of a task, as the WebSocket sends it.

    ``data`` while running: ``{progress (0–100), current_scenario}``; when completed the task's
    result (for a stress run ``{results: <the sync response>, run_id}``); on error
    ``{error, issues?}``.
    """

    model_config = ConfigDict(frozen=True)

    task_id: str
    status: TaskStatus
    message: str
    data: dict[str, Any] | None = None


class TaskState(BaseModel):
    """A task's stored state (``GET /api/v1/tasks/{task_id}``).

    ``progress`` is 0–100; ``seq`` the number of its latest message; times are UTC.
    """

    model_config = ConfigDict(frozen=True)

    task_id: str
    kind: str
    user_id: str
    label: str | None
    status: TaskStatus
    message: str
    progress: float
    run_id: str | None
    seq: int
    created_at: datetime
    updated_at: datetime
    data: dict[str, Any] | None = None


def _process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field
    22, proc(5)); ``""`` when it cannot be read (no such process, or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return ""
    # the command name (field 2) is in parentheses and may hold spaces: count after the last ')'
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int, started: str) -> bool:
    if not os.path.isdir("/proc/self"):  # no /proc (macOS): the pid alone, reuse not detected
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return started != "" and _process_start(pid) == started


_SELF = (os.getpid(), _process_start(os.getpid()))


def _self() -> tuple[int, str]:
    global _SELF
    if _SELF[0] != os.getpid():  # forked (uvicorn workers)
        _SELF = (os.getpid(), _process_start(os.getpid()))
    return _SELF


def _orphan_reason(row: dict[str, Any]) -> str | None:
    if row["status"] in TERMINAL:
        return None
    if (row["owner_pid"], row["owner_started"]) == _self():
        return None
    if _alive(int(row["owner_pid"]), row["owner_started"]):
        return None
    return (f"the server process that ran this task (pid {row['owner_pid']}) stopped before it "
            f"finished (it was {row['status']}: {row['message']}); nothing of it was recorded "
            "beyond its messages. Submit it again.")


def websocket_url(user: str, task_id: str) -> str:
    """Where a task's messages stream: ``/ws/<user>?task_id=<task_id>`` (the user name
    percent-encoded, RFC 3986 section 2.1, so a name with a space or a slash stays one segment)."""
    from urllib.parse import quote

    return f"/ws/{quote(user, safe='')}?task_id={quote(task_id, safe='')}"


def end_orphans(*, store: Store | None = None) -> list[str]:
    """End as ``error`` every queued or running task whose server process is gone.

    Returns
    -------
    list of str
        The task ids ended.
    """
    store = store if store is not None else Store()
    with store.read() as con:
        rows = _store.open_tasks(con)
    orphans = [(r, reason) for r in rows if (reason := _orphan_reason(r)) is not None]
    if not orphans:
        return []
    with store.write() as con, transaction(con):
        ended = []
        for r, reason in orphans:
            now = _store.get_task(con, r["task_id"])  # re-read inside the write session
            if now is None or now["status"] in TERMINAL:
                continue
            _store.add_events(con, [{"task_id": r["task_id"], "seq": now["seq"] + 1,
                                     "status": "error", "message": reason,
                                     "data": {"error": reason}, "at": utc_now()}])
            ended.append(r["task_id"])
    return ended


def get_task(task_id: str, *, store: Store | None = None) -> TaskState:
    """A task's current state, with its latest message's ``data``.

    A task whose process is gone is ended first (:func:`end_orphans`).

    Raises
    ------
    NotFoundError
        If no task has this id.
    """
    store = store if store is not None else Store()
    with store.read() as con:
        row = _store.get_task(con, task_id)
    if row is None:
        raise NotFoundError(f"no task {task_id!r}")
    if _orphan_reason(row) is not None:
        end_orphans(store=store)
    with store.read() as con:
        row = _store.get_task(con, task_id)
        last = _store.events_after(con, task_id=task_id, seq=row["seq"] - 1)
    data = last[0]["data"] if last else None
    fields = {k: v for k, v in row.items() if k in TaskState.model_fields}
    return TaskState(**fields, data=data)


def task_events(task_id: str, *, after_seq: int,
                store: Store | None = None) -> list[tuple[int, TaskMessage]]:
    """The task's messages after number ``after_seq`` (0 for all), with their numbers.

    Returns
    -------
    list of (int, TaskMessage)
        In order.
    """
    store = store if store is not None else Store()
    with store.read() as con:
        rows = _store.events_after(con, task_id=task_id, seq=after_seq)
    return [(r["seq"], TaskMessage(task_id=task_id, status=r["status"], message=r["message"],
                                   data=r["data"])) for r in rows]


def _plain(data: Any) -> Any:
    """``data`` as JSON can hold it: NaN and infinities as None, other objects as text."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if data is None or isinstance(data, (str, int, bool)):
        return data
    if hasattr(data, "item"):  # a numpy scalar
        return _plain(data.item())
    return str(data)


class TaskReporter:
    """What a task's work calls to report: :meth:`running` with its progress."""

    def __init__(self, runner: TaskRunner, task_id: str) -> None:
        self._runner = runner
        self.task_id = task_id

    def running(self, *, progress: float, message: str, data: dict[str, Any] | None = None) -> None:
        """Send a ``running`` message; ``progress`` 0–100 (clipped)."""
        progress = min(100.0, max(0.0, float(progress)))
        payload = {"progress": round(progress, 2), **(data or {})}
        self._runner._emit(self.task_id, status="running", message=message, data=payload,
                           progress=progress)


#: A task's work: given its reporter, returns ``(run_id, completed data)``.
Work = Callable[[TaskReporter], tuple[str | None, dict[str, Any]]]


class TaskRunner:
    """Runs tasks on worker threads of this process and stores their messages in order.

    Parameters
    ----------
    store : Store
    max_workers : int
        Tasks run at once; more wait as ``queued``.
    describe : callable, optional
        ``describe(exc) -> (message, data)``: the ``error`` message that ends a task whose work
        raised ``exc`` (the API gives the engine's message and issue list, and for an internal
        error only its kind, logging the traceback). Default: ``str(exc)`` and
        ``{"error": str(exc)}``.
    """

    def __init__(self, *, store: Store, max_workers: int = 2,
                 describe: Callable[[BaseException], tuple[str, dict[str, Any]]] | None = None
                 ) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="task")
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._seq: dict[str, int] = {}
        self._seq_lock = threading.Lock()
        self._broken: set[str] = set()
        self._describe = describe or (lambda exc: (str(exc) or type(exc).__name__,
                                                   {"error": str(exc)}))
        self._writer = threading.Thread(target=self._write_loop, name="task-writer", daemon=True)
        self._writer.start()
        self._idle = threading.Condition()
        self._pending = 0

    # ------------------------------------------------------------------ writing

    def _emit(self, task_id: str, *, status: str, message: str, data: dict[str, Any] | None,
              progress: float | None = None, run_id: str | None = None) -> None:
        if task_id in self._broken:
            return
        with self._idle:
            self._pending += 1
        with self._seq_lock:  # numbered and queued together, so the queue holds them in order
            seq = self._seq[task_id] = self._seq[task_id] + 1
            self._queue.put({"task_id": task_id, "seq": seq, "status": status,
                             "message": message, "data": _plain(data), "at": utc_now(),
                             "progress": progress, "run_id": run_id})

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            try:
                self._write(batch)
            except Exception:  # noqa: BLE001 - the writer must outlive any one batch
                log.exception("task messages could not be stored; dropped %d", len(batch))
            finally:
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()

    def _write(self, batch: list[dict[str, Any]]) -> None:
        """Store a batch; a busy store is waited for (the work goes on meanwhile), any other
        failure ends each task of the batch as ``error`` saying so, once."""
        delay = 0.05
        while True:
            try:
                with self.store.write() as con, transaction(con):
                    _store.add_events(con, batch)
                return
            except StoreBusyError:
                threading.Event().wait(delay)
                delay = min(delay * 2, 2.0)
            except Exception as exc:  # noqa: BLE001 - write what can be written: the failure
                tasks = list(dict.fromkeys(e["task_id"] for e in batch))
                if len(tasks) > 1:  # one task's bad message must not cost the others theirs
                    for task_id in tasks:
                        self._write([e for e in batch if e["task_id"] == task_id])
                    return
                log.error("task messages could not be stored", exc_info=exc)
                failed = tasks
                self._broken.update(failed)  # their later messages are dropped
                message = (f"the task's messages could not be stored ({type(exc).__name__}); "
                           "see the server log")
                with self.store.write() as con, transaction(con):
                    for task_id in failed:  # numbered after whatever the store holds
                        row = _store.get_task(con, task_id)
                        if row is None or row["status"] in TERMINAL:
                            continue
                        _store.add_events(con, [{
                            "task_id": task_id, "seq": _store.last_seq(con, task_id) + 1,
                            "status": "error",
                            "message": message, "data": {"error": "internal"},
                            "at": utc_now()}])
                return

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message sent so far is stored; False if ``timeout`` ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    # ------------------------------------------------------------------ running

    def submit(self, work: Work, *, kind: str, user_id: str, label: str | None = None,
               message: str = "queued") -> TaskState:
        """Store a new ``queued`` task (before returning), then run ``work`` on a worker thread.

        Returns
        -------
        TaskState
            The queued task.
        """
        task_id = uuid.uuid4().hex
        pid, started = _self()
        now = utc_now()
        row = {"task_id": task_id, "kind": kind, "user_id": user_id, "label": label,
               "status": "queued", "message": message, "progress": 0.0, "run_id": None,
               "owner_pid": pid, "owner_started": started, "seq": 1, "created_at": now,
               "updated_at": now}
        with self.store.write() as con, transaction(con):
            _store.insert_task(con, task=row)
            _store.add_events(con, [{"task_id": task_id, "seq": 1, "status": "queued",
                                     "message": message, "data": None, "at": now}])
        with self._seq_lock:
            self._seq[task_id] = 1
        self._pool.submit(self._run, task_id, work)
        return TaskState(**{k: v for k, v in row.items() if k in TaskState.model_fields})

    def _run(self, task_id: str, work: Work) -> None:
        reporter = TaskReporter(self, task_id)
        reporter.running(progress=0.0, message="started")
        try:
            run_id, data = work(reporter)
        except BaseException as exc:  # noqa: BLE001 - every failure ends the task as 'error'
            message, data = self._describe(exc)
            self._emit(task_id, status="error", message=message, data=data)
        else:
            self._emit(task_id, status="completed", message="completed", data=data,
                       progress=100.0, run_id=run_id)
        finally:
            with self._seq_lock:
                self._seq.pop(task_id, None)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking tasks; with ``wait``, finish the running ones and store every message."""
        self._pool.shutdown(wait=wait, cancel_futures=True)  # queued ones end as orphans
        if wait:
            self.flush(timeout=30)
        self._queue.put(None)
        self._writer.join(timeout=10 if wait else 0.1)
