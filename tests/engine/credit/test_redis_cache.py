"""The optional Redis cache of scenario results, against a real ``redis-server`` (no mock).

Settings come from the documented variables; a cached result is bit for bit the computed one;
with ``REDIS_HOST`` set a second run hits Redis and the store's ``result_cache`` stays empty;
when Redis goes away mid-run the run completes uncached with the same numbers and the health
answer says ``unavailable``.
"""

from __future__ import annotations

import logging
import pickle
import struct
from datetime import date

import numpy as np
import pytest

import engine.credit.workflow as wf
from engine.credit._redis import (
    KEY_PREFIX,
    VARIABLES,
    RedisCache,
    RedisSettings,
    close_pools,
    configured_cache,
    decode_payload,
    encode_payload,
    redis_health,
)
from engine.credit.models import POOL_FIELDS
from engine.credit.workflow import StressRunRequest
from engine.errors import InputError, ValidationError
from engine.store import Store
from tests.redis_server import RedisServer, start_redis_server
from tests.redis_server import redis_server  # noqa: F401 (a pytest fixture)

from .conftest import synthetic_pool

SCENARIOS = ["base", "credit_crisis", "housing_bust"]
ENV_NAMES = [var for var, _default, _rule in VARIABLES.values()]


@pytest.fixture(autouse=True)
def _fresh_pools():
    """Each test starts with no connection pool (and no breaker state) of an earlier test."""
    close_pools()
    yield
    close_pools()


@pytest.fixture()
def clean_env(monkeypatch):
    """No Redis variable from the machine running the tests."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def point_at(env, server: RedisServer, **extra: str) -> None:
    env.setenv("REDIS_HOST", server.host)
    env.setenv("REDIS_PORT", str(server.port))
    for name, value in extra.items():
        env.setenv(name, value)


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(tmp_path / "s.duckdb", timeout=5.0)


@pytest.fixture()
def pool_id(store) -> str:
    """300 seeded loans of every status (delinquent and defaulted ones included), stored."""
    return wf.save_pool(synthetic_pool(300), store=store).pool_id


def request_for(pool_id: str, **changes) -> StressRunRequest:
    return StressRunRequest(pool_id=pool_id, scenario_names=SCENARIOS,
                            analysis_date=date(2025, 6, 30), discount_rate=0.05, **changes)


def count(store: Store, table: str) -> int:
    with store.read() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def bits(metrics: dict) -> dict:
    """Each metric's IEEE 754 bytes (None kept), so NaN and -0.0 compare exactly."""
    return {k: (None if v is None else struct.pack(">d", v)) for k, v in metrics.items()}


def assert_same_numbers(a: wf.StressRun, b: wf.StressRun) -> None:
    assert list(a.result.scenarios) == list(b.result.scenarios) == SCENARIOS
    for key in SCENARIOS:
        ra, rb = a.result.scenarios[key], b.result.scenarios[key]
        assert ra.status == rb.status == "success"
        assert bits(ra.metrics) == bits(rb.metrics), key
        assert list(ra.cashflows.columns) == list(rb.cashflows.columns)
        assert ra.cashflows.to_numpy().tobytes() == rb.cashflows.to_numpy().tobytes(), key


# --------------------------------------------------------------------------- settings

def test_settings_need_redis_host():
    assert RedisSettings.from_env({}) is None
    assert RedisSettings.from_env({"REDIS_HOST": "   ", "REDIS_PORT": "abc"}) is None


def test_settings_defaults():
    s = RedisSettings.from_env({"REDIS_HOST": "cache.internal"})
    assert (s.host, s.port, s.password, s.db, s.ssl) == ("cache.internal", 6379, None, 0, False)
    assert (s.socket_timeout, s.connect_timeout, s.max_connections, s.ttl_seconds) == (
        5.0, 5.0, 50, 3600)


def test_settings_read_every_variable():
    s = RedisSettings.from_env({
        "REDIS_HOST": " redis.example.org ", "REDIS_PORT": "6380", "REDIS_PASSWORD": " p@ss ",
        "REDIS_DB": "3", "REDIS_SSL": "true", "REDIS_SOCKET_TIMEOUT": "2.5",
        "REDIS_CONNECT_TIMEOUT": "0.75", "REDIS_MAX_CONNECTIONS": "8",
        "STRESS_TEST_CACHE_TTL": "120"})
    assert (s.host, s.port, s.db, s.ssl) == ("redis.example.org", 6380, 3, True)
    assert s.password.get_secret_value() == " p@ss "  # a password is taken as written
    assert (s.socket_timeout, s.connect_timeout, s.max_connections, s.ttl_seconds) == (
        2.5, 0.75, 8, 120)
    assert "p@ss" not in repr(s) and "p@ss" not in s.describe()
    assert s.describe() == "rediss://redis.example.org:6380/3"


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("No", False),
    ("", False)])
