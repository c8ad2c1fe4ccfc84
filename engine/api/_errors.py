"""Engine errors as HTTP answers: never a traceback, always the engine's own message.

| error | status | body |
|---|---|---|
| :class:`~engine.errors.ValidationError`, a body FastAPI cannot read | 422 | ``{error: "validation", message, issues: [{row, column, value, rule}]}`` |
| :class:`~engine.errors.NotFoundError` | 404 | ``{error: "not_found", message}`` |
| other :class:`~engine.errors.InputError` | 422 | ``{error: "input", message, issues: []}`` |
| :class:`~engine.errors.AuthenticationError` | 401 | ``{error: "unauthorized", message}`` and ``WWW-Authenticate: Bearer`` |
| :class:`~engine.errors.PermissionDeniedError` | 403 | ``{error: "forbidden", message, role, allowed}`` |
| :class:`~engine.errors.StoreBusyError` | 503 | ``{error: "store_busy", message, holders}`` and ``Retry-After`` |
| any other | 500 | ``{error: "internal", message}``; the traceback goes to the server's log only |

``Retry-After`` is in seconds (RFC 9110, section 10.2.3).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from engine.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StoreBusyError,
    StressLabError,
    ValidationError,
    from_pydantic,
)

__all__ = ["install", "error_body", "RETRY_AFTER_SECONDS"]

log = logging.getLogger("stresslab.api")

#: The least ``Retry-After`` (seconds) sent with a busy store.
RETRY_AFTER_SECONDS = 2


class _Errors:
    """FastAPI's request errors in the shape :func:`engine.errors.from_pydantic` reads, with the
    leading ``body`` / ``query`` / ``path`` dropped from each location."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self._errors = errors

    def errors(self, include_url: bool = False) -> list[dict[str, Any]]:
        out = []
        for err in self._errors:
            loc = list(err.get("loc", ()))
            if loc and loc[0] in ("body", "query", "path", "header"):
                loc = loc[1:]
            out.append({**err, "loc": tuple(loc)})
        return out


def _json_safe(issue: dict[str, Any]) -> dict[str, Any]:
    """An issue whose value JSON cannot hold (NaN, an infinity) with that value as text."""
    value = issue.get("value")
    if isinstance(value, float) and not math.isfinite(value):
        return {**issue, "value": str(value)}
    return issue


def error_body(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, JSON body and headers that answer ``exc``."""
    if isinstance(exc, ValidationError):
        return 422, {"error": "validation", "message": str(exc),
                     "issues": [_json_safe(i) for i in exc.to_records()]}, {}
    if isinstance(exc, NotFoundError):
        return 404, {"error": "not_found", "message": str(exc)}, {}
    if isinstance(exc, InputError):
        return 422, {"error": "input", "message": str(exc), "issues": []}, {}
    if isinstance(exc, AuthenticationError):
        return 401, {"error": "unauthorized", "message": str(exc)}, {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, PermissionDeniedError):
        return 403, {"error": "forbidden", "message": str(exc), "role": exc.role,
                     "allowed": list(exc.allowed)}, {}
    if isinstance(exc, StoreBusyError):
        wait = max(RETRY_AFTER_SECONDS, math.ceil(exc.waited))
        return 503, {"error": "store_busy", "message": str(exc), "holders": exc.holders}, \
            {"Retry-After": str(wait)}
    if isinstance(exc, StressLabError):
        return 500, {"error": "store", "message": str(exc)}, {}
    return 500, {"error": "internal",
                 "message": f"internal error ({type(exc).__name__}); the server's log has the "
                            "details"}, {}


def _answer(request: Request, exc: Exception) -> JSONResponse:
    status, body, headers = error_body(exc)
    if status == 500:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse(body, status_code=status, headers=headers)


def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return _answer(request, from_pydantic(_Errors(list(exc.errors())),
                                          subject=f"{request.method} {request.url.path}"))


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StressLabError, _answer)
    app.add_exception_handler(Exception, _answer)
