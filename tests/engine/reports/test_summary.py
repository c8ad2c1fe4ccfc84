"""The decision summary against the store: every figure is checked against what the capabilities'
own workflows stored (runs made by the real workflows on the bundled data), the pending list
follows sign-offs, false positives and acknowledgements, and an empty store gives "no run yet"
tiles."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from engine.credit import workflow as cw
from engine.display import money_short
from engine.live import workflow as lw
from engine.market import workflow as mw
from engine.mlrisk import ValidationConfig
from engine.mlrisk import workflow as mlw
from engine.reports.summary import NO_RUN, PAGES, DecisionSummary, decision_summary
from engine.store import Store

ROOT = Path(__file__).resolve().parents[3]
TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
#: Two evaluations: the first on the prices up to 2022-06-30 (no breach), the latest on all of
#: them (VaR 95% and the stress loss above their limits).
T0 = datetime(2024, 3, 1, 9, 0)
T1 = T0 + timedelta(hours=1)
#: The bundled desk replayed to here: 3 accounts, 19 alerts (see tests/app/test_risk_desk.py).
UNTIL = "2021-01-31"
NOW = datetime(2025, 1, 2, 12, 0)


def _validate(store: Store, *, model: str, seed: int) -> mlw.ValidationRecorded:
    config = ValidationConfig(target="default_payment_next_month", subgroups=["SEX"], model=model,
                              seed=seed, row_limit=1500)
    return mlw.validate(mlw.ValidateRequest(config=config, user="dana", source="cli"), store=store)


@pytest.fixture(scope="module")
def filled(tmp_path_factory, request) -> dict:
    """One store with runs of every capability, made by their workflows on the bundled data."""
    folder = tmp_path_factory.mktemp("summary")
    mp = pytest.MonkeyPatch()
    mp.setenv("STRESSLAB_KEYS", str(folder / "keys"))  # no signing key: evidence unsigned
    request.addfinalizer(mp.undo)
    store = Store(folder / "filled.duckdb", timeout=10)
    big = cw.seed_store(store=store)
    small = cw.import_pool(cw.ImportPoolRequest(
        content=pd.read_csv(TAPE, nrows=40).to_csv(index=False).encode(), filename="small.csv",
        pool_id="lc-40", pool_name="Lending Club first 40"), store=store).pool_id
    runs = {
        "big_first": cw.run_stress(cw.StressRunRequest(
            pool_id=big, scenario_names=["rate_shock_up", "credit_crisis"], source="cli"),
            store=store).run_id,
        "big_latest": cw.run_stress(cw.StressRunRequest(
            pool_id=big, scenario_names=["rate_shock_up", "credit_crisis", "housing_bust"],
            discount_rate=0.06, source="cli"), store=store).run_id,
        "small_base_only": None,
        "small": cw.run_stress(cw.StressRunRequest(
            pool_id=small, scenario_names=["housing_boom", "liquidity_crisis"], source="cli"),
            store=store).run_id,
    }
    # a later run of the small pool with base alone has no stress figure: not its "latest"
    runs["small_base_only"] = cw.run_stress(cw.StressRunRequest(
        pool_id=small, scenario_names=["base"], source="cli"), store=store).run_id
    ml_first = _validate(store, model="logistic_regression", seed=1)
    ml_latest = _validate(store, model="logistic_regression", seed=2)
    ml_other = _validate(store, model="random_forest", seed=1)
    ev_first = mw.evaluate_limits(mw.LimitsRequest(as_of=date(2022, 6, 30)), store=store, now=T0)
    ev_latest = mw.evaluate_limits(mw.LimitsRequest(), store=store, now=T1)
    replay = lw.replay(lw.ReplayRequest.build(example=True, until=UNTIL), store=store)
    assert (replay.alerts_raised, len(ev_first.evaluation.breaches())) == (19, 0)
    return {"path": store.path, "big": big, "small": small, "runs": runs, "ml_first": ml_first,
            "ml_latest": ml_latest, "ml_other": ml_other, "ev_first": ev_first,
            "ev_latest": ev_latest}


@pytest.fixture()
def copy(filled, tmp_path) -> Store:
    """A copy of the filled store that a test may change."""
    target = tmp_path / "copy.duckdb"
    shutil.copyfile(filled["path"], target)
    return Store(target, timeout=10)


@pytest.fixture(scope="module")
def summary(filled) -> DecisionSummary:
    return decision_summary(store=Store(filled["path"], timeout=10), now=NOW)


def _worst(run_id: str, store: Store) -> tuple[str, float, float]:
    """The stored run's stressed scenario with the lowest NPV change: (name, USD, percent)."""
    result = cw.load_run(run_id, store=store).result
    stressed = [(sc.metrics["npv_change"], sc.metrics["npv_change_percent"], sc.scenario.name)
                for key, sc in result.scenarios.items() if key != "base"]
    change, percent, name = min(stressed)
    return name, change, percent