def test_ssl_spellings(text, value):
    assert RedisSettings.from_env({"REDIS_HOST": "h", "REDIS_SSL": text}).ssl is value


@pytest.mark.parametrize(("name", "value", "rule"), [
    ("REDIS_PORT", "abc", "an integer from 1 to 65535"),
    ("REDIS_PORT", "0", "an integer from 1 to 65535"),
    ("REDIS_PORT", "65536", "an integer from 1 to 65535"),
    ("REDIS_PORT", "6379.0", "an integer from 1 to 65535"),
    ("REDIS_DB", "-1", "an integer ≥ 0 (the Redis logical database)"),
    ("REDIS_SSL", "maybe", "one of true, false, 1, 0, yes, no"),
    ("REDIS_SOCKET_TIMEOUT", "0", "a number of seconds > 0"),
    ("REDIS_SOCKET_TIMEOUT", "nan", "a number of seconds > 0"),
    ("REDIS_CONNECT_TIMEOUT", "-1", "a number of seconds > 0"),
    ("REDIS_CONNECT_TIMEOUT", "5s", "a number of seconds > 0"),
    ("REDIS_MAX_CONNECTIONS", "0", "an integer ≥ 1"),
    ("STRESS_TEST_CACHE_TTL", "1.5", "an integer number of seconds ≥ 1"),
    ("STRESS_TEST_CACHE_TTL", "0", "an integer number of seconds ≥ 1"),
])
def test_a_bad_value_names_the_variable_its_value_and_the_rule(name, value, rule):
    with pytest.raises(InputError) as caught:
        RedisSettings.from_env({"REDIS_HOST": "h", name: value})
    message = str(caught.value)
    assert f"variable {name!r} (value {value!r}): {rule}" in message
    assert caught.value.to_records() == [
        {"row": None, "column": name, "value": value, "rule": rule}]


def test_every_bad_value_is_listed_at_once():
    with pytest.raises(ValidationError) as caught:
        RedisSettings.from_env({"REDIS_HOST": "h", "REDIS_PORT": "abc", "REDIS_DB": "x",
                                "STRESS_TEST_CACHE_TTL": "-5"})
    assert [i["column"] for i in caught.value.to_records()] == [
        "REDIS_PORT", "REDIS_DB", "STRESS_TEST_CACHE_TTL"]


# --------------------------------------------------------------------------- the value format

def payload(n_periods: int = 37) -> dict:
    rng = np.random.default_rng(20261121)
    pool = rng.normal(scale=1e6, size=(n_periods, len(POOL_FIELDS)))
    pool[0, 0] = -0.0
    pool[1, 1] = 5e-324  # the smallest subnormal
    return {"metrics": {"npv": 1 / 3, "irr": float("nan"), "duration": -0.0,
                        "total_loss": 1e308, "convexity": float("inf"), "missing": None},
            "pool": pool}


def test_a_payload_round_trips_bit_for_bit():
    original = payload()
    raw = encode_payload(original)
    assert raw[:4] == b"SLRC"
    back = decode_payload(raw)
    assert list(back["metrics"]) == list(original["metrics"])  # order kept
    assert bits(back["metrics"]) == bits(original["metrics"])
    assert back["pool"].dtype == np.float64 and back["pool"].shape == (37, len(POOL_FIELDS))
    assert back["pool"].tobytes() == original["pool"].tobytes()


def test_anything_else_is_refused_not_unpickled():
    with pytest.raises(ValueError, match="not a StressLab result record"):
        decode_payload(pickle.dumps(payload()))
    raw = encode_payload(payload())
    with pytest.raises(ValueError, match="damaged"):
        decode_payload(raw[:-8])  # truncated
    with pytest.raises(ValueError, match="bytes after its end"):
        decode_payload(raw + b"\x00")
    with pytest.raises(ValueError, match="shape"):
        encode_payload({"metrics": {}, "pool": np.zeros((3, len(POOL_FIELDS) + 1))})


# --------------------------------------------------------------------------- the cache itself

def test_put_then_get_through_redis_with_the_ttl(redis_server):
    settings = RedisSettings(host=redis_server.host, port=redis_server.port, ttl_seconds=120)
    cache = RedisCache(settings)
    key = "ab" * 32
    assert cache.get(key) is None
    original = payload()
    cache.put(key, original)
    back = cache.get(key)
    assert bits(back["metrics"]) == bits(original["metrics"])
    assert back["pool"].tobytes() == original["pool"].tobytes()
    assert cache.stats() == {"hits": 1, "misses": 1, "errors": 0, "skipped": 0, "invalid": 0}
    client = redis_server.client()
    assert client.keys("*") == [f"stresslab:credit:result:{key}".encode()]
    assert 0 < client.ttl(KEY_PREFIX + key) <= 120  # SET … EX with STRESS_TEST_CACHE_TTL


