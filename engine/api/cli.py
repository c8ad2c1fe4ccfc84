"""``stresslab serve``: the HTTP API under uvicorn."""

from __future__ import annotations

import argparse
import logging
import re

__all__ = ["register"]


class RedactTokens(logging.Filter):
    """Hides a token given in a URL (``?token=…``, as browsers open a WebSocket) in the server's
    log lines; uvicorn logs a WebSocket's path with its query."""

    _TOKEN = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self._TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in (record.args if isinstance(record.args, tuple)
                                          else (record.args,)))
        if isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1[redacted]", record.msg)
        return True


def log_config() -> dict:
    """uvicorn's logging configuration with :class:`RedactTokens` on every handler."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tokens")
    return config


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from engine.errors import InputError

    if not 1 <= args.port <= 65535:
        raise InputError(f"--port {args.port} is not a TCP port (1 to 65535)")
    if args.workers < 1:
        raise InputError(f"--workers {args.workers} must be at least 1")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}, reachable from other machines; every endpoint "
              "but /health needs a token, and traffic is plain HTTP (put TLS in front).")
    uvicorn.run("engine.api.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, proxy_headers=False,
                server_header=False, log_config=log_config())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve the HTTP API (FastAPI; docs at /docs)",
        description="Serve the HTTP API with uvicorn on the same store as the app and the "
                    "commands ($STRESSLAB_DB). Every endpoint but /health needs "
                    "'Authorization: Bearer <token>' from `stresslab tokens create`.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (default 1); they share the store")
    p.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=_cmd_serve)
