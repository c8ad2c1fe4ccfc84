"""Model validation over HTTP: a validation as a task, a stored run's decision and its evidence.

* ``POST /api/v1/validation/run``: the body is the configuration as ``stresslab validate`` reads
  it (:class:`~engine.mlrisk.workflow.ValidateRequest`). File paths in it (``config.data``,
  ``config.model_path``, ``config.handbook``, ``base_dir``) are read only from the API's data
  root, ``$STRESSLAB_API_DATA_ROOT`` (default ``data/`` under the server's working directory);
  anything else gets 422 naming the field and the rule. Files may also travel in the body:
  ``data_content`` / ``model_content`` as base64 with ``data_name`` / ``model_name``, the
  handbook as JSON in ``handbook``. Answers 202 with the task (follow it on
  ``/ws/{user}?task_id=…`` or ``GET /api/v1/tasks/{task_id}``) and the run id it will record.
* ``GET /api/v1/validation/{run_id}``: decision, summary, sign-offs and a link per evidence file.
* ``GET /api/v1/validation/{run_id}/artifacts/{name}``: one evidence file's stored bytes, or
  ``evidence.zip`` for all of them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from engine.api._deps import get_store, get_tasks, require_action
from engine.mlrisk import workflow as mlrisk
from engine.mlrisk.workflow import ValidateRequest, ValidationTaskAccepted, ValidationView
from engine.store import Store
from engine.tasks.workflow import TaskRunner

__all__ = ["router", "PREFIX"]

PREFIX = "/api/v1/validation"
router = APIRouter(prefix=PREFIX, tags=["model validation"])

_validate = require_action("run_validation")
_read = require_action("read")


@router.post("/run", response_model=ValidationTaskAccepted, status_code=202,
             summary="Queue a model validation; follow it on the WebSocket")
def run(body: ValidateRequest, *, principal: Any = Depends(_validate),
        store: Store = Depends(get_store),
        tasks: TaskRunner = Depends(get_tasks)) -> ValidationTaskAccepted:
    """Paths are confined to the data root and the inputs read before the task is queued, so a
    refused path or bad data gets 422 here. The validator written into the evidence and the
    run's ``requested_by`` are the token's user, whatever the body says. When completed, the
    task's ``data`` holds ``run_id``, ``decision``, ``summary``, ``failing_scenarios`` and the
    artifact links."""
    return mlrisk.start_validation_task(body, tasks=tasks, user=principal.user, store=store,
                                        prefix=PREFIX)


@router.get("/{run_id}", response_model=ValidationView,
            summary="A stored validation: decision, sign-offs, artifact links")
def view(run_id: str, *, _: Any = Depends(_read),
         store: Store = Depends(get_store)) -> ValidationView:
    return mlrisk.validation_view(run_id, store=store, prefix=PREFIX)


@router.get("/{run_id}/artifacts/{name}", response_class=Response,
            responses={200: {"content": {"application/json": {}, "text/markdown": {},
                                         "application/zip": {}},
                             "description": "The evidence file's stored bytes."}},
            summary="One evidence file of a stored validation, or evidence.zip")
def artifact(run_id: str, *, name: str, _: Any = Depends(_read),
             store: Store = Depends(get_store)) -> Response:
    """The name is looked up among the run's stored files, never used as a path; an unknown
    name gets 404 listing the run's files."""
    content, media_type = mlrisk.validation_artifact(run_id, name=name, store=store)
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