def test_a_foreign_value_under_our_key_is_a_miss(redis_server, caplog):
    cache = RedisCache(RedisSettings(host=redis_server.host, port=redis_server.port))
    redis_server.client().set(KEY_PREFIX + "cd" * 32, pickle.dumps(payload()))
    with caplog.at_level(logging.WARNING, logger="stresslab.redis"):
        assert cache.get("cd" * 32) is None
    assert cache.stats()["invalid"] == 1
    assert "holds no StressLab result" in caplog.text


def test_one_pool_per_settings_shared_by_every_cache(redis_server):
    settings = RedisSettings(host=redis_server.host, port=redis_server.port)
    a, b = RedisCache(settings), RedisCache(settings)
    assert a._link.pool is b._link.pool
    other = RedisCache(settings.model_copy(update={"db": 1}))
    assert other._link.pool is not a._link.pool
    assert a._link.pool.max_connections == 50


def test_a_password_is_used(tmp_path_factory):
    server = start_redis_server(tmp_path_factory.mktemp("redis-auth"), password="s3cret")
    try:
        good = RedisSettings(host=server.host, port=server.port, password="s3cret")
        cache = RedisCache(good)
        cache.put("ef" * 32, payload())
        assert cache.get("ef" * 32) is not None
        assert redis_health(good).status == "ok"
        wrong = redis_health(good.model_copy(update={"password": "nope"}))
        assert wrong.status == "unavailable" and "nope" not in (wrong.error or "")
        assert wrong.error
    finally:
        server.stop()


def test_ssl_reaches_the_connection(redis_server):
    """The test server speaks plain TCP: with REDIS_SSL the TLS handshake fails, without it the
    PING is answered."""
    plain = RedisSettings(host=redis_server.host, port=redis_server.port)
    assert redis_health(plain).status == "ok"
    tls = plain.model_copy(update={"ssl": True, "socket_timeout": 1.0, "connect_timeout": 1.0})
    answer = redis_health(tls)
    assert answer.status == "unavailable" and answer.ssl is True and answer.error


# --------------------------------------------------------------------------- Redis going away

def test_the_breaker_skips_redis_after_a_failure_and_logs_once(redis_server, caplog):
    settings = RedisSettings(host=redis_server.host, port=redis_server.port)
    cache = RedisCache(settings, breaker_seconds=3600.0)
    cache.put("01" * 32, payload())  # a pooled connection exists, then the server dies
    redis_server.stop()
    with caplog.at_level(logging.INFO, logger="stresslab.redis"):
        assert cache.get("01" * 32) is None
        assert cache.get("01" * 32) is None
        cache.put("02" * 32, payload())
        assert cache.stats() == {"hits": 0, "misses": 0, "errors": 1, "skipped": 2, "invalid": 0}
        assert "ConnectionError" in cache.last_error

        eager = RedisCache(settings, breaker_seconds=0.0)  # tries Redis on every call
        for _ in range(3):
            assert eager.get("01" * 32) is None
        assert eager.stats()["errors"] == 3 and eager.stats()["skipped"] == 0
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1  # one warning for the whole outage, not one per call
        assert "unavailable" in warnings[0].getMessage()

        redis_server.start()  # back on the same port, empty (nothing is saved to disk)
        assert eager.get("01" * 32) is None and eager.stats()["misses"] == 1
        eager.put("01" * 32, payload())
        assert eager.get("01" * 32) is not None
    assert any("answers again" in r.getMessage() for r in caplog.records)
    health = redis_health(settings)
    assert health.status == "ok" and not health.circuit_open
    assert health.errors == 4 and "ConnectionError" in health.last_error
    assert health.last_error_at is not None


# --------------------------------------------------------------------------- runs

def test_a_second_run_hits_redis_and_the_store_cache_stays_empty(
        redis_server, clean_env, store, pool_id):
    uncached = wf.run_stress(request_for(pool_id, use_cache=False), store=store)
    point_at(clean_env, redis_server)
    first = wf.run_stress(request_for(pool_id), store=store)
    second = wf.run_stress(request_for(pool_id), store=store)
    assert not any(r.cache_hit for r in first.result.scenarios.values())
    assert all(r.cache_hit for r in second.result.scenarios.values())
    assert_same_numbers(first, uncached)
    assert_same_numbers(second, uncached)
    assert count(store, "result_cache") == 0  # nothing written to the store's cache
    assert count(store, "runs") == 3
    client = redis_server.client()
    keys = sorted(client.keys(KEY_PREFIX + "*"))
    assert len(keys) == len(SCENARIOS)
    assert all(len(k) == len(KEY_PREFIX) + 64 for k in keys)  # prefix + SHA-256 hex
    assert all(0 < client.ttl(k) <= 3600 for k in keys)  # default STRESS_TEST_CACHE_TTL


