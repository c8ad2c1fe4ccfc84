"""A real ``redis-server`` for tests: Debian's package (``make redis``), one process per test.

Import the fixture where it is needed::

    from tests.redis_server import redis_server  # noqa: F401 (a pytest fixture)

    def test_x(redis_server):
        monkeypatch.setenv("REDIS_HOST", redis_server.host)
        monkeypatch.setenv("REDIS_PORT", str(redis_server.port))

The server listens on 127.0.0.1 on a free port (tests run with ``pytest -n 2``), keeps nothing on
disk (``--save '' --appendonly no``), works in a temporary directory, and is stopped after the
test. :meth:`RedisServer.stop` stops it mid-test (to see what a run does when Redis goes away);
:meth:`RedisServer.start` starts it again on the same port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

__all__ = ["RedisServer", "redis_server", "start_redis_server", "free_port"]

#: Seconds a starting server may take to answer PING.
START_WAIT = 15.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary() -> str:
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(path).exists():
        pytest.fail("redis-server is not installed: run `make redis` (Debian's redis-server "
                    "package; `make test` installs it)")
    return path


@dataclass(eq=False)
class RedisServer:
    """A ``redis-server`` process of a test.

    Attributes
    ----------
    port : int
    directory : Path
        Its working directory (``--dir``) and log file.
    password : str or None
        ``--requirepass``, when given.
    """

    port: int
    directory: Path
    password: str | None = None
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    def client(self) -> redis.Redis:
        """A direct redis-py client (short timeouts), for checking what the cache wrote."""
        return redis.Redis(host=self.host, port=self.port, password=self.password,
                           socket_timeout=5, socket_connect_timeout=5)

    def start(self) -> None:
        """Start the server and wait until it answers PING.

        Raises
        ------
        RuntimeError
            If the process exits (e.g. the port was taken) or does not answer within
            :data:`START_WAIT` seconds; the message holds its log.
        """
        args = [_binary(), "--port", str(self.port), "--bind", self.host, "--save", "",
                "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no",
                "--logfile", str(self.log_path)]
        if self.password:
            args += ["--requirepass", self.password]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_WAIT
        probe = self.client()
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} exited with status "
                                       f"{self.process.returncode}:\n{self._log()}")
                try:
                    if probe.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server on port {self.port} did not answer PING "
                                       f"within {START_WAIT:g} s:\n{self._log()}")
                time.sleep(0.02)
        finally:
            probe.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers); nothing if it is not running."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


def start_redis_server(directory: Path, *, password: str | None = None,
                       attempts: int = 5) -> RedisServer:
    """Start a ``redis-server`` on a free port of 127.0.0.1, working in ``directory``.

    A port found free can be taken by another process before the server binds it; the start is
    then tried again on another port, ``attempts`` times in all.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(attempts):
        server = RedisServer(port=free_port(), directory=directory, password=password)
        try:
            server.start()
            return server
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture()
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A running ``redis-server`` on a free port, stopped after the test."""
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()
