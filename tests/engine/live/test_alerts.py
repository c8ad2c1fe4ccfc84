"""Alert rules: what raises, de-duplication of persisting conditions, trends and escalation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.live import (
    COMPONENTS,
    AccountRisk,
    AlertConfig,
    AlertState,
    Breach,
    escalate,
    evaluate_alerts,
    risk_level,
)

T0 = datetime(2024, 1, 2, 10, 0, tzinfo=timezone.utc)
LEVERAGE = Breach(limit="max_leverage", value=35.0, threshold=30.0)
LOSS = Breach(limit="max_daily_loss", value=1_500.0, threshold=1_000.0)


def risk(score: float = 10.0, *breaches: Breach) -> AccountRisk:
    return AccountRisk(risk_score=score, risk_level=risk_level(score), total_exposure=0.0,
                       current_leverage=0.0, margin_utilization=0.0, var_95=None,
                       correlation_risk=None, instrument_count=0,
                       risk_limit_breaches=list(breaches),
                       risk_components={k: 0.0 for k in COMPONENTS}, trading_state="ACTIVE")


def updates(*risks: AccountRisk, config: AlertConfig | None = None) -> list[list]:
    """Feed the updates one minute apart; the alerts each raised, as (key, severity)."""
    state, out = AlertState(), []
    for k, r in enumerate(risks):
        state, alerts = evaluate_alerts(state, account_id="a0", risk=r,
                                        at=T0 + timedelta(minutes=k), config=config)
        out.append([(a.key, a.severity) for a in alerts])
    return out


def test_a_persisting_breach_is_raised_once_and_again_after_it_clears():
    assert updates(risk(10, LEVERAGE), risk(10, LEVERAGE), risk(10), risk(10, LEVERAGE)) == [
        [("limit_breach:max_leverage", "warning")], [], [],
        [("limit_breach:max_leverage", "warning")]]


def test_a_new_breach_is_raised_while_another_persists():
    assert updates(risk(10, LEVERAGE), risk(10, LEVERAGE, LOSS)) == [
        [("limit_breach:max_leverage", "warning")], [("limit_breach:max_daily_loss", "critical")]]


def test_position_breaches_are_per_instrument():
    a = Breach(limit="max_position_size", value=2.0, threshold=1.0, instrument="A")
    b = Breach(limit="max_position_size", value=2.0, threshold=1.0, instrument="B")
    assert updates(risk(10, a), risk(10, a, b)) == [
        [("limit_breach:max_position_size:A", "warning")],
        [("limit_breach:max_position_size:B", "warning")]]


def test_risk_level_crossings_raise_on_the_way_up_only():
    # low -> high (one alert, for the level reached) -> critical -> high (nothing) -> critical
    assert updates(risk(10), risk(55), risk(80), risk(60), risk(90), risk(30), risk(40)) == [
        [], [("risk_level:high", "warning")], [("risk_level:critical", "critical")], [],
        [("risk_level:critical", "critical")], [], []]


def test_medium_is_info():
    assert updates(risk(30)) == [[("risk_level:medium", "info")]]


def test_a_rising_trend_over_n_updates():
    cfg = AlertConfig(trend_updates=3)
    # 10 < 11 < 12 < 13: three rises at the 4th update; it persists at 14, clears at 13.5,
    # and 14, 15, 16 make three rises again (13.5 < 14 < 15 < 16)
    got = updates(*(risk(s) for s in (10, 11, 12, 13, 14, 13.5, 14, 15, 16)), config=cfg)
    assert got == [[], [], [], [("risk_trend", "warning")], [], [], [], [],
                   [("risk_trend", "warning")]]


def test_a_flat_score_is_not_a_trend():
    assert updates(*(risk(12) for _ in range(8))) == [[]] * 8


def test_alert_fields_and_deterministic_ids():
    state, (alert,) = evaluate_alerts(AlertState(), account_id="a0", risk=risk(10, LOSS), at=T0)
    assert (alert.account_id, alert.alert_type, alert.severity) == ("a0", "limit_breach", "critical")
    assert alert.title == "Daily loss limit breached"
    assert alert.message == "max_daily_loss: 1,500.00 is above the limit of 1,000.00"
    assert (alert.risk_score, alert.triggered_at, alert.is_acknowledged) == (10.0, T0, False)
    assert alert.escalated_at is None
    _, (again,) = evaluate_alerts(AlertState(), account_id="a0", risk=risk(10, LOSS), at=T0)
    assert again.alert_id == alert.alert_id and len(alert.alert_id) == 16
    _, (later,) = evaluate_alerts(AlertState(), account_id="a0", risk=risk(10, LOSS),
                                  at=T0 + timedelta(seconds=1))
    assert later.alert_id != alert.alert_id
    assert state.active == {"limit_breach:max_daily_loss"}


def test_escalation_after_the_configured_time():
    _, alerts = evaluate_alerts(AlertState(), account_id="a0", risk=risk(60, LEVERAGE, LOSS),
                                at=T0)
    by_key = {a.key: a for a in alerts}
    assert {a.severity for a in alerts} == {"warning", "critical"}
    cfg = AlertConfig(escalate_after=timedelta(minutes=10))
    assert escalate(alerts, now=T0 + timedelta(minutes=9, seconds=59), config=cfg) == []
    now = T0 + timedelta(minutes=10)
    up = {a.key: a for a in escalate(alerts, now=now, config=cfg)}
    # the warnings (leverage breach, risk level high) become critical; the critical loss alert
    # keeps its severity; all are marked escalated
    assert {k: a.severity for k, a in up.items()} == {
        "limit_breach:max_leverage": "critical", "limit_breach:max_daily_loss": "critical",
        "risk_level:high": "critical"}
    assert all(a.escalated_at == now for a in up.values())
    assert by_key["limit_breach:max_leverage"].severity == "warning"  # the input is unchanged


def test_acknowledged_info_and_already_escalated_alerts_do_not_escalate():
    _, (info,) = evaluate_alerts(AlertState(), account_id="a0", risk=risk(30), at=T0)
    _, (loss,) = evaluate_alerts(AlertState(), account_id="a0", risk=risk(10, LOSS), at=T0)
    acked = loss.model_copy(update={"is_acknowledged": True})
    done = loss.model_copy(update={"escalated_at": T0 + timedelta(hours=1)})
    later = T0 + timedelta(days=1)
    assert escalate([info, acked, done], now=later) == []
    assert [a.key for a in escalate([loss], now=later)] == ["limit_breach:max_daily_loss"]


def test_the_default_escalation_time_is_15_minutes():
    assert AlertConfig().escalate_after == timedelta(minutes=15)
    with pytest.raises(ValueError):
        AlertConfig(escalate_after=timedelta(0))
