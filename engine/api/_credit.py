"""Credit stress testing over HTTP: the original API's paths, bodies and responses, its tasks and
their WebSocket (``/ws/{user_id}?task_id=…``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Response, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from engine.api._deps import (
    close_code,
    close_reason,
    get_store,
    get_tasks,
    require_action,
    socket_caller,
)
from engine.api._errors import error_body
from engine.credit import workflow as credit
from engine.credit.models import ScenarioInfo, StressTestBody, StressTestResponse
from engine.errors import PermissionDeniedError, StoreBusyError, StressLabError
from engine.store import Store
from engine.tasks.workflow import TERMINAL, TaskRunner, TaskState, get_task, task_events

__all__ = ["router", "socket_router", "POLL_SECONDS"]

router = APIRouter(prefix="/api/v1", tags=["credit stress testing"])
socket_router = APIRouter(tags=["tasks"])

#: How often a task's WebSocket looks for new messages in the store, s.
POLL_SECONDS = 0.1

_run = require_action("run_stress")
_read = require_action("read")


@router.post("/asset-classes/stress-testing/run", response_model=StressTestResponse,
             summary="Run a credit stress test and wait for its results")
def run(body: StressTestBody, *, response: Response,
        use_cache: bool = Query(True, description="Reuse cached results of identical scenarios."),
        principal: Any = Depends(_run), store: Store = Depends(get_store)) -> Any:
    """Every scenario's metrics, keyed by scenario (base first). The run is recorded with the
    token's user; its id is in the ``X-Run-Id`` header."""
    done = credit.run_stress_body(body, use_cache=use_cache, user=principal.user, store=store)
    if done.run_id:
        response.headers["X-Run-Id"] = done.run_id
    return done.result.response()


@router.post("/asset-classes/stress-testing/async-run", response_model=credit.StressTaskAccepted,
             status_code=202, summary="Queue a credit stress test; follow it on the WebSocket")
def async_run(body: StressTestBody, *,
              use_cache: bool = Query(True, description="Reuse cached results of identical "
                                                        "scenarios."),
              principal: Any = Depends(_run), store: Store = Depends(get_store),
              tasks: TaskRunner = Depends(get_tasks)) -> credit.StressTaskAccepted:
    """The body is checked (and an inline pool stored) before the task is queued, so bad input
    gets 422 here, not an ``error`` message later."""
    return credit.start_stress_task(body, tasks=tasks, user=principal.user, use_cache=use_cache,
                                    store=store)


@router.get("/asset-classes/stress-testing/scenarios", response_model=dict[str, ScenarioInfo],
            summary="Every scenario of the library")
def scenarios(*, _: Any = Depends(_read), store: Store = Depends(get_store)) -> dict[str, ScenarioInfo]:
    return credit.scenario_catalogue(store=store)


@router.get("/tasks/{task_id}", response_model=TaskState, summary="A task's current state")
def task(task_id: str, *, principal: Any = Depends(_read),
         store: Store = Depends(get_store)) -> TaskState:
    """Answers after a server restart; a task whose server died while it ran is ``error``.
    Only the task's own user and admins may read it (403 for others)."""
    state = get_task(task_id, store=store)
    _own(principal, state)
    return state


def _own(principal: Any, state: TaskState, *, path_user: str | None = None) -> None:
    """Refuse a caller who is neither the task's user (nor the user its socket path names)
    nor an admin."""
    if principal.role == "admin":
        return
    if principal.user != state.user_id or path_user not in (None, principal.user):
        raise PermissionDeniedError(f"task {state.task_id!r} is not {principal.user!r}'s",
                                    user=principal.user, role=principal.role, allowed=("admin",))


def _message(state: TaskState) -> dict[str, Any]:
    return {"task_id": state.task_id, "status": state.status, "message": state.message,
            "data": state.data}


async def _refuse(websocket: WebSocket, *, exc: BaseException, task_id: str) -> None:
    text = error_body(exc)[1]["message"]
    await websocket.send_json({"task_id": task_id, "status": "error", "message": text,
                               "data": None})
    await websocket.close(code=close_code(exc), reason=close_reason(text))



@socket_router.websocket("/ws/{user_id:path}")
async def task_socket(websocket: WebSocket, *, user_id: str, task_id: str = Query(...),
                      token: str | None = Query(None)) -> None:
    """``{task_id, status, message, data}`` messages of one task: its current state first,
    then every later message, until ``completed`` or ``error``; then the socket closes (1000).

    The token goes in ``Authorization: Bearer …`` or, for browsers, in ``?token=``. Only the
    task's own user (``user_id``) and admins may follow it. Refusals close with 4401 (no or bad
    token), 4403 (another user's task), 4404 (no such task) or 1013 (the store was busy: try
    again later), after one ``error`` message. The socket ends early when the client leaves.
    """
    store = websocket.app.state.store
    await websocket.accept()
    try:
        principal = await socket_caller(websocket, token=token)
        state = await run_in_threadpool(get_task, task_id, store=store)
        _own(principal, state, path_user=user_id)
    except StressLabError as exc:
        await _refuse(websocket, exc=exc, task_id=task_id)
        return
    # the client's own frames are read (and ignored) so that its leaving ends the loop
    gone = asyncio.ensure_future(_until_disconnect(websocket))
    try:
        await websocket.send_json(_message(state))
        last, status = state.seq, state.status
        since_check = 0.0
        while status not in TERMINAL and not gone.done():
            await asyncio.sleep(POLL_SECONDS)
            since_check += POLL_SECONDS
            try:
                events = await run_in_threadpool(task_events, task_id, after_seq=last,
                                                 store=store)
                if not events and since_check >= 2.0:  # its server may have died: look
                    since_check = 0.0
                    await run_in_threadpool(get_task, task_id, store=store)
            except StoreBusyError:  # skip this poll; the messages stay stored
                continue
            for seq, msg in events:
                await websocket.send_json(msg.model_dump(mode="json"))
                last, status = seq, msg.status
        if not gone.done():
            await websocket.close(code=1000)
    except WebSocketDisconnect:
        return
    finally:
        gone.cancel()


async def _until_disconnect(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
