"""The HTTP API: a FastAPI app over the workflows, sharing the store with the app and commands.

``create_app()`` builds it; ``stresslab serve`` runs it under uvicorn. Every endpoint but
``/health`` and the API's own description (``/docs``, ``/redoc``, ``/openapi.json``: the
schema, no data) needs ``Authorization: Bearer <token>`` (``stresslab tokens create``); the OpenAPI
schema at ``/docs`` is generated from the engine's own pydantic models. Errors are answered by
:mod:`engine.api._errors` (422 with the engine's row/field/value/rule list, 401, 403, 404, 503
with ``Retry-After``), never with a traceback.

The server holds the store only for short sessions, like every other front end; background tasks
(async runs, validations) run on a :class:`~engine.tasks.workflow.TaskRunner` of the process,
and tasks left behind by a server that died are ended as ``error`` at start.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict

from engine import __version__
from engine.api import _credit, _live, _market, _mlrisk
from engine.api._deps import BodyGuard, get_store, require_action
from engine.api._errors import install as install_errors
from engine.store import Store
from engine.tasks.workflow import TaskRunner, end_orphans

__all__ = ["create_app", "API_LOCK_TIMEOUT", "Health", "DetailedHealth"]

#: Seconds a request waits for a busy store before it gets 503 (``$STRESSLAB_API_LOCK_TIMEOUT``).
API_LOCK_TIMEOUT = 10.0


class Health(BaseModel):
    """``GET /health``: the process answers."""

    model_config = ConfigDict(frozen=True)

    status: str
    version: str


class StressTestingHealth(BaseModel):
    """``GET /api/v1/health/stress-testing``: the store answers and the library loads."""

    model_config = ConfigDict(frozen=True)

    status: str
    version: str
    scenarios_available: int
    store: str
    latency_ms: float


class DetailedHealth(BaseModel):
    """``GET /health/detailed``: every dependency's state."""

    model_config = ConfigDict(frozen=True)

    status: str
    version: str
    uptime_seconds: float
    pid: int
    store: dict[str, Any]
    cache: dict[str, Any]
    tasks: dict[str, Any]


def _store_from_env() -> Store:
    raw = os.environ.get("STRESSLAB_API_LOCK_TIMEOUT", "").strip()
    return Store(timeout=float(raw) if raw else API_LOCK_TIMEOUT)


def create_app(*, store: Store | None = None, task_workers: int = 2) -> FastAPI:
    """The API application.

    Parameters
    ----------
    store : Store, optional
        Default: ``$STRESSLAB_DB`` with a wait of ``$STRESSLAB_API_LOCK_TIMEOUT`` (10 s) before
        a busy store answers 503.
    task_workers : int
        Background tasks run at once; more wait as ``queued``.
    """
    store = store if store is not None else _store_from_env()
    started = time.monotonic()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from engine.api._errors import error_body, log

        def describe(exc: BaseException) -> tuple[str, dict[str, Any]]:
            status, body, _ = error_body(exc)
            if status == 500:
                log.error("a background task failed", exc_info=exc)
            return body["message"], {"error": body.get("error"),
                                     "issues": body.get("issues", [])}

        end_orphans(store=store)
        app.state.tasks = TaskRunner(store=store, max_workers=task_workers, describe=describe)
        try:
            yield
        finally:
            app.state.tasks.shutdown(wait=True)

    app = FastAPI(title="StressLab API", version=__version__, lifespan=lifespan,
                  description="Credit stress testing, ML robustness validation, market risk "
                              "limits and the live risk desk over HTTP. Every endpoint but "
                              "`/health` needs `Authorization: Bearer <token>` "
                              "(`stresslab tokens create`).")
    app.state.store = store
    install_errors(app)
    app.add_middleware(BodyGuard)
    read = require_action("read")

    @app.get("/health", response_model=Health, tags=["health"])
    def health() -> Health:
        """No token needed: the process answers."""
        return Health(status="ok", version=__version__)

    @app.get("/health/detailed", response_model=DetailedHealth, tags=["health"])
    def health_detailed(_: Any = Depends(read), store: Store = Depends(get_store)) -> DetailedHealth:
        from engine.credit.workflow import cache_health
        from engine.store import store_health

        stored = store_health(store=store)
        cache = cache_health()
        status = "ok" if stored["status"] == "ok" and cache["status"] != "unavailable" else "degraded"
        return DetailedHealth(status=status, version=__version__,
                              uptime_seconds=round(time.monotonic() - started, 3),
                              pid=os.getpid(), store=stored, cache=cache,
                              tasks={"workers": task_workers})

    @app.get("/api/v1/health/stress-testing", response_model=StressTestingHealth,
             tags=["health"])
    def health_stress(_: Any = Depends(read), store: Store = Depends(get_store)) -> StressTestingHealth:
        from engine.credit.workflow import scenario_catalogue

        t0 = time.perf_counter()
        n = len(scenario_catalogue(store=store))
        return StressTestingHealth(status="healthy", version=__version__, scenarios_available=n,
                                   store=str(store.path),
                                   latency_ms=round(1e3 * (time.perf_counter() - t0), 3))

    @app.get("/api/v1/health/redis", tags=["health"])
    def health_redis(_: Any = Depends(read)) -> dict[str, Any]:
        """The Redis cache: ``not_configured`` (the store's cache is used), ``ok`` or
        ``unavailable`` (runs go on uncached)."""
        from engine.credit.workflow import cache_health

        return cache_health()

    app.include_router(_credit.router)
    app.include_router(_mlrisk.router)
    app.include_router(_market.router)
    app.include_router(_live.router)
    app.include_router(_live.socket_router)
    # last: /ws/{user_id:path} would also match /ws/risk/{account_id}
    app.include_router(_credit.socket_router)
    return app

