"""Stored evaluations, breaches, false positives and mode changes, each in the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.audit.chain import iter_records, verify
from engine.errors import InputError, NotFoundError
from engine.market.enforcement import evaluate
from engine.market.metrics import exposition, metric_samples
from engine.market.records import (
    breaches_frame,
    current_mode,
    record_evaluation,
    record_false_positive,
    sensor_statuses,
    set_mode,
)
from engine.market.sensors import compute_snapshot
from engine.store import connect

T0 = datetime(2024, 1, 1, 9, 0)


@pytest.fixture()
def con():
    c = connect(":memory:")
    yield c
    c.close()


@pytest.fixture()
def breaching(small_prices, small_positions, small_config):
    """A config whose 99 % VaR limit (throttle) is breached, and its snapshot."""
    lim = small_config.limits.model_copy(update={"var": [
        small_config.limits.var[1].model_copy(update={"max": 1.0})]})
    cfg = small_config.model_copy(update={"limits": lim})
    return cfg, compute_snapshot(small_prices, small_positions, cfg)


def _count(con, table):
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_evaluation_is_stored_with_breaches_and_actions_in_the_chain(con, breaching):
    cfg, snap = breaching
    ev = evaluate(snap, cfg, mode="monitoring")
    eval_id = record_evaluation(con, ev, snap, timestamp=T0)
    n_breach = len(ev.breaches())
    n_action = sum(1 for d in ev.decisions if d.action != "none")
    assert n_breach >= 1
    assert _count(con, "market_breaches") == n_breach
    types = [r.event_type for r in iter_records(con)]
    assert types.count("evaluation") == 1 and types.count("breach") == n_breach
    assert types.count("action") == n_action
    first = next(iter_records(con))
    assert first.payload["evaluation_id"] == eval_id and first.timestamp == T0.isoformat()
    assert verify(con) is None


def test_mode_change_is_recorded(con):
    assert current_mode(con) == "monitoring"
    seq = set_mode(con, mode="gradual", reason="pilot", timestamp=T0)
    assert current_mode(con) == "gradual"
    rec = list(iter_records(con))[seq - 1]
    assert rec.event_type == "mode_change"
    assert rec.payload == {"old_mode": "monitoring", "new_mode": "gradual", "reason": "pilot"}


@pytest.mark.parametrize(("mode", "reason"), [("chaos", "x"), ("full", " ")])
def test_bad_mode_change_stores_nothing(con, mode, reason):
    with pytest.raises(InputError):
        set_mode(con, mode=mode, reason=reason, timestamp=T0)
    assert _count(con, "audit_chain") == 0 and _count(con, "market_mode_changes") == 0


def test_false_positives_drive_the_sensor_status(con, breaching):
    cfg, snap = breaching
    ev = evaluate(snap, cfg, mode="gradual")
    record_evaluation(con, ev, snap, timestamp=T0)
    later = T0 + timedelta(days=14)
    status = {s.sensor: s for s in sensor_statuses(con, cfg, as_of=later)}
    assert status["var_breach"].status == "READY" and status["var_breach"].breaches == 1
    breach_id = breaches_frame(con).query("sensor == 'var_breach'")["breach_id"].iloc[0]
    record_false_positive(con, breach_id=breach_id, reason="stale price", confidence=0.9,
                          timestamp=T0 + timedelta(days=1))
    s = {s.sensor: s for s in sensor_statuses(con, cfg, as_of=later)}["var_breach"]
    assert s.false_positives == 1 and s.false_positive_rate_per_week == pytest.approx(0.5)
    assert s.status == "READY"
    ev2 = evaluate(snap, cfg, mode="gradual")
    record_evaluation(con, ev2, snap, timestamp=T0 + timedelta(days=2))
    breach2 = [b for b in breaches_frame(con).query("sensor == 'var_breach'")["breach_id"]
               if b != breach_id][0]
    record_false_positive(con, breach_id=breach2, reason="holiday", confidence=0.6,
                          timestamp=T0 + timedelta(days=3))
    s = {s.sensor: s for s in sensor_statuses(con, cfg, as_of=later)}["var_breach"]
    assert s.false_positive_rate_per_week == pytest.approx(1.0) and s.status == "HIGH_FP"
    frame = breaches_frame(con)
    assert frame.set_index("breach_id").loc[breach_id, "false_positive"]
    assert [r.event_type for r in iter_records(con)].count("false_positive") == 2
    assert verify(con) is None


@pytest.mark.parametrize(("breach", "reason", "conf", "error"), [
    ("nope", "why", 0.5, NotFoundError),
    (None, "", 0.5, InputError),
    (None, "why", 1.5, InputError),
])
def test_bad_false_positive_stores_nothing(con, breaching, breach, reason, conf, error):
    cfg, snap = breaching
    record_evaluation(con, evaluate(snap, cfg), snap, timestamp=T0)
    before = _count(con, "audit_chain")
    bid = breach or breaches_frame(con)["breach_id"].iloc[0]
    with pytest.raises(error):
        record_false_positive(con, breach_id=bid, reason=reason, confidence=conf, timestamp=T0)
    assert _count(con, "audit_chain") == before and _count(con, "market_false_positives") == 0


def test_metrics_match_the_stored_evaluation(con, breaching):
    cfg, snap = breaching
    ev = evaluate(snap, cfg, mode="full")
    record_evaluation(con, ev, snap, timestamp=T0)
    samples = metric_samples(con, cfg, as_of=T0)
    var = {s.labels["confidence"]: s.value for s in samples if s.name == "stresslab_market_var"}
    assert var == snap.var
    breaches = {s.labels["sensor"]: s.value for s in samples
                if s.name == "stresslab_market_breaches"}
    assert sum(breaches.values()) == len(ev.breaches())
    text = exposition(con, cfg, as_of=T0)
    for name in ("stresslab_market_var", "stresslab_market_limit_utilisation",
                 "stresslab_market_breaches_total", "stresslab_market_actions_total",
                 "stresslab_market_false_positive_rate_per_week",
                 "stresslab_market_evaluation_latency_seconds_bucket",
                 "stresslab_market_evaluations_total"):
        assert name in text
    assert 'stresslab_market_evaluation_latency_seconds_count 1.0' in text
