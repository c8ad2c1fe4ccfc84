"""What every endpoint shares: the store, the task runner, the caller (bearer token) and its
role, checked against :data:`engine.auth.ACTIONS` (:func:`require_action`, the same table as
the app's pages), and the guard on request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.api._errors import error_body
from engine.errors import AuthenticationError, InputError
from engine.limits import limits, parse_json
from engine.store import Store
from engine.tasks.workflow import TaskRunner

__all__ = ["BodyGuard", "bearer", "caller", "close_code", "close_reason", "get_store",
           "get_tasks", "require_action", "socket_caller"]

#: WebSocket close codes: 4401, 4403, 4404 for the application (the 4000–4999 range, RFC 6455
#: section 7.4.2); 1013 "try again later" for a busy store and 1011 for any other failure
#: (IANA's WebSocket close code registry).
CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND = 4401, 4403, 4404
CLOSE_TRY_AGAIN, CLOSE_INTERNAL = 1013, 1011
#: The close code of each HTTP status a refusal gets (anything else closes as internal).
_CLOSE_OF_STATUS = {401: CLOSE_UNAUTHORIZED, 403: CLOSE_FORBIDDEN, 404: CLOSE_NOT_FOUND,
                    503: CLOSE_TRY_AGAIN}


def get_store(request: Request) -> Store:
    """The server's store (``app.state.store``)."""
    return request.app.state.store


def get_tasks(request: Request) -> TaskRunner:
    """The server's task runner (``app.state.tasks``)."""
    return request.app.state.tasks


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750, section 2.1)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'; "
                                  "`stresslab tokens create` makes a token")
    return token.strip()


def close_code(exc: BaseException) -> int:
    """The WebSocket close code that answers ``exc``: the HTTP status
    :func:`~engine.api._errors.error_body` gives it, in the close codes' terms."""
    return _CLOSE_OF_STATUS.get(error_body(exc)[0], CLOSE_INTERNAL)


async def socket_caller(websocket: Any, *, token: str | None) -> Any:
    """The caller of a WebSocket: its ``Authorization: Bearer`` header or, for browsers that
    cannot set one, its ``?token=`` (read in a worker thread: it opens the store).

    Raises
    ------
    AuthenticationError
        No token, or an unknown or revoked one.
    """
    from starlette.concurrency import run_in_threadpool

    from engine.auth.workflow import authenticate

    return await run_in_threadpool(
        authenticate, bearer(websocket.headers.get("authorization")) or token,
        store=websocket.app.state.store)


def close_reason(text: str) -> str:
    """``text`` cut to the 123 bytes of UTF-8 a WebSocket close frame's reason may hold
    (RFC 6455, section 5.5), never inside a character."""
    return text.encode("utf-8")[:123].decode("utf-8", errors="ignore")


def caller(request: Request) -> Any:
    """The authenticated caller (an :class:`engine.auth.Principal`).

    Raises
    ------
    AuthenticationError
        No token, or an unknown or revoked one (401).
    """
    from engine.auth.workflow import authenticate

    token = bearer(request.headers.get("authorization"))
    return authenticate(token, store=request.app.state.store)


def require_action(action: str) -> Callable[..., Any]:
    """A dependency that lets through callers whose role may do ``action``, a key of
    :data:`engine.auth.ACTIONS`: the one table of who may do what, which the app's pages apply
    too (``admin`` may do everything).

    Raises
    ------
    PermissionDeniedError
        A known caller of another role (403); the message names the action in words.
    KeyError
        At import, if ``action`` is not in the table (a programming error).
    """
    from engine.auth._roles import ACTIONS

    ACTIONS[action]  # noqa: B018 - an unknown key fails when the endpoint is defined, not called

    def dependency(principal: Any = Depends(caller)) -> Any:
        from engine.auth._roles import authorize_action

        authorize_action(principal, action)
        return principal

    return dependency


class BodyGuard:
    """ASGI middleware bounding request bodies before any parser sees them.

    A body over ``max_input_bytes`` (``STRESSLAB_MAX_INPUT_MB``) gets 413 without being read
    further; a JSON body is checked by :func:`engine.limits.parse_json` (nesting depth, duplicate
    keys, ``NaN``) and refused with 422 naming the rule; then the body goes on unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        cap = limits().max_input_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await _reply(send, 413, _too_large(int(declared), cap))
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _reply(send, 413, _too_large(size, cap))
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and (media == b"application/json" or media.endswith(b"+json")):
            try:
                parse_json(body, name="the request body")
            except InputError as exc:
                status, payload, _ = error_body(exc)
                await _reply(send, status, payload)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(size: int, cap: int) -> dict[str, Any]:
    return {"error": "too_large",
            "message": f"the request body is {size:,} bytes or more, over the limit of "
                       f"{cap:,} bytes (STRESSLAB_MAX_INPUT_MB={cap // 2**20}); send a smaller "
                       "body, or import the pool with `stresslab pools import` and name it by "
                       "pool_id"}


async def _reply(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
