"""``stresslab serve`` as a real process on a free port, for the end-to-end tests and
benchmarks/bench_api.py: started in its own process group (so ``--workers`` children stop with
it), its output in a log file (a pipe nobody reads would fill and stall it), ready once
``/health`` answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def serve(env: dict[str, str], *, log: Path, workers: int = 1,
          timeout: float = 120.0) -> Iterator[str]:
    """``stresslab serve`` on a free port with ``env``; yields its URL; stops it after.

    Raises
    ------
    RuntimeError
        If the server exits, or does not answer ``/health`` within ``timeout`` seconds (the
        message ends with its log).
    """
    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port",
                                 str(port), "--workers", str(workers), "--log-level", "warning"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"stresslab serve exited {proc.returncode}: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"stresslab serve did not answer /health within {timeout:g} s: "
                                   f"{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
