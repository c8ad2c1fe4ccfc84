"""The market tables: evaluations, breaches, false positives and mode changes, each in the audit
trail, written in the caller's transaction; the stored figures behind the Prometheus exposition."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.audit.chain import iter_records, verify
from engine.errors import InputError, NotFoundError
from engine.market._store import (
    breaches_frame,
    current_mode,
    evaluations_frame,
    insert_evaluation,
    insert_false_positive,
    insert_mode_change,
    sensor_history,
    stored_figures,
)
from engine.market.enforcement import evaluate
from engine.market.metrics import exposition, figures
from engine.market.sensors import compute_snapshot, sensor_statuses
from engine.store import transaction

T0 = datetime(2024, 1, 1, 9, 0)


@pytest.fixture()
def breaching(small_prices, small_positions, small_config):
    """A config whose 99 % VaR limit (throttle) is breached, and its snapshot."""
    lim = small_config.limits.model_copy(update={"var": [
        small_config.limits.var[1].model_copy(update={"max": 1.0})]})
    cfg = small_config.model_copy(update={"limits": lim})
    return cfg, compute_snapshot(small_prices, positions=small_positions, config=cfg)


def _count(con, table):
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _record(con, ev, snap, *, at=T0, eval_id="e" * 32):
    with transaction(con):
        return insert_evaluation(con, evaluation_id=eval_id, evaluation=ev, snapshot=snap,
                                 timestamp=at)


def _statuses(con, cfg, *, as_of):
    h = sensor_history(con, as_of=as_of)
    return {s.sensor: s for s in sensor_statuses(
        as_of=as_of, first_seen=h.first_seen, breaches=h.breaches,
        false_positive_times=h.false_positive_times, config=cfg)}


def _mark(con, breach_id, *, reason, confidence, at):
    with transaction(con):
        return insert_false_positive(con, fp_id=f"fp-{breach_id}", breach_id=breach_id,
                                     reason=reason, confidence=confidence, timestamp=at)


def test_evaluation_is_stored_with_breaches_and_actions_in_the_chain(con, breaching):
    cfg, snap = breaching
    ev = evaluate(snap, config=cfg, mode="monitoring")
    seq = _record(con, ev, snap)
    n_breach = len(ev.breaches())
    n_action = sum(1 for d in ev.decisions if d.action != "none")
    assert n_breach >= 1 and seq == 1
    assert _count(con, "market_breaches") == n_breach
    types = [r.event_type for r in iter_records(con)]
    assert types.count("evaluation") == 1 and types.count("breach") == n_breach
    assert types.count("action") == n_action
    first = next(iter_records(con))
    assert first.payload["evaluation_id"] == "e" * 32 and first.timestamp == T0.isoformat()
    assert verify(con).ok
    assert evaluations_frame(con)["evaluation_id"].tolist() == ["e" * 32]


def test_an_evaluation_rolls_back_with_the_callers_transaction(con, breaching):
    cfg, snap = breaching
    with pytest.raises(RuntimeError), transaction(con):
        insert_evaluation(con, evaluation_id="x" * 32, evaluation=evaluate(snap, config=cfg),
                          snapshot=snap, timestamp=T0)
        raise RuntimeError("the runs row failed")
    assert _count(con, "market_evaluations") == 0 and _count(con, "audit_chain") == 0
    assert _count(con, "market_breaches") == 0


def test_mode_change_is_recorded(con):
    assert current_mode(con) == "monitoring"
    with transaction(con):
        old, seq = insert_mode_change(con, mode="gradual", reason="pilot", timestamp=T0)
    assert old == "monitoring" and current_mode(con) == "gradual"
    rec = list(iter_records(con))[seq - 1]
    assert rec.event_type == "mode_change"
    assert rec.payload == {"old_mode": "monitoring", "new_mode": "gradual", "reason": "pilot"}


@pytest.mark.parametrize(("mode", "reason"), [("chaos", "x"), ("full", " ")])
def test_bad_mode_change_stores_nothing(con, mode, reason):
    with pytest.raises(InputError):
        insert_mode_change(con, mode=mode, reason=reason, timestamp=T0)
    assert _count(con, "audit_chain") == 0 and _count(con, "market_mode_changes") == 0


def test_false_positives_drive_the_sensor_status(con, breaching):
    cfg, snap = breaching
    _record(con, evaluate(snap, config=cfg, mode="gradual"), snap)
    later = T0 + timedelta(days=14)
    status = _statuses(con, cfg, as_of=later)
    assert status["var_breach"].status == "READY" and status["var_breach"].breaches == 1
    breach_id = breaches_frame(con).query("sensor == 'var_breach'")["breach_id"].iloc[0]
    sensor, _ = _mark(con, breach_id, reason="stale price", confidence=0.9,
                      at=T0 + timedelta(days=1))
    assert sensor == "var_breach"
    s = _statuses(con, cfg, as_of=later)["var_breach"]
    assert s.false_positives == 1 and s.false_positive_rate_per_week == pytest.approx(0.5)
    assert s.status == "READY"
    _record(con, evaluate(snap, config=cfg, mode="gradual"), snap, at=T0 + timedelta(days=2),
            eval_id="f" * 32)
    breach2 = [b for b in breaches_frame(con).query("sensor == 'var_breach'")["breach_id"]
               if b != breach_id][0]
    _mark(con, breach2, reason="holiday", confidence=0.6, at=T0 + timedelta(days=3))
    s = _statuses(con, cfg, as_of=later)["var_breach"]
    assert s.false_positive_rate_per_week == pytest.approx(1.0) and s.status == "HIGH_FP"
    frame = breaches_frame(con)
    assert frame.set_index("breach_id").loc[breach_id, "false_positive"]
    assert [r.event_type for r in iter_records(con)].count("false_positive") == 2
    assert verify(con).ok


@pytest.mark.parametrize(("breach", "reason", "conf", "error"), [
    ("nope", "why", 0.5, NotFoundError),
    (None, "", 0.5, InputError),
    (None, "why", 1.5, InputError),
])
def test_bad_false_positive_stores_nothing(con, breaching, breach, reason, conf, error):
    cfg, snap = breaching
    _record(con, evaluate(snap, config=cfg), snap)
    before = _count(con, "audit_chain")
    bid = breach or breaches_frame(con)["breach_id"].iloc[0]
    with pytest.raises(error):
        _mark(con, bid, reason=reason, confidence=conf, at=T0)
    assert _count(con, "audit_chain") == before and _count(con, "market_false_positives") == 0


def test_a_breach_is_marked_once(con, breaching):
    cfg, snap = breaching
    _record(con, evaluate(snap, config=cfg), snap)
    bid = breaches_frame(con)["breach_id"].iloc[0]
    _mark(con, bid, reason="stale", confidence=0.5, at=T0)
    with pytest.raises(InputError, match="already marked"):
        insert_false_positive(con, fp_id="other", breach_id=bid, reason="again", confidence=0.5,
                              timestamp=T0)


def test_metrics_match_the_stored_evaluation(con, breaching):
    cfg, snap = breaching
    ev = evaluate(snap, config=cfg, mode="full")
    _record(con, ev, snap)
    stored = stored_figures(con, as_of=T0)
    assert stored.evaluations == 1 and len(stored.latencies_us) == 1
    statuses = list(_statuses(con, cfg, as_of=T0).values())
    figs = figures(stored, statuses=statuses)
    var = {s.labels["confidence"]: s.value for s in figs.samples
           if s.name == "stresslab_market_var"}
    assert var == snap.var
    breaches = {s.labels["sensor"]: s.value for s in figs.samples
                if s.name == "stresslab_market_breaches"}
    assert sum(breaches.values()) == len(ev.breaches())
    text = exposition(figs)
    for name in ("stresslab_market_var", "stresslab_market_limit_utilisation",
                 "stresslab_market_breaches_total", "stresslab_market_actions_total",
                 "stresslab_market_false_positive_rate_per_week",
                 "stresslab_market_evaluation_latency_seconds_bucket",
                 "stresslab_market_evaluations_total"):
        assert name in text
    assert 'stresslab_market_evaluation_latency_seconds_count 1.0' in text
    assert figs.to_frame().shape[0] == len(figs.samples)


def test_an_empty_store_exposes_counts_of_zero(con, small_config):
    stored = stored_figures(con, as_of=T0)
    figs = figures(stored, statuses=[])
    assert stored.latest_snapshot is None and stored.sensors.first_seen is None
    assert [(s.name, s.value) for s in figs.samples] == [("stresslab_market_evaluations", 0.0)]
    assert figs.latency_buckets[-1] == ("+Inf", 0.0) and figs.latency_sum == 0.0