def test_the_ttl_comes_from_stress_test_cache_ttl(redis_server, clean_env, store, pool_id):
    point_at(clean_env, redis_server, STRESS_TEST_CACHE_TTL="90")
    wf.run_stress(request_for(pool_id), store=store)
    client = redis_server.client()
    ttls = [client.ttl(k) for k in client.keys(KEY_PREFIX + "*")]
    assert len(ttls) == len(SCENARIOS) and all(0 < t <= 90 for t in ttls)


def test_with_redis_the_store_cache_is_neither_read_nor_written(
        redis_server, clean_env, store, pool_id):
    stored = wf.run_stress(request_for(pool_id), store=store)  # no REDIS_HOST: the store's cache
    assert count(store, "result_cache") == len(SCENARIOS)
    point_at(clean_env, redis_server)
    run = wf.run_stress(request_for(pool_id), store=store)
    assert not any(r.cache_hit for r in run.result.scenarios.values())  # no preload from store
    assert_same_numbers(run, stored)
    assert len(redis_server.client().keys(KEY_PREFIX + "*")) == len(SCENARIOS)


def test_use_cache_false_leaves_redis_alone(redis_server, clean_env, store, pool_id):
    point_at(clean_env, redis_server)
    wf.run_stress(request_for(pool_id, use_cache=False), store=store)
    wf.run_stress(request_for(pool_id, use_cache=False), store=store)
    assert redis_server.client().dbsize() == 0


def test_redis_stopped_mid_run_the_run_completes_uncached(
        redis_server, clean_env, store, pool_id, caplog):
    uncached = wf.run_stress(request_for(pool_id, use_cache=False), store=store)
    point_at(clean_env, redis_server)
    seen: list[tuple[str, int]] = []

    def stop_after_the_first(key, result, n_done, n_total):
        if n_done == 1:
            seen.append((key, redis_server.client().dbsize()))
            redis_server.stop()

    with caplog.at_level(logging.WARNING, logger="stresslab.redis"):
        run = wf.run_stress(request_for(pool_id, max_workers=1), store=store,
                            progress=stop_after_the_first)
    assert seen == [("base", 1)]  # base was cached in Redis, then Redis went away
    assert not redis_server.running
    assert not any(r.cache_hit for r in run.result.scenarios.values())
    assert_same_numbers(run, uncached)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    health = redis_health()
    assert (health.configured, health.status) == (True, "unavailable")
    assert health.error and health.errors >= 1 and health.circuit_open
    assert (health.host, health.port) == (redis_server.host, redis_server.port)
    assert count(store, "result_cache") == 0

    again = wf.run_stress(request_for(pool_id), store=store)  # Redis still down: gets fail too
    assert not any(r.cache_hit for r in again.result.scenarios.values())
    assert_same_numbers(again, uncached)


def test_health_when_redis_answers(redis_server, clean_env, store, pool_id):
    point_at(clean_env, redis_server, STRESS_TEST_CACHE_TTL="600", REDIS_DB="2")
    wf.run_stress(request_for(pool_id), store=store)
    health = redis_health()
    assert (health.configured, health.status, health.error) == (True, "ok", None)
    assert (health.host, health.port, health.db, health.ssl, health.ttl_seconds) == (
        "127.0.0.1", redis_server.port, 2, False, 600)
    assert health.latency_ms is not None and health.latency_ms >= 0
    assert health.keys == len(SCENARIOS)  # the run wrote to logical database 2
    assert health.used_memory_human and health.redis_version
    assert (health.errors, health.last_error, health.circuit_open) == (0, None, False)


def test_not_configured_without_redis_host(clean_env, store, pool_id):
    assert configured_cache() is None
    health = redis_health()
    assert (health.configured, health.status, health.host, health.latency_ms) == (
        False, "not_configured", None, None)
    wf.run_stress(request_for(pool_id), store=store)
    assert count(store, "result_cache") == len(SCENARIOS)  # the store's cache, as before


def test_a_bad_variable_fails_the_run_and_shows_in_health(clean_env, store, pool_id):
    clean_env.setenv("REDIS_HOST", "127.0.0.1")
    clean_env.setenv("REDIS_PORT", "abc")
    with pytest.raises(InputError, match="REDIS_PORT"):
        wf.run_stress(request_for(pool_id), store=store)
    assert count(store, "runs") == 0
    health = redis_health()
    assert (health.configured, health.status) == (True, "unavailable")
    assert "REDIS_PORT" in health.error and "'abc'" in health.error
