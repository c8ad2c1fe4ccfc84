"""The market workflows: requests, what each action stores (and what it does not), atomicity, and
the stored configuration that rebuilds a run's request."""

from __future__ import annotations

import json

import urllib.request
from datetime import date, datetime, timedelta

import numpy as np
import pytest
import yaml

from engine.audit.chain import iter_records, verify
from engine.audit.runs import stored_request
from engine.errors import InputError, NotFoundError, StoreError, ValidationError
from engine.market import workflow as mw
from engine.market.var import historical_var
from engine.store import Store, connect

T0 = datetime(2024, 1, 1, 9, 0)


@pytest.fixture()
def store(tmp_path):
    return Store(tmp_path / "market.duckdb", timeout=5)


@pytest.fixture()
def prices_file(small_prices):
    return mw.DataFile(name="prices.csv", content=small_prices.to_csv())


@pytest.fixture()
def positions_file(small_positions):
    return mw.DataFile(name="positions.csv", content=small_positions.to_csv(index=False))


@pytest.fixture()
def breaching_limits(small_config):
    """The short-window limits with a 99 % VaR limit of 1 (always breached; action throttle)."""
    data = small_config.model_dump()
    data["limits"]["var"] = [{"confidence": 0.99, "max": 1.0, "action": "throttle"}]
    return mw.DataFile(name="limits.yaml", content=yaml.safe_dump(data))


@pytest.fixture()
def limits_request(prices_file, positions_file, breaching_limits):
    return mw.LimitsRequest.build(limits=breaching_limits, prices=prices_file,
                                  positions=positions_file)


def _rows(store, sql, params=()):
    with store.read() as con:
        return con.execute(sql, list(params)).fetchall()


# --------------------------------------------------------------------------- requests

@pytest.mark.parametrize(("model", "fields", "column"), [
    (mw.VaRRequest, {"confidences": (0.99, 1.5)}, "confidences.1"),
    (mw.VaRRequest, {"horizon": 0}, "horizon"),
    (mw.VaRRequest, {"methods": ("historical", "guess")}, "methods.1"),
    (mw.VaRRequest, {"notional": float("nan")}, "notional"),
    (mw.VaRRequest, {"surprise": 1}, "surprise"),
    (mw.BacktestRequest, {"window": 1}, "window"),
    (mw.LimitsRequest, {"mode": "chaos"}, "mode"),
    (mw.ModeRequest, {"mode": "full", "reason": "  "}, "reason"),
    (mw.FalsePositiveRequest, {"breach_id": "b", "reason": "r", "confidence": 1.5}, "confidence"),
])
def test_bad_request_fields_are_engine_validation_errors(model, fields, column):
    with pytest.raises(ValidationError) as info:
        model.build(**fields)
    assert column in [i.column for i in info.value.issues]


def test_a_request_names_at_most_one_series(prices_file, positions_file):
    with pytest.raises(ValidationError, match="at most one of"):
        mw.VaRRequest.build(positions=positions_file, column="A")
    with pytest.raises(ValidationError, match="at most one of"):
        mw.BacktestRequest.build(column="A", portfolio=True)


def test_a_stress_window_ending_before_it_starts_is_a_validation_error():
    with pytest.raises(ValidationError, match="stress replay request") as info:
        mw.StressRequest.build(windows=[{"name": "w", "start": "2022-03-01", "end": "2022-01-01"}])
    assert "must precede end" in info.value.issues[0].rule


def test_requests_are_frozen():
    request = mw.VaRRequest.build()
    with pytest.raises(Exception):  # pydantic's frozen-instance error
        request.window = 5  # type: ignore[misc]


def test_data_file_reads_latin1_and_utf16_and_refuses_binary(tmp_path):
    latin = mw.DataFile.from_bytes("limit,owner\nvar,Zo\u00eb\n".encode("latin-1"), name="latin.csv")
    assert latin.content == "limit,owner\nvar,Zo\u00eb\n"
    utf16 = mw.DataFile.from_bytes("limit,owner\nvar,Zo\u00eb\n".encode("utf-16"), name="u16.csv")
    assert utf16.content == latin.content
    with pytest.raises(InputError, match="offset"):
        mw.DataFile.from_bytes(b"date,A\n2024-01-01,\x00\x01\n", name="binary.csv")
    with pytest.raises(InputError, match="file not found"):
        mw.DataFile.from_path(str(tmp_path / "missing.csv"), what="price file")
    bom = mw.DataFile.from_bytes("\ufeffdate,A\n".encode(), name="bom.csv")
    assert bom.content == "date,A\n"


# --------------------------------------------------------------------------- VaR, backtest, stress

def test_var_report_of_one_column_is_the_historical_rule(store, prices_file, small_prices):
    request = mw.VaRRequest.build(prices=prices_file, column="A", window=100,
                                  confidences=(0.99,), methods=("historical",), notional=1000.0)
    run = mw.var_report(request, store=store)
    p = small_prices["A"].to_numpy()
    losses = -(p[1:] / p[:-1] - 1.0)[-100:] * 1000.0
    # 100 losses at 99 %: the 99th smallest, i.e. the second largest.
    assert run.report.value("historical", measure="VaR", confidence=0.99) == pytest.approx(
        np.sort(losses)[98])
    assert run.report.value("historical", measure="VaR", confidence=0.99) == pytest.approx(
        historical_var(losses, 0.99))
    assert run.run_id is None
    assert not store.path.exists()  # computing without recording never opens the store