# --------------------------------------------------------------------------- empty store

def test_an_empty_store_gives_no_run_yet_tiles_and_nothing_pending(tmp_path):
    s = decision_summary(store=Store(tmp_path / "empty.duckdb"), now=NOW)
    assert [t.key for t in s.tiles] == ["credit", "validation", "market", "desk"]
    assert [t.page for t in s.tiles] == ["stress_test", "ml_validation", "market_risk", "risk_desk"]
    assert all(t.empty and t.text == NO_RUN == "no run yet" and t.value is None for t in s.tiles)
    assert s.pending == [] and s.pending_frame().empty
    assert s.credit.pools == [] and s.validation.models == [] and s.validation.awaiting_signoff == 0
    assert (s.market.evaluation_id, s.market.mode, s.market.var) == (None, "monitoring", [])
    assert s.desk.unacknowledged_alerts == 0 and s.desk.session_id is None
    assert s.generated_at == NOW
    json.dumps(s.model_dump(mode="json"))  # plain data


# --------------------------------------------------------------------------- credit

def test_credit_worst_npv_change_per_pool_is_the_minimum_over_its_latest_run(filled, summary):
    store = Store(filled["path"])
    pools = {p.pool_id: p for p in summary.credit.pools}
    assert set(pools) == {filled["big"], filled["small"]}
    big, small = pools[filled["big"]], pools[filled["small"]]
    # the big pool: its latest run, and the change against the run before
    assert (big.run_id, big.previous_run_id) == (filled["runs"]["big_latest"],
                                                 filled["runs"]["big_first"])
    name, change, percent = _worst(big.run_id, store)
    assert (big.worst_scenario_name, big.npv_change, big.npv_change_percent) == (name, change, percent)
    assert big.n_scenarios == 4  # base + 3
    prev = _worst(big.previous_run_id, store)[1]
    assert big.previous_npv_change == prev and big.change == pytest.approx(change - prev, abs=1e-6)
    # the small pool: its base-only run holds no stress figure, the run before it counts
    assert small.run_id == filled["runs"]["small"] and small.previous_run_id is None
    assert small.change is None
    assert (small.worst_scenario_name, small.npv_change) == _worst(small.run_id, store)[:2]
    run_dates = cw.list_runs(store=store).set_index("run_id")["started_at"]
    assert big.run_at == run_dates[big.run_id].to_pydatetime()


def test_credit_tile_heads_with_the_worst_pool_rounded_for_reading(summary):
    tile = summary.tile("credit")
    worst = min(summary.credit.pools, key=lambda p: p.npv_change)
    assert summary.credit.pools[0] == worst
    assert (tile.value, tile.change, tile.page) == (worst.npv_change, worst.change, "stress_test")
    assert tile.text == money_short(worst.npv_change)
    assert tile.text.startswith("-$") and tile.text[-1] == "M"  # millions lost on 10,000 loans
    assert tile.change_text == f"+{money_short(worst.change)} vs previous run"  # 6% discounting
    assert tile.as_of == max(p.run_at for p in summary.credit.pools)
    assert len(tile.lines) == 2 and tile.lines[0].startswith("Lending Club 2018 Q1")
    assert tile.higher_is_better is True and not tile.empty


# --------------------------------------------------------------------------- model validation

