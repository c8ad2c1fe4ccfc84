"""The live desk's workflows on a real store: replay with --until, a kill switch and a resumed
replay against a full replay; resuming never applies a trade twice; a replay killed with SIGKILL
loses nothing stored and resumes; pausing; pacing; acknowledgements survive a new process; the
signed audit trail checks out after a session and catches an edited alert or state; compliance
results stored and hand-checkable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from engine.audit.keys import init_keys
from engine.audit.workflow import verify_audit
from engine.errors import InputError, NotFoundError
from engine.live import workflow as lw
from engine.store import Store, connect
from tests.engine.live._desk import DAYS, UNTIL, trade_frame, write_desk

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def files(tmp_path):
    return write_desk(tmp_path / "inputs")


def _request(files, **extra) -> lw.ReplayRequest:
    return lw.ReplayRequest.build(trades=str(files["trades"]), prices=str(files["prices"]),
                                  accounts=str(files["accounts"]), **extra)


def _rows(store: Store, sql: str, *params) -> list[tuple]:
    with store.read() as con:
        return con.execute(sql, list(params)).fetchall()


def _positions(store: Store, account: str) -> list[tuple]:
    return _rows(store, "SELECT instrument, quantity, avg_cost, realized_pl FROM live_positions"
                        " WHERE account_id = ? ORDER BY instrument", account)


def _trades(store: Store, account: str) -> list[tuple]:
    return _rows(store, "SELECT trade_id, traded_at, quantity, price, fees, status, realized_pl,"
                        " event_index FROM live_trades WHERE account_id = ? ORDER BY event_index",
                 account)


def _history(store: Store, account: str) -> list[tuple]:
    return _rows(store, "SELECT p.event_index, p.event_at, p.total_pl, p.daily_pl, p.equity,"
                        " r.risk_score, r.risk FROM live_pl_history p JOIN live_risk_snapshots r"
                        " USING (session_id, account_id, event_index) WHERE p.account_id = ?"
                        " ORDER BY p.event_index", account)


def _alerts(store: Store, account: str) -> list[tuple]:
    return _rows(store, "SELECT alert_id, alert_type, severity, triggered_at, escalated_at,"
                        " risk_score FROM live_alerts WHERE account_id = ? ORDER BY alert_id",
                 account)


def test_a_kill_switch_freezes_the_account_while_the_others_match_a_full_replay(files, tmp_path):
    full, desk = Store(tmp_path / "full.duckdb"), Store(tmp_path / "desk.duckdb")
    whole = lw.replay(_request(files), store=full)
    assert whole.status == "finished" and whole.trades_rejected == 0

    first = lw.replay(_request(files, until=UNTIL), store=desk)
    assert (first.status, first.resumed) == ("until", False)
    assert first.as_of == (DAYS[20] + pd.Timedelta(hours=21)).to_pydatetime()
    at_kill = _positions(desk, "b")
    assert [(i, q) for i, q, *_ in at_kill] == [("BBB", -500.0)]  # 10 x +100, 10 x -150
    halted = lw.kill_switch(lw.KillSwitchRequest.build(account_id="b", reason="limit review",
                                                       by="Ann Lee"), store=desk)
    assert (halted.old_state, halted.new_state) == ("ACTIVE", "HALTED")

    second = lw.replay(_request(files), store=desk)
    assert (second.status, second.resumed) == ("finished", True)
    assert second.trades_rejected == 19  # b's trades of days 21 … 39
    assert _positions(desk, "b") == at_kill
    b = _trades(desk, "b")
    cut = pd.Timestamp(UNTIL).tz_localize(None)
    assert {t[5] for t in b if t[1] <= cut} == {"applied"}
    rejected = [t for t in b if t[1] > cut]
    assert [t[0] for t in rejected] == [f"B{k:02d}" for k in range(21, 40)]
    assert {t[5] for t in rejected} == {"rejected"}
    assert _rows(desk, "SELECT DISTINCT trading_state, reason LIKE '%HALTED%' FROM live_trades"
                       " WHERE status = 'rejected'") == [("HALTED", True)]
    for account in ("a", "c"):
        assert _positions(desk, account) == _positions(full, account)
        assert _trades(desk, account) == _trades(full, account)
        assert _history(desk, account) == _history(full, account)
        assert _alerts(desk, account) == _alerts(full, account)
    status = lw.status("b", store=desk)
    assert status.risk.trading_state == "HALTED"
    assert status.as_of == (DAYS[39] + pd.Timedelta(hours=21)).to_pydatetime()


def test_a_kill_switch_during_a_replay_takes_effect_at_the_next_batch(files, tmp_path):
    store = Store(tmp_path / "desk.duckdb")
    cursor_at_kill: list[int] = []

    def kill_once(p: lw.ReplayProgress) -> None:
        if not cursor_at_kill:  # the batch after this one was computed under ACTIVE states
            lw.kill_switch(lw.KillSwitchRequest.build(account_id="b", reason="live", by="Ann"),
                           store=store)
            cursor_at_kill.append(p.events_done)

    result = lw.replay(_request(files, batch_events=30), store=store, progress=kill_once)
    assert result.status == "finished" and 30 <= cursor_at_kill[0] < result.events_total
    b = _rows(store, "SELECT event_index, status FROM live_trades WHERE account_id = 'b'"
                     " ORDER BY event_index")
    assert {s for k, s in b if k < cursor_at_kill[0]} == {"applied"}
    assert {s for k, s in b if k >= cursor_at_kill[0]} == {"rejected"}
    assert result.trades_rejected == sum(k >= cursor_at_kill[0] for k, _ in b)


def test_resuming_never_applies_a_trade_twice(files, tmp_path):
    full, desk = Store(tmp_path / "full.duckdb"), Store(tmp_path / "desk.duckdb")
    lw.replay(_request(files), store=full)
    lw.replay(_request(files, until=UNTIL), store=desk)
    lw.replay(_request(files, until=UNTIL), store=desk)  # nothing left before UNTIL
    lw.replay(_request(files), store=desk)
    again = lw.replay(_request(files), store=desk)
    assert (again.status, again.events_processed, again.run_id) == ("finished", 0, None)
    n = len(trade_frame())
    assert _rows(desk, "SELECT count(*), count(DISTINCT trade_id) FROM live_trades") == [(n, n)]
    for account in ("a", "b", "c"):
        assert _positions(desk, account) == _positions(full, account)
        assert _history(desk, account) == _history(full, account)


def test_two_replays_of_one_session_at_once_never_apply_a_trade_twice(files, tmp_path):
    store = Store(tmp_path / "desk.duckdb")
    inner: list[lw.ReplayResult] = []

    def meanwhile(p: lw.ReplayProgress) -> None:
        if not inner:  # after the outer replay's first batch, another replay runs to the end
            inner.append(lw.replay(_request(files), store=store))

    with pytest.raises(InputError, match="another replay of the same inputs is running"):
        lw.replay(_request(files, batch_events=25), store=store, progress=meanwhile)
    assert inner[0].resumed and inner[0].status == "finished"
    n = len(trade_frame())
    assert _rows(store, "SELECT count(*), count(DISTINCT trade_id) FROM live_trades") == [(n, n)]
    full = Store(tmp_path / "full.duckdb")
    lw.replay(_request(files), store=full)
    for account in ("a", "b", "c"):
        assert _positions(store, account) == _positions(full, account)


def _session(store: Store) -> tuple[int, int, str] | None:
    rows = _rows(store, "SELECT cursor, events_total, status FROM live_sessions")
    return rows[0] if rows else None


def test_a_replay_killed_with_sigkill_loses_nothing_stored_and_resumes(files, tmp_path):
    db = tmp_path / "desk.duckdb"
    env = {**os.environ, "STRESSLAB_DB": str(db)}
    # 40 business days (56 calendar days) at 8 days a second: about 7 s
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "live", "replay", "--trades", str(files["trades"]),
         "--prices", str(files["prices"]), "--accounts", str(files["accounts"]),
         "--speed", str(8 * 86_400)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    store = Store(db, timeout=30)
    deadline = time.monotonic() + 120
    try:
        while True:
            found = _session(store) if db.exists() else None
            if found and found[0] >= 40:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the replay did not start"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    cursor, total, status = _session(store)
    assert 40 <= cursor < total and status == "running"

    # nothing half-written: the stored trades are exactly those before the cursor, and the
    # stored book is the book of a replay stopped at the cursor's time
    stored_trades = _rows(store, "SELECT count(*), max(event_index) FROM live_trades")[0]
    at = _rows(store, "SELECT cursor_at FROM live_sessions")[0][0]
    partial = Store(tmp_path / "partial.duckdb")
    cut = lw.replay(_request(files, until=at), store=partial)
    assert cut.events_done == cursor
    assert stored_trades == _rows(partial, "SELECT count(*), max(event_index) FROM live_trades")[0]
    for account in ("a", "b", "c"):
        assert _positions(store, account) == _positions(partial, account)

    resumed = lw.replay(_request(files), store=store)
    assert resumed.resumed and resumed.status == "finished"
    assert resumed.events_processed == total - cursor
    full = Store(tmp_path / "full.duckdb")
    lw.replay(_request(files), store=full)
    for account in ("a", "b", "c"):
        assert _positions(store, account) == _positions(full, account)
        assert _trades(store, account) == _trades(full, account)
        assert _history(store, account) == _history(full, account)
        assert _alerts(store, account) == _alerts(full, account)
    assert verify_audit(store=store).ok


def test_a_paused_replay_goes_on_where_it_stopped(files, tmp_path):
    store = Store(tmp_path / "desk.duckdb")
    stop = threading.Event()
    seen: list[lw.ReplayProgress] = []

    def progress(p: lw.ReplayProgress) -> None:
        seen.append(p)
        stop.set()  # pause after the first stored batch

    paused = lw.replay(_request(files, batch_events=25), store=store, progress=progress, stop=stop)
    assert paused.status == "paused" and 25 <= paused.events_done < paused.events_total
    assert seen[0].status == "running" and seen[-1].status == "paused"
    assert _rows(store, "SELECT status, cursor FROM live_sessions") == [("paused",
                                                                        paused.events_done)]
    rest = lw.replay(_request(files, batch_events=25), store=store)
    assert rest.status == "finished"
    assert rest.events_processed == paused.events_total - paused.events_done
    full = Store(tmp_path / "full.duckdb")
    lw.replay(_request(files), store=full)
    for account in ("a", "b", "c"):
        assert _history(store, account) == _history(full, account)


def test_a_paced_replay_waits_for_each_event_time(files, tmp_path):
    store = Store(tmp_path / "desk.duckdb")
    statuses: list[str] = []
    started = time.monotonic()
    # 56 calendar days at 200 days a second: at least 0.25 s of waiting
    result = lw.replay(_request(files, speed=200 * 86_400), store=store,
                       progress=lambda p: statuses.append(p.status))
    assert result.status == "finished"
    assert "waiting" in statuses and statuses[-1] == "finished"
    assert time.monotonic() - started >= (DAYS[-1] - DAYS[0]).days / 200 * 0.9


def test_acknowledgements_survive_a_new_process(files, tmp_path):
    db = tmp_path / "desk.duckdb"
    store = Store(db)
    lw.replay(_request(files), store=store)
    alert = lw.alerts(store=store).alerts[0]
    env = {**os.environ, "STRESSLAB_DB": str(db)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    acked = cli("live", "ack", alert["alert_id"], "--by", "Ann Lee", "--note", "seen, watching")
    assert acked.returncode == 0, acked.stderr
    listed = cli("live", "alerts", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = [a for a in json.loads(listed.stdout) if a["alert_id"] == alert["alert_id"]]
    assert len(mine) == 1
    assert (mine[0]["is_acknowledged"], mine[0]["acknowledged_by"], mine[0]["ack_note"]) == \
        (True, "Ann Lee", "seen, watching")
    assert mine[0]["acknowledged_at"] is not None
    open_ = cli("live", "alerts", "--json")
    assert alert["alert_id"] not in {a["alert_id"] for a in json.loads(open_.stdout)}
    twice = cli("live", "ack", alert["alert_id"], "--by", "Bo")
    assert twice.returncode == 2 and "already acknowledged by Ann Lee" in twice.stderr
    record = [r for r in _rows(store, "SELECT event_type, payload FROM audit_chain")
              if r[0] == "live_alert_ack"]
    assert len(record) == 1 and json.loads(record[0][1])["by"] == "Ann Lee"


def test_the_audit_trail_checks_out_after_a_session_and_catches_edits(files, tmp_path):
    init_keys()
    db = tmp_path / "desk.duckdb"
    store = Store(db)
    lw.replay(_request(files, until=UNTIL), store=store)
    lw.kill_switch(lw.KillSwitchRequest.build(account_id="a", reason="review", by="Ann"),
                   store=store)
    alert_id = lw.alerts(store=store).alerts[0]["alert_id"]
    lw.acknowledge(lw.AckRequest.build(alert_id=alert_id, by="Ann", note="ok"), store=store)
    lw.replay(_request(files), store=store)
    lw.resume(lw.ResumeRequest.build(account_id="a", by="Bo"), store=store)
    lw.compliance_check(lw.ComplianceRequest.build(account_id="c"), store=store)
    trail = verify_audit(store=store)
    assert trail.ok and trail.signed, trail.to_text()
    events = [r[0] for r in _rows(store, "SELECT event_type FROM audit_chain ORDER BY seq")]
    assert events.count("live_state_change") == 2 and events.count("live_alert_ack") == 1
    assert events.count("live_compliance_check") == 1 and "live_alerts" in events
    assert events.count("run") == 3  # two replays and the compliance check

    for sql, table in [("UPDATE live_alerts SET ack_note = 'edited' WHERE alert_id = ?",
                        "live_alerts"),
                       ("UPDATE live_trading_state SET state = 'HALTED'", "live_trading_state"),
                       ("DELETE FROM live_compliance_results WHERE rule_id LIKE 'finra%'",
                        "live_compliance_results")]:
        con = connect(db)
        try:
            con.execute(sql, [alert_id] if "?" in sql else [])
        finally:
            con.close()
        found = verify_audit(store=store)
        assert not found.ok and any(table in p.message for p in found.problems), table


def test_compliance_results_are_stored_and_hand_checkable(files, tmp_path):
    store = Store(tmp_path / "desk.duckdb")
    lw.replay(_request(files, until=UNTIL), store=store)
    done = lw.compliance_check(lw.ComplianceRequest.build(
        account_id="c", regulations=("finra", "sec", "custom", "cftc")), store=store)
    r = {x.rule_id: x for x in done.report.results}
    # c bought 50 CCC on days 3, 6, …, 18 at 20 (fees 0.5 each); CCC closes at 20 on day 20:
    # exposure 300 x 20 = 6,000; equity 100,000 - 3 = 99,997
    assert r["finra.maintenance_margin"].value == pytest.approx(99_997 / 6_000, rel=1e-12)
    assert r["finra.reg_t_initial_margin"].status == "compliant"
    conc = r["custom.single_name_concentration"]
    assert (conc.status, conc.value, conc.instrument) == ("non_compliant", 1.0, "CCC")
    assert r["sec.large_trader_day"].value == 0.0  # no trade of c on day 20
    assert r["sec.large_trader_month"].value == 6_000.0  # January: 300 units at 20
    assert (r["cftc.sp500_reporting_level"].status, r["cftc.sp500_reporting_level"].value) == \
        ("compliant", 0.0)
    assert not done.report.compliant and done.report.non_compliant == 1
    view = lw.compliance_results("c", store=store)
    assert view.check["check_id"] == done.check_id and view.check["compliant"] is False
    assert list(view.results["rule_id"]) == list(r)
    assert verify_audit(store=store).ok
    with pytest.raises(InputError, match="no compliance rules for basel; the rules file has"):
        lw.compliance_check(lw.ComplianceRequest.build(account_id="c", regulations=("basel",)),
                            store=store)
    with pytest.raises(NotFoundError, match="no replay holds account 'zz'"):
        lw.compliance_check(lw.ComplianceRequest.build(account_id="zz"), store=store)


def test_state_changes_are_refused_when_they_change_nothing(files, tmp_path):
    store = Store(tmp_path / "desk.duckdb")
    with pytest.raises(NotFoundError, match="no replay holds account 'a'"):
        lw.kill_switch(lw.KillSwitchRequest.build(account_id="a", reason="x", by="Ann"),
                       store=store)
    lw.replay(_request(files, until=UNTIL), store=store)
    with pytest.raises(InputError, match="account a is already ACTIVE"):
        lw.resume(lw.ResumeRequest.build(account_id="a", by="Ann"), store=store)
    lw.kill_switch(lw.KillSwitchRequest.build(account_id="a", reason="x", by="Ann",
                                              state="REDUCING"), store=store)
    assert lw.desk(store=store).accounts.set_index("account_id").loc["a", "trading_state"] == \
        "REDUCING"
    lw.kill_switch(lw.KillSwitchRequest.build(account_id="a", reason="worse", by="Ann"),
                   store=store)
    with pytest.raises(InputError, match="account a is already HALTED"):
        lw.kill_switch(lw.KillSwitchRequest.build(account_id="a", reason="x", by="Bo"),
                       store=store)
    changes = _rows(store, "SELECT old_state, new_state, action, changed_by FROM "
                           "live_state_changes ORDER BY changed_at")
    assert changes == [("ACTIVE", "REDUCING", "reduce_only", "Ann"),
                       ("REDUCING", "HALTED", "kill_switch", "Ann")]


def test_the_desk_view_and_history_for_the_page(files, tmp_path):
    store = Store(tmp_path / "desk.duckdb")
    assert lw.desk(store=store).session is None
    lw.replay(_request(files), store=store)
    view = lw.desk(store=store)
    assert view.session.fraction == 1.0 and view.session.trades_applied == len(trade_frame())
    assert list(view.accounts["account_id"]) == ["a", "b", "c"]
    assert set(view.accounts.columns) >= {"risk_score", "risk_level", "total_exposure",
                                          "current_leverage", "margin_utilization", "var_95",
                                          "total_pl", "daily_pl", "trading_state"}
    hist = lw.history("a", store=store)
    assert hist["event_at"].is_monotonic_increasing and len(hist) > 40
    assert list(lw.history("a", limit=5, store=store)["event_index"]) == \
        list(hist["event_index"].iloc[-5:])
    status = lw.status("a", store=store)
    last = hist.iloc[-1]
    assert status.pl.total_pl == pytest.approx(last["total_pl"], abs=1e-9)
    assert status.portfolio.total_value == pytest.approx(last["equity"], abs=1e-9)