def test_var_report_recorded_is_one_market_run_whose_request_comes_back(store, prices_file,
                                                                       positions_file):
    request = mw.VaRRequest.build(prices=prices_file, positions=positions_file, window=250,
                                  record=True)
    run = mw.var_report(request, store=store)
    assert run.run_id.startswith("market-")
    rows = _rows(store, "SELECT kind, status, summary, pool_name FROM runs")
    value = run.report.value("historical", measure="VaR", confidence=0.99)
    assert rows == [("market", "success", f"VaR 99 % (historical) {value:,.0f} on "
                     f"{run.report.as_of}", "VaR report")]
    assert run.summary == rows[0][2]
    with store.read() as con:
        assert stored_request(con, run_id=run.run_id, model=mw.VaRRequest,
                              kind="market") == request


def test_var_window_longer_than_the_history_is_an_input_error(prices_file):
    with pytest.raises(InputError, match="longer than the history"):
        mw.var_report(mw.VaRRequest.build(prices=prices_file, column="A", window=5000))


def test_backtest_recorded_with_its_summary(store, prices_file):
    request = mw.BacktestRequest.build(prices=prices_file, column="A", window=100, record=True)
    run = mw.backtest(request, store=store)
    r = run.result
    assert r.observations == 399 - 100 and run.unit == "fraction of value"
    assert run.summary == (f"backtest historical VaR 99 % on A: {r.exceptions} exceptions in "
                           f"{r.observations} days ({r.traffic_light})")
    assert _rows(store, "SELECT run_id, summary FROM runs") == [(run.run_id, run.summary)]
    assert list(run.to_frame().columns) == ["loss", "VaR", "exception"]


def test_backtest_of_the_positions_portfolio_is_in_currency(prices_file, positions_file):
    run = mw.backtest(mw.BacktestRequest.build(prices=prices_file, positions=positions_file,
                                               window=100))
    assert run.unit == "currency" and run.run_id is None
    assert run.series["loss"].abs().max() > 1.0  # currency, not a fraction


def test_stress_replay_refuses_a_user_window_outside_the_prices(prices_file, positions_file):
    request = mw.StressRequest.build(prices=prices_file, positions=positions_file,
                                     windows=[{"name": "w", "start": "2030-01-01",
                                               "end": "2030-02-01"}])
    with pytest.raises(InputError, match="has no prices"):
        mw.stress_replay(request)
    inside = mw.stress_replay(mw.StressRequest.build(
        prices=prices_file, positions=positions_file,
        windows=[{"name": "w", "start": "2020-02-03", "end": "2020-03-02"}]))
    # The 2020 crash lies inside these prices, the 2008 crisis does not (skipped).
    assert inside.to_frame()["name"].tolist() == ["2020 crash", "w"]


def test_load_inputs_describes_the_files(prices_file, positions_file, small_prices):
    inputs = mw.load_inputs(mw.InputsRequest.build(prices=prices_file, positions=positions_file))
    assert inputs.instruments == ("A", "B", "C") and inputs.positions == 3
    assert inputs.first_date == small_prices.index[0].date() and inputs.days == 400
    with pytest.raises(ValidationError, match="default positions"):
        mw.load_inputs(mw.InputsRequest.build(prices=prices_file))  # shipped positions: no A


# --------------------------------------------------------------------------- limits

def test_evaluate_limits_stores_evaluation_audit_and_one_run_together(store, limits_request):
    recorded = mw.evaluate_limits(limits_request, store=store, now=T0)
    ev = recorded.evaluation
    assert ev.action == "warn" and ev.mode == "monitoring"  # the limits file's mode
    assert _rows(store, "SELECT evaluation_id, evaluated_at FROM market_evaluations") == [
        (recorded.evaluation_id, T0)]
    runs = _rows(store, "SELECT run_id, kind, status, summary, started_at FROM runs")
    assert runs == [(recorded.evaluation_id, "market", "success",
                     "limit evaluation (monitoring mode): warn", T0)]
    with store.read() as con:
        types = [r.event_type for r in iter_records(con)]
        assert verify(con).ok
        assert stored_request(con, run_id=recorded.run_id, model=mw.LimitsRequest,
                              kind="market") == limits_request
    assert types[0] == "evaluation" and types.count("breach") == len(ev.breaches()) >= 1
    assert recorded.audit_seq == 1


def test_evaluate_limits_stores_nothing_when_the_runs_row_fails(store, limits_request,
                                                                monkeypatch):
    def refuse(con, row):
        raise StoreError("the runs table refused the row")

    monkeypatch.setattr(mw, "insert_run", refuse)
    with pytest.raises(StoreError, match="refused"):
        mw.evaluate_limits(limits_request, store=store, now=T0)
    for table in ("market_evaluations", "market_breaches", "audit_chain", "runs"):
        assert _rows(store, f"SELECT count(*) FROM {table}") == [(0,)], table


