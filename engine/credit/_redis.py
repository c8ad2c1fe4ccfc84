"""The optional Redis cache of scenario results: settings, the cache, and its health.

With ``REDIS_HOST`` set, :func:`engine.credit.workflow.run_stress` caches scenario results in
Redis instead of the store's ``result_cache`` table. Everything else about a run is unchanged:
the same :func:`~engine.credit._cache.cache_key` (the SHA-256 of the pool's content, the
scenario's market factors, the analysis date, the discount rate, the horizon, the delinquent CDR
floor and the engine version), the same payload, the same numbers.

* :class:`RedisSettings` reads the documented environment variables (:data:`VARIABLES`).
* :class:`RedisCache` implements :class:`~engine.credit._cache.ResultCache` with redis-py over
  one connection pool per settings, shared by every run of the process.
* :func:`configured_cache` is the cache for the environment (None without ``REDIS_HOST``);
  :func:`redis_health` is what the health endpoint reports.

**When Redis goes away** (connection refused, timeout, a wrong password, any Redis error),
``get`` answers a miss and ``put`` does nothing: the run goes on uncached with the same numbers.
No call waits longer than the socket and connect timeouts (redis-py retries are turned off), and
a circuit breaker then skips Redis for :data:`BREAKER_SECONDS`, so a run of many scenarios pays
at most one timeout, not one per scenario. After that window one call probes Redis again; the
others keep skipping until the probe succeeds. The failure is counted and kept (text and UTC
time) per settings for :func:`redis_health`, and logged once per outage as a warning on the
``stresslab.redis`` logger (and once as info when Redis answers again).

**Values** are not pickled. ``encode_payload`` writes a small binary record: a magic, a JSON
header with the metric names, then two NPY arrays written with ``allow_pickle=False`` (the metric
values as float64, then the pool cashflow matrix). A float64 array keeps every bit, NaN and
``-0.0`` included, so a cached result is bit for bit the computed one.

References
----------
redis-py, "Advanced features: a note about threading": client instances may be shared between
threads; a connection is taken from the pool per command and returned after it.
https://redis.readthedocs.io/en/stable/advanced_features.html
redis-py, "Connections" (``ConnectionPool``, ``BlockingConnectionPool``: ``max_connections``,
``timeout``; ``Connection``: ``socket_timeout``, ``socket_connect_timeout``) and the SSL examples
(``connection_class=redis.SSLConnection`` for a pool).
https://redis.readthedocs.io/en/stable/connections.html,
https://redis.readthedocs.io/en/stable/examples/ssl_connection_examples.html
redis-py, "Retry helpers" (``Retry(NoBackoff(), 0)``: no retry).
https://redis.readthedocs.io/en/stable/retry.html
Redis commands SETEX (value and expiry in one atomic command; deprecated since 2.6.12 in favour
of its equivalent ``SET key value EX seconds``, which :meth:`RedisCache.put` sends) and TTL.
https://redis.io/docs/latest/commands/setex/, https://redis.io/docs/latest/commands/set/
NumPy, ``numpy.lib.format`` (the NPY format; ``read_array(..., allow_pickle=False)`` refuses
object arrays, CVE-2019-6446).
https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from engine.credit.models import POOL_FIELDS
from engine.errors import Issue, ValidationError

if TYPE_CHECKING:  # redis is imported on first use (about 0.1 s), never without REDIS_HOST
    import redis

__all__ = [
    "BREAKER_SECONDS",
    "KEY_PREFIX",
    "VARIABLES",
    "RedisSettings",
    "RedisCache",
    "RedisHealth",
    "encode_payload",
    "decode_payload",
    "configured_cache",
    "redis_health",
    "close_pools",
]

log = logging.getLogger("stresslab.redis")

#: Every cache key in Redis is this prefix followed by the 64-hex-digit :func:`cache_key`.
KEY_PREFIX = "stresslab:credit:result:"

#: Seconds Redis is skipped after a failed call (the circuit breaker's open window).
BREAKER_SECONDS = 10.0

_MAGIC = b"SLRC"  # StressLab result cache
_FORMAT_VERSION = 1
_HEAD = struct.Struct(">4sBI")  # magic, format version, length of the JSON header in bytes


# --------------------------------------------------------------------------- settings

def _text(raw: str) -> str:
    return raw


def _integer(low: int, high: int | None = None):
    def parse(raw: str) -> int:
        value = int(raw, 10)
        if value < low or (high is not None and value > high):
            raise ValueError(raw)
        return value
    return parse


def _seconds(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(raw)
    return value


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _flag(raw: str) -> bool:
    word = raw.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(raw)


#: field of :class:`RedisSettings` → (environment variable, default, rule a value must follow).
#: A variable that is unset or blank takes its default.
VARIABLES: dict[str, tuple[str, Any, str]] = {
    "host": ("REDIS_HOST", None, "a host name or address; unset or blank turns Redis off"),
    "port": ("REDIS_PORT", 6379, "an integer from 1 to 65535"),
    "password": ("REDIS_PASSWORD", None, "any text; unset or blank means no password"),
    "db": ("REDIS_DB", 0, "an integer ≥ 0 (the Redis logical database)"),
    "ssl": ("REDIS_SSL", False, "one of true, false, 1, 0, yes, no"),
    "socket_timeout": ("REDIS_SOCKET_TIMEOUT", 5.0, "a number of seconds > 0"),
    "connect_timeout": ("REDIS_CONNECT_TIMEOUT", 5.0, "a number of seconds > 0"),
    "max_connections": ("REDIS_MAX_CONNECTIONS", 50, "an integer ≥ 1"),
    "ttl_seconds": ("STRESS_TEST_CACHE_TTL", 3600, "an integer number of seconds ≥ 1"),
}

_PARSERS = {
    "host": _text,
    "port": _integer(1, 65535),
    "password": _text,
    "db": _integer(0),
    "ssl": _flag,
    "socket_timeout": _seconds,
    "connect_timeout": _seconds,
    "max_connections": _integer(1),
    "ttl_seconds": _integer(1),
}


class RedisSettings(BaseModel):
    """Where the Redis cache is and how to talk to it (read by :meth:`from_env`).

    Attributes
    ----------
    host : str
        ``REDIS_HOST``.
    port : int
        ``REDIS_PORT``, default 6379.
    password : SecretStr or None
        ``REDIS_PASSWORD``, default none (never shown in a repr or a health answer).
    db : int
        ``REDIS_DB``, the logical database, default 0.
    ssl : bool
        ``REDIS_SSL``, TLS with the certificate checked, default false.
    socket_timeout : float
        ``REDIS_SOCKET_TIMEOUT``, seconds a command may wait for its answer, default 5. Also the
        longest wait for a free connection of the pool.
    connect_timeout : float
        ``REDIS_CONNECT_TIMEOUT``, seconds a connection may take to open, default 5.
    max_connections : int
        ``REDIS_MAX_CONNECTIONS``, connections of the process's pool, default 50.
    ttl_seconds : int
        ``STRESS_TEST_CACHE_TTL``, seconds a cached result lives, default 3600.
    """

    model_config = ConfigDict(frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(default=6379, ge=1, le=65535)
    password: SecretStr | None = None
    db: int = Field(default=0, ge=0)
    ssl: bool = False
    socket_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    connect_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    max_connections: int = Field(default=50, ge=1)
    ttl_seconds: int = Field(default=3600, ge=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RedisSettings | None:
        """The settings given by the environment variables, or None without ``REDIS_HOST``.

        Parameters
        ----------
        environ : mapping of str to str, optional
            Default ``os.environ``. Surrounding blanks are ignored; a blank value is unset.

        Returns
        -------
        RedisSettings or None
            None when ``REDIS_HOST`` is unset or blank (the store's cache is used).

        Raises
        ------
        ValidationError
            (an :class:`~engine.errors.InputError`) listing every variable whose value breaks
            its rule (:data:`VARIABLES`), e.g. ``REDIS_PORT=abc``: the variable, its value and
            the rule. ``REDIS_PASSWORD`` is never echoed.
        """
        env = os.environ if environ is None else environ
        host = (env.get("REDIS_HOST") or "").strip()
        if not host:
            return None
        values: dict[str, Any] = {}
        issues: list[Issue] = []
        for name, (var, _default, rule) in VARIABLES.items():
            raw = env.get(var)
            if raw is None or not raw.strip():
                continue
            raw = raw if name == "password" else raw.strip()
            try:
                values[name] = _PARSERS[name](raw)
            except ValueError:
                issues.append(Issue(row=None, column=var, value=raw, rule=rule, where="variable"))
        if issues:
            raise ValidationError(issues, subject="Redis cache settings (environment variables)")
        return cls(**values)

    def describe(self) -> str:
        """``host:port/db`` (with ``rediss://`` for TLS), no password: for messages."""
        scheme = "rediss" if self.ssl else "redis"
        return f"{scheme}://{self.host}:{self.port}/{self.db}"


# --------------------------------------------------------------------------- payload encoding

def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """A scenario's cached result as bytes, without pickle.

    Parameters
    ----------
    payload : mapping
        ``{"metrics": dict of str to float (or None), "pool": ndarray of shape (n_periods,
        len(POOL_FIELDS))}``, currency units (see :class:`~engine.credit._cache.ResultCache`).

    Returns
    -------
    bytes
        ``b"SLRC"``, the format version (1 byte) and the header length (4 bytes, big-endian),
        a UTF-8 JSON header ``{"metrics": [names in order], "none": [names whose value is
        None]}``, then the metric values as a float64 NPY array and the pool matrix as a float64
        NPY array (both written with ``allow_pickle=False``).

    Raises
    ------
    ValueError
        If the pool matrix is not 2-D with ``len(POOL_FIELDS)`` columns.
    TypeError
        If a metric is neither a real number nor None.
    """
    metrics = dict(payload["metrics"])
    pool = np.ascontiguousarray(payload["pool"], dtype=np.float64)
    if pool.ndim != 2 or pool.shape[1] != len(POOL_FIELDS):
        raise ValueError(f"the pool matrix must have shape (n_periods, {len(POOL_FIELDS)}), "
                         f"not {pool.shape}")
    none = [k for k, v in metrics.items() if v is None]
    values = np.array([math.nan if v is None else float(v) for v in metrics.values()],
                      dtype=np.float64)
    header = json.dumps({"metrics": list(metrics), "none": none},
                        ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    buf.write(_HEAD.pack(_MAGIC, _FORMAT_VERSION, len(header)))
    buf.write(header)
    np.lib.format.write_array(buf, values, allow_pickle=False)
    np.lib.format.write_array(buf, pool, allow_pickle=False)
    return buf.getvalue()


def decode_payload(raw: bytes) -> dict[str, Any]:
    """The payload :func:`encode_payload` wrote, bit for bit.

    Returns
    -------
    dict
        ``{"metrics": dict of str to float (or None), "pool": ndarray of float64 of shape
        (n_periods, len(POOL_FIELDS))}``.

    Raises
    ------
    ValueError
        If ``raw`` is not such a record (another magic or version, a truncated or trailing
        part, an object array, a matrix of the wrong shape).
    """
    if len(raw) < _HEAD.size:
        raise ValueError("not a StressLab result record (too short)")
    magic, version, n_header = _HEAD.unpack_from(raw)
    if magic != _MAGIC or version != _FORMAT_VERSION:
        raise ValueError(f"not a StressLab result record of format {_FORMAT_VERSION}")
    buf = io.BytesIO(raw)
    buf.seek(_HEAD.size)
    try:
        header = json.loads(buf.read(n_header).decode("utf-8"))
        names, none = list(header["metrics"]), set(header["none"])
        values = np.lib.format.read_array(buf, allow_pickle=False)
        pool = np.lib.format.read_array(buf, allow_pickle=False)
    except (KeyError, TypeError, ValueError) as exc:  # JSON, UTF-8 and NPY errors included
        raise ValueError(f"a damaged StressLab result record: {exc}") from None
    if buf.read(1):
        raise ValueError("a damaged StressLab result record: bytes after its end")
    if (values.dtype != np.float64 or values.shape != (len(names),) or pool.dtype != np.float64
            or pool.ndim != 2 or pool.shape[1] != len(POOL_FIELDS)):
        raise ValueError("a damaged StressLab result record: arrays of the wrong type or shape")
    metrics = {name: (None if name in none else float(v)) for name, v in zip(names, values)}
    return {"metrics": metrics, "pool": pool}


# --------------------------------------------------------------------------- connection pools

@dataclass(eq=False)
class _Link:
    """One settings' connection pool and what is known of its health (shared by a process)."""

    settings: RedisSettings
    pool: redis.ConnectionPool
    client: redis.Redis
    lock: threading.Lock = field(default_factory=threading.Lock)
    down: bool = False
    failed_at: float = 0.0  # time.monotonic() of the last failure (or probe)
    errors: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None

    def skip(self, window: float) -> bool:
        """Whether a call should skip Redis now (the breaker is open); lets one probe through
        per window."""
        with self.lock:
            if not self.down:
                return False
            now = time.monotonic()
            if now - self.failed_at < window:
                return True
            self.failed_at = now  # this call is the probe; the others keep skipping
            return False

    def failed(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        with self.lock:
            first = not self.down
            self.down = True
            self.failed_at = time.monotonic()
            self.errors += 1
            self.last_error = text
            self.last_error_at = datetime.now(UTC)
        if first:
            log.warning("Redis cache at %s is unavailable (%s); runs go on without it, and Redis "
                        "is skipped for %g s after each failure", self.settings.describe(), text,
                        BREAKER_SECONDS)

    def answered(self) -> None:
        with self.lock:
            if not self.down:
                return
            self.down = False
        log.info("Redis cache at %s answers again", self.settings.describe())


_LINKS: dict[RedisSettings, _Link] = {}
_LINKS_LOCK = threading.Lock()


def _link(settings: RedisSettings) -> _Link:
    """The process's one connection pool for ``settings`` (made on first use)."""
    with _LINKS_LOCK:
        link = _LINKS.get(settings)
        if link is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            kwargs: dict[str, Any] = {}
            if settings.ssl:  # the certificate and the host name are checked (redis-py < 6
                # did not check the host name by default)
                kwargs["connection_class"] = redis.SSLConnection
                kwargs["ssl_check_hostname"] = True
            # A blocking pool: a thread that finds every connection busy waits for one (at most
            # socket_timeout) instead of failing at once, which would trip the breaker under load.
            pool = redis.BlockingConnectionPool(
                host=settings.host, port=settings.port, db=settings.db,
                password=(settings.password.get_secret_value()
                          if settings.password is not None else None),
                socket_timeout=settings.socket_timeout,
                socket_connect_timeout=settings.connect_timeout,
                max_connections=settings.max_connections, timeout=settings.socket_timeout,
                retry=Retry(NoBackoff(), 0), **kwargs)
            link = _Link(settings=settings, pool=pool, client=redis.Redis(connection_pool=pool))
            _LINKS[settings] = link
        return link


def close_pools() -> None:
    """Disconnect and forget every connection pool of the process (server shutdown, tests)."""
    with _LINKS_LOCK:
        links = list(_LINKS.values())
        _LINKS.clear()
    for link in links:
        link.pool.disconnect()


# --------------------------------------------------------------------------- the cache

class RedisCache:
    """Scenario results cached in Redis under ``stresslab:credit:result:<cache_key>``.

    Implements :class:`~engine.credit._cache.ResultCache`; thread-safe (the runner calls
    ``put`` from its worker threads). Values are :func:`encode_payload` records written with
    ``SET … EX`` (SETEX's atomic equivalent), so each expires ``settings.ttl_seconds`` after it
    was written.

    Parameters
    ----------
    settings : RedisSettings
    breaker_seconds : float
        After a failed call, Redis is skipped for this long (default :data:`BREAKER_SECONDS`);
        0 tries Redis on every call.

    Attributes
    ----------
    hits, misses, errors, skipped, invalid : int
        This cache object's calls: found, not found, failed (Redis unavailable or refusing),
        skipped by the open breaker, and values that were not a result record (read as misses).
    last_error : str or None
        The last failure's text.
    """

    def __init__(self, settings: RedisSettings, *,
                 breaker_seconds: float = BREAKER_SECONDS) -> None:
        self.settings = settings
        self.breaker_seconds = breaker_seconds
        self._link = _link(settings)
        self._lock = threading.Lock()
        self.hits = self.misses = self.errors = self.skipped = self.invalid = 0
        self.last_error: str | None = None

    @staticmethod
    def redis_key(key: str) -> str:
        """The Redis key of a :func:`~engine.credit._cache.cache_key`."""
        return KEY_PREFIX + key

    def _count(self, what: str, error: str | None = None) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)
            if error is not None:
                self.last_error = error

    def _failed(self, exc: BaseException) -> None:
        self._count("errors", f"{type(exc).__name__}: {exc}")
        self._link.failed(exc)

    def get(self, key: str) -> dict[str, Any] | None:
        """The payload cached under ``key``; None on a miss, or when Redis is unavailable."""
        import redis

        if self._link.skip(self.breaker_seconds):
            self._count("skipped")
            return None
        try:
            raw = self._link.client.get(self.redis_key(key))
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        self._link.answered()
        if raw is None:
            self._count("misses")
            return None
        try:
            payload = decode_payload(raw)
        except ValueError as exc:
            self._count("invalid", str(exc))
            log.warning("Redis key %s holds no StressLab result (%s); computed again",
                        self.redis_key(key), exc)
            return None
        self._count("hits")
        return payload

    def put(self, key: str, payload: dict[str, Any]) -> None:
        """Cache ``payload`` under ``key`` for ``settings.ttl_seconds``; does nothing when Redis
        is unavailable.

        ``SET key value EX ttl``: SETEX's equivalent (value and expiry in one atomic command),
        which the Redis documentation recommends since SETEX was deprecated (Redis 2.6.12) and
        redis-py 8 warns on ``setex``.

        Raises
        ------
        ValueError, TypeError
            If ``payload`` is not a result payload (see :func:`encode_payload`).
        """
        import redis

        value = encode_payload(payload)
        if self._link.skip(self.breaker_seconds):
            self._count("skipped")
            return
        try:
            self._link.client.set(self.redis_key(key), value, ex=self.settings.ttl_seconds)
        except redis.RedisError as exc:
            self._failed(exc)
            return
        self._link.answered()

    def stats(self) -> dict[str, int]:
        """``{hits, misses, errors, skipped, invalid}`` of this cache object."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "errors": self.errors,
                    "skipped": self.skipped, "invalid": self.invalid}


def configured_cache() -> RedisCache | None:
    """The Redis cache the environment asks for, or None when ``REDIS_HOST`` is unset or blank.

    A new cache object (its own counters) over the process's shared connection pool.

    Raises
    ------
    ValidationError
        If a Redis variable holds a bad value (see :meth:`RedisSettings.from_env`).
    """
    settings = RedisSettings.from_env()
    return RedisCache(settings) if settings is not None else None


# --------------------------------------------------------------------------- health

class RedisHealth(BaseModel):
    """The Redis cache as the health endpoint reports it.

    Attributes
    ----------
    configured : bool
        ``REDIS_HOST`` is set.
    status : {"not_configured", "ok", "unavailable"}
        ``ok`` when a PING was answered just now; ``unavailable`` when it was not, or when the
        variables hold a bad value (``error`` says which).
    host, port, db, ssl
        Where the cache is (None when not configured or unreadable).
    ttl_seconds : int or None
        ``STRESS_TEST_CACHE_TTL``.
    latency_ms : float or None
        Round trip of the PING, milliseconds.
    error : str or None
        Why the PING (or the settings) failed.
    redis_version, used_memory_human : str or None
        From INFO, when the PING succeeded.
    keys : int or None
        Keys in the logical database (DBSIZE), StressLab's and any other.
    errors : int
        Cache calls of this process that failed on these settings.
    last_error : str or None
        The last such failure; ``last_error_at`` its time (UTC).
    circuit_open : bool
        Runs are skipping Redis right now after a failure.
    checked_at : datetime
        When this answer was made (UTC).
    """

    model_config = ConfigDict(frozen=True)

    configured: bool
    status: Literal["not_configured", "ok", "unavailable"]
    host: str | None = None
    port: int | None = None
    db: int | None = None
    ssl: bool | None = None
    ttl_seconds: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    redis_version: str | None = None
    used_memory_human: str | None = None
    keys: int | None = None
    errors: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    circuit_open: bool = False
    checked_at: datetime


def redis_health(settings: RedisSettings | None = None) -> RedisHealth:
    """PING the configured Redis and say how the cache stands; never raises.

    Parameters
    ----------
    settings : RedisSettings, optional
        Default: :meth:`RedisSettings.from_env`.

    Returns
    -------
    RedisHealth
        ``not_configured`` without ``REDIS_HOST``; ``ok`` with the PING's latency, the server's
        version, memory and key count; ``unavailable`` with the error (a PING that failed or
        timed out, or a bad variable). A PING that succeeds closes the circuit breaker.
    """
    now = datetime.now(UTC)
    try:
        if settings is None:
            settings = RedisSettings.from_env()
    except Exception as exc:  # noqa: BLE001 - a health answer never raises
        return RedisHealth(configured=True, status="unavailable", error=str(exc),
                           host=(os.environ.get("REDIS_HOST") or "").strip() or None,
                           checked_at=now)
    if settings is None:
        return RedisHealth(configured=False, status="not_configured", checked_at=now)
    where = {"host": settings.host, "port": settings.port, "db": settings.db,
             "ssl": settings.ssl, "ttl_seconds": settings.ttl_seconds}
    try:
        link = _link(settings)
        client = link.client
        t0 = time.perf_counter()
        client.ping()
        latency_ms = (time.perf_counter() - t0) * 1000.0
        link.answered()
        server = client.info("server")
        memory = client.info("memory")
        keys = int(client.dbsize())
    except Exception as exc:  # noqa: BLE001 - redis errors, and anything else, become the answer
        link = _LINKS.get(settings)
        extra = _link_state(link)
        return RedisHealth(configured=True, status="unavailable", **where,
                           error=f"{type(exc).__name__}: {exc}", checked_at=now, **extra)
    return RedisHealth(configured=True, status="ok", **where, latency_ms=latency_ms,
                       redis_version=str(server.get("redis_version", "")) or None,
                       used_memory_human=str(memory.get("used_memory_human", "")) or None,
                       keys=keys, checked_at=now, **_link_state(link))


def _link_state(link: _Link | None) -> dict[str, Any]:
    if link is None:
        return {}
    with link.lock:
        return {"errors": link.errors, "last_error": link.last_error,
                "last_error_at": link.last_error_at,
                "circuit_open": link.down and time.monotonic() - link.failed_at < BREAKER_SECONDS}