def test_latest_decision_per_model_and_the_count_awaiting_sign_off(filled, summary):
    models = {m.model_kind: m for m in summary.validation.models}
    assert set(models) == {"logistic_regression", "random_forest"}
    lr, rf = models["logistic_regression"], models["random_forest"]
    first, latest, other = filled["ml_first"], filled["ml_latest"], filled["ml_other"]
    assert (lr.run_id, lr.decision) == (latest.run_id, latest.decision)
    assert (lr.previous_run_id, lr.previous_decision) == (first.run_id, first.decision)
    assert (rf.run_id, rf.decision, rf.previous_run_id) == (other.run_id, other.decision, None)
    assert {lr.decision, rf.decision} <= {"DEPLOY", "RESTRICT", "REDESIGN"}
    # the superseded first run does not wait for a sign-off; both latest runs do
    assert summary.validation.awaiting_signoff == 2
    stored = mlw.list_runs(store=Store(filled["path"])).set_index("run_id")
    assert lr.summary == stored.loc[lr.run_id, "summary"]
    tile = summary.tile("validation")
    worst = max((lr, rf), key=lambda m: ["DEPLOY", "RESTRICT", "REDESIGN"].index(m.decision))
    assert tile.text == worst.decision and tile.value is None
    assert tile.lines[0] == "2 of 2 models await sign-off"


def test_an_unsigned_validation_waits_for_a_validator_until_signed_off(filled, copy):
    latest = filled["ml_latest"].run_id
    before = decision_summary(store=copy, now=NOW)
    item = next(p for p in before.pending if p.item_id == latest)
    assert (item.kind, item.who, item.action, item.page) == ("sign_off", "validator", "sign_off",
                                                             "ml_validation")
    assert item.since == next(m.validated_at for m in before.validation.models if m.run_id == latest)
    assert filled["ml_first"].run_id not in {p.item_id for p in before.pending}
    mlw.sign_off(latest, name="Erin Validator", store=copy)
    after = decision_summary(store=copy, now=NOW)
    assert latest not in {p.item_id for p in after.pending}
    assert after.validation.awaiting_signoff == before.validation.awaiting_signoff - 1 == 1


# --------------------------------------------------------------------------- market risk

def test_var_against_its_limits_and_the_change_since_the_previous_evaluation(filled, summary):
    m = summary.market
    first, latest = filled["ev_first"], filled["ev_latest"]
    assert (m.evaluation_id, m.previous_evaluation_id) == (latest.evaluation_id, first.evaluation_id)
    assert m.evaluated_at == T1 and m.mode == "monitoring"
    # the shipped limits: VaR 95% ≤ 65,000, 99% ≤ 180,000, 99.9% ≤ 300,000 (engine/market/data)
    assert [(v.confidence, v.limit) for v in m.var] == [(0.95, 65_000.0), (0.99, 180_000.0),
                                                        (0.999, 300_000.0)]
    for v in m.var:
        key = f"{v.confidence:g}"
        assert v.var == latest.snapshot.var[key] and v.previous_var == first.snapshot.var[key]
        assert v.utilisation == pytest.approx(v.var / v.limit)
        assert v.change == pytest.approx(latest.snapshot.var[key] - first.snapshot.var[key])
        assert v.breached == (v.var > v.limit)
    assert (m.es, m.es_confidence) == (latest.snapshot.es, 0.975)
    assert sorted(b.rule for b in m.open_breaches) == sorted(
        d.rule for d in latest.evaluation.breaches())
    assert m.previous_open_breaches == 0
    tile = summary.tile("market")
    head = max(m.var, key=lambda v: v.utilisation)
    assert (tile.value, tile.text, tile.change) == (head.var, money_short(head.var), head.change)
    assert tile.label.startswith(f"VaR {head.confidence * 100:g}%")
    assert "Enforcement mode: monitoring" in tile.lines
    assert f"Open breaches: {len(m.open_breaches)} (previous evaluation: 0)" in tile.lines