def test_bad_limits_file_stores_nothing(store, prices_file):
    bad = mw.DataFile(name="bad.yaml", content="mode: full\n\tlimits: 1\n")
    with pytest.raises(InputError, match="malformed YAML"):
        mw.evaluate_limits(mw.LimitsRequest.build(limits=bad, prices=prices_file), store=store)
    assert not store.path.exists()


def test_evaluation_follows_the_stored_mode_unless_overridden(store, limits_request):
    changed = mw.set_mode(mw.ModeRequest.build(mode="full", reason="go live"), store=store,
                          now=T0)
    assert (changed.previous_mode, changed.mode, changed.audit_seq) == ("monitoring", "full", 1)
    assert mw.current_mode(store=store) == "full"
    full = mw.evaluate_limits(limits_request, store=store, now=T0 + timedelta(minutes=1))
    assert full.evaluation.mode == "full" and full.evaluation.action == "throttle"
    monitored = mw.evaluate_limits(limits_request.model_copy(update={"mode": "monitoring"}),
                                   store=store, now=T0 + timedelta(minutes=2))
    assert monitored.evaluation.mode == "monitoring" and monitored.evaluation.action == "warn"
    assert monitored.summary == "limit evaluation (monitoring mode): warn"


def test_false_positive_and_market_state(store, limits_request, breaching_limits):
    mw.evaluate_limits(limits_request, store=store, now=T0)
    config = mw.load_inputs(mw.InputsRequest.build(limits=breaching_limits)).limits
    state = mw.market_state(config=config, store=store, now=T0 + timedelta(days=14))
    assert state.mode == "monitoring" and len(state.evaluations) == 1
    status = {s.sensor: s for s in state.statuses}
    assert status["var_breach"].status == "READY" and status["var_breach"].breaches == 1
    bid = state.breaches.query("sensor == 'var_breach'")["breach_id"].iloc[0]
    fp = mw.mark_false_positive(mw.FalsePositiveRequest.build(
        breach_id=bid, reason="stale price", confidence=0.9).asked_by("ana"), store=store,
        now=T0 + timedelta(days=1))
    assert fp.sensor == "var_breach"
    mw.set_mode(mw.ModeRequest.build(mode="gradual", reason="pilot").asked_by("ada"),
                store=store, now=T0 + timedelta(days=2))
    with store.read() as con:  # who marked it and who switched the mode are in the signed trail
        payloads = {e: json.loads(p) for e, p in con.execute(
            "SELECT event_type, payload FROM audit_chain WHERE event_type IN "
            "('false_positive', 'mode_change')").fetchall()}
    assert payloads["false_positive"]["by"] == "ana" and payloads["mode_change"]["by"] == "ada"
    after = mw.market_state(config=config, store=store, now=T0 + timedelta(days=14))
    assert after.breaches.set_index("breach_id").loc[bid, "false_positive"]
    rate = {s.sensor: s for s in after.statuses}["var_breach"].false_positive_rate_per_week
    assert rate == pytest.approx(0.5)  # one false positive over two weeks observed
    assert list(after.sensors_frame().columns)[:2] == ["sensor", "status"]
    with pytest.raises(NotFoundError):
        mw.mark_false_positive(mw.FalsePositiveRequest.build(
            breach_id="nope", reason="x", confidence=0.5), store=store)


def test_metrics_read_the_store_and_serve_reads_it_per_scrape(store, limits_request):
    figs = mw.market_metrics(store=store, now=T0)
    assert [s.name for s in figs.samples][-1] == "stresslab_market_evaluations"
    server = mw.serve_metrics(port=0, store=store)
    httpd = server[0] if isinstance(server, tuple) else server
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/metrics"
        first = urllib.request.urlopen(url).read().decode()
        assert "stresslab_market_evaluations_total 0.0" in first
        # The server holds nothing between scrapes: a write goes through at once.
        mw.evaluate_limits(limits_request, store=store, now=T0)
        text = urllib.request.urlopen(url).read().decode()
        assert "stresslab_market_evaluations_total 1.0" in text
        assert 'stresslab_market_var{confidence="0.99"}' in text
    finally:
        httpd.shutdown()
    assert mw.metrics_exposition(store=store).count("stresslab_market_evaluations_total 1.0") == 1
    assert len(mw.metric_samples(store=store)) > 1


def test_a_stored_run_of_another_version_is_a_store_error(store, limits_request):
    recorded = mw.evaluate_limits(limits_request, store=store, now=T0)
    con = connect(store.path)
    con.execute("UPDATE runs SET configuration = '{\"window\": 3}' WHERE run_id = ?",
                [recorded.run_id])
    con.close()
    with store.read() as con, pytest.raises(StoreError, match="cannot read"):
        stored_request(con, run_id=recorded.run_id, model=mw.LimitsRequest, kind="market")


def test_as_of_limits_the_prices_used(store, limits_request):
    early = mw.evaluate_limits(limits_request.model_copy(update={"as_of": date(2021, 5, 3)}),
                               store=store, now=T0)
    assert early.snapshot.as_of == "2021-05-03"