def test_a_false_positive_closes_a_breach_and_the_mode_in_force_is_shown(filled, copy):
    before = decision_summary(store=copy, now=NOW)
    breach = before.market.open_breaches[0]
    item = next(p for p in before.pending if p.item_id == breach.breach_id)
    assert (item.kind, item.who, item.page, item.since) == ("breach", "analyst", "market_risk", T1)
    mw.mark_false_positive(mw.FalsePositiveRequest.build(
        breach_id=breach.breach_id, reason="stale price", confidence=0.9), store=copy)
    mw.set_mode(mw.ModeRequest.build(mode="gradual", reason="sensors ready"), store=copy)
    after = decision_summary(store=copy, now=NOW)
    assert breach.breach_id not in {b.breach_id for b in after.market.open_breaches}
    assert breach.breach_id not in {p.item_id for p in after.pending}
    assert len(after.market.open_breaches) == len(before.market.open_breaches) - 1
    assert after.market.mode == "gradual"
    assert "Enforcement mode: gradual" in after.tile("market").lines


# --------------------------------------------------------------------------- risk desk

def test_desk_accounts_by_risk_level_and_alerts_by_severity(filled, summary):
    store = Store(filled["path"])
    desk = lw.desk(store=store)
    alerts = lw.alerts(store=store).alerts
    d = summary.desk
    assert d.session_id == desk.session.session_id and d.as_of == desk.session.as_of
    assert d.accounts == 3 == len(desk.accounts)
    levels = Counter(desk.accounts["risk_level"])
    assert {k: n for k, n in d.by_risk_level.items() if n} == dict(levels)
    assert d.unacknowledged_alerts == 19 == sum(d.alerts_by_severity.values())
    assert {k: n for k, n in d.alerts_by_severity.items() if n} == dict(
        Counter(a["severity"] for a in alerts))
    assert d.halted == [] and d.reducing == []
    tile = summary.tile("desk")
    assert (tile.value, tile.text, tile.page) == (19.0, "19", "risk_desk")
    assert (tile.as_of, tile.as_of_label) == (desk.session.as_of, "Feed time")
    alert_items = [p for p in summary.pending if p.kind == "alert"]
    assert {p.item_id for p in alert_items} == {a["alert_id"] for a in alerts}
    assert {p.who for p in alert_items} == {"analyst"}
    ranks = [["critical", "warning", "info"].index(p.severity) for p in alert_items]
    assert ranks == sorted(ranks)  # the most severe first


def test_acknowledging_an_alert_removes_it_and_a_kill_switch_shows_halted(copy):
    before = decision_summary(store=copy, now=NOW)
    first = next(p for p in before.pending if p.kind == "alert")
    lw.acknowledge(lw.AckRequest.build(alert_id=first.item_id, by="Ana Lyst"), store=copy)
    lw.kill_switch(lw.KillSwitchRequest.build(account_id="gamma", reason="drawdown", by="Ada Min"),
                   store=copy)
    after = decision_summary(store=copy, now=NOW)
    assert first.item_id not in {p.item_id for p in after.pending}
    assert after.desk.unacknowledged_alerts == before.desk.unacknowledged_alerts - 1 == 18
    assert after.desk.alerts_by_severity[first.severity] == (
        before.desk.alerts_by_severity[first.severity] - 1)
    assert after.desk.halted == ["gamma"]
    assert "Halted: gamma" in after.tile("desk").lines


# --------------------------------------------------------------------------- the whole

def test_pending_list_orders_sign_offs_then_breaches_then_alerts(summary):
    kinds = [p.kind for p in summary.pending]
    assert kinds == sorted(kinds, key=["sign_off", "breach", "alert"].index)
    assert Counter(kinds) == {"sign_off": 2, "breach": len(summary.market.open_breaches),
                              "alert": 19}
    assert {p.page for p in summary.pending} <= set(PAGES.values())
    frame = summary.pending_frame()
    assert list(frame.columns) == ["kind", "who", "what", "since", "page", "item_id", "severity"]
    assert len(frame) == len(summary.pending)


def test_the_summary_is_plain_json_and_reads_back_equal(summary):
    text = json.dumps(summary.model_dump(mode="json"))
    assert DecisionSummary.model_validate_json(text) == summary
    assert summary.generated_at == NOW
