"""The credit workflows: one call per user action, recorded in the store in one transaction."""

from __future__ import annotations

import ast
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError as PydanticValidationError

import engine.credit._store as credit_store
import engine.credit.workflow as wf
from engine.credit import make_scenario
from engine.credit._scenarios import builtin_scenarios
from engine.credit.workflow import ImportPoolRequest, StressRunRequest
from engine.errors import InputError, NotFoundError, ScenarioError, ValidationError
from engine.store import Store

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(tmp_path / "wf.duckdb", timeout=5.0)


@pytest.fixture()
def tape(tmp_path) -> Path:
    """Three auto loans; a delinquent one so the CDR floor matters."""
    path = tmp_path / "autos.csv"
    pd.DataFrame({
        "asset_id": ["A", "B", "C"], "asset_class": ["auto_loan"] * 3,
        "balance": [10_000.0, 20_000.0, 5_000.0], "rate": [0.05, 0.07, 0.09],
        "term": [60, 48, 36], "age": [6, 12, 3],
        "status": ["performing", "delinquent", "performing"],
    }).to_csv(path, index=False)
    return path


def stored_pool(tape: Path, store: Store) -> str:
    return wf.import_pool(ImportPoolRequest(path=tape, pool_name="Autos"), store=store).pool_id


def count(store: Store, table: str) -> int:
    with store.read() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --------------------------------------------------------------------------- pools

def test_import_pool_stores_the_tape_and_reports_what_it_assumed(tape, store):
    done = wf.import_pool(ImportPoolRequest(path=tape, pool_name="Autos"), store=store)
    assert (done.pool_id, done.pool_name, done.n_assets, done.total_balance) == (
        "autos", "Autos", 3, 35_000.0)
    assert done.created and done.source_format == "native"
    assert {a["field"] for a in done.assumptions} >= {"prepayment_speed", "default_probability"}
    assert wf.list_pools(store=store)["pool_id"].tolist() == ["autos"]
    assert wf.load_pool("autos", store=store).n_assets == 3
    again = wf.import_pool(ImportPoolRequest(path=tape, pool_name="Autos"), store=store)
    assert not again.created  # the same pool again: nothing written


def test_read_pool_from_uploaded_bytes_stores_nothing(tape, store):
    req = ImportPoolRequest(content=tape.read_bytes(), filename="upload.csv")
    pool = wf.read_pool(req)
    assert pool.n_assets == 3 and pool.pool_id == "upload"
    assert wf.detect_format(tape.read_bytes(), filename="upload.csv") == "native"
    assert wf.list_pools(store=store).empty


def test_an_import_request_needs_exactly_one_source(tape):
    with pytest.raises(PydanticValidationError, match="exactly one of path"):
        ImportPoolRequest()
    with pytest.raises(PydanticValidationError, match="exactly one of path"):
        ImportPoolRequest(path=tape, content=b"x", filename="x.csv")
    with pytest.raises(PydanticValidationError, match="needs its filename"):
        ImportPoolRequest(content=b"x")


def test_assumption_edits_override_only_changed_values(tape):
    table = wf.assumption_table()
    edits = table.copy()
    auto = (edits["asset_class"] == "auto_loan") & edits["grade"].isna()
    edits.loc[auto, "prepayment_speed"] = 0.25
    pool = wf.read_pool(ImportPoolRequest(path=tape, assumption_edits=edits.to_dict("records")))
    assert pool.frame["prepayment_speed"].tolist() == [0.25] * 3
    by_field = {a["field"]: a for a in pool.assumptions}
    assert by_field["prepayment_speed"]["source"] == "edited in the app"
    assert by_field["recovery_rate"]["source"].startswith("engine/ingest/data/ASSUMPTIONS.md#")
    with pytest.raises(ValidationError, match="prepayment_speed"):
        edits.loc[auto, "prepayment_speed"] = 3.0  # a CPR above 100 %
        wf.read_pool(ImportPoolRequest(path=tape, assumption_edits=edits.to_dict("records")))


def test_pool_summary_breakdown_and_delete(tape, store):
    pool_id = stored_pool(tape, store)
    assert wf.pool_summary(pool_id, store=store)["n_assets"] == 3
    by = wf.pool_breakdown(pool_id, by="status", store=store)
    assert by.set_index("status")["n_assets"].to_dict() == {"delinquent": 1, "performing": 2}
    with pytest.raises(InputError, match="cannot break a pool down by 'balance'"):
        wf.pool_breakdown(pool_id, by="balance", store=store)
    wf.delete_pool(pool_id, store=store)
    with pytest.raises(NotFoundError):
        wf.load_pool(pool_id, store=store)


def test_seed_store_stores_the_lending_club_pool_once(store):
    assert wf.seed_store(store=store) == "lendingclub-2018q1"
    assert wf.seed_store(store=store) is None
    assert wf.load_pool("lendingclub-2018q1", store=store).n_assets == 10_000


# --------------------------------------------------------------------------- scenarios

def test_scenarios_save_duplicate_delete(store):
    wf.save_scenario("mine", scenario=make_scenario("Mine", market_factors={"default_multiplier": 2}),
                     store=store)
    assert wf.duplicate_scenario("mine", store=store) == "mine_copy"
    assert wf.duplicate_scenario("mine", store=store) == "mine_copy2"
    assert wf.duplicate_scenario("credit_crisis", store=store) == "credit_crisis_copy"
    custom = wf.custom_scenarios(store=store)
    assert list(custom) == ["mine", "mine_copy", "mine_copy2", "credit_crisis_copy"]
    assert custom["mine_copy"].name == "Mine (copy)"
    assert custom["credit_crisis_copy"].market_factors.default_multiplier == 3.0
    assert len(wf.scenario_library(store=store)) == len(builtin_scenarios()) + 4
    wf.delete_scenario("mine_copy2", store=store)
    with pytest.raises(NotFoundError):
        wf.delete_scenario("mine_copy2", store=store)
    with pytest.raises(NotFoundError):
        wf.duplicate_scenario("nope", store=store)


def test_import_scenarios_is_all_or_nothing(store, monkeypatch):
    good = {"a": {"name": "A", "market_factors": {"default_multiplier": 2}},
            "b": {"name": "B", "market_factors": {"spread_widening": 0.01}}}
    bad_factor = {**good, "c": {"name": "C", "market_factors": {"default_multiplier": 9}}}
    with pytest.raises(ValidationError, match="nothing was stored") as info:
        wf.import_scenarios(json.dumps(bad_factor).encode(), store=store)
    assert [i.column for i in info.value.issues] == ["c.market_factors.default_multiplier"]
    builtin_key = {**good, "base": {"name": "Mine", "market_factors": {}}}
    with pytest.raises(ValidationError, match="nothing was stored(.|\n)*'base'"):
        wf.import_scenarios(json.dumps(builtin_key).encode(), store=store)
    assert wf.custom_scenarios(store=store) == {}

    real = credit_store.save_scenario

    def fail_on_b(con, *, key, scenario):
        if key == "b":
            raise RuntimeError("disk full")
        return real(con, key=key, scenario=scenario)

    monkeypatch.setattr(credit_store, "save_scenario", fail_on_b)
    with pytest.raises(RuntimeError, match="disk full"):
        wf.import_scenarios(json.dumps(good).encode(), store=store)
    assert wf.custom_scenarios(store=store) == {}  # "a" was rolled back with "b"
    monkeypatch.setattr(credit_store, "save_scenario", real)
    assert wf.import_scenarios(json.dumps(good).encode(), store=store) == ["a", "b"]
    assert list(wf.custom_scenarios(store=store)) == ["a", "b"]


# --------------------------------------------------------------------------- stress runs

def test_run_stress_records_one_run_that_reopens_with_its_request(tape, store):
    pool_id = stored_pool(tape, store)
    request = StressRunRequest(pool_id=pool_id, scenario_names=["base", "credit_crisis"],
                               custom_scenarios={"mine": {"name": "Mine", "market_factors":
                                                          {"default_multiplier": 2.0}}},
                               analysis_date=date(2026, 1, 31), discount_rate=0.06,
                               include_loan_level=True, source="api")
    run = wf.run_stress(request, store=store)
    assert run.run_id.startswith("credit-") and run.status == "success"
    assert list(run.result.scenarios) == ["base", "credit_crisis", "mine"]
    assert wf.count_runs(store=store) == 1
    assert count(store, "results") == 3 and count(store, "loan_results") == 9
    back = wf.load_run(run.run_id, store=store)
    assert back.request == request
    assert back.result.run_id == run.run_id
    assert back.result.n_assets == 3 and back.result.discount_rate == 0.06
    for k, r in run.result.scenarios.items():
        assert back.result.scenarios[k].metrics == pytest.approx(r.metrics)
    runs = wf.list_runs(store=store)
    assert runs.loc[0, "run_id"] == run.run_id and runs.loc[0, "worst_scenario"] == "credit_crisis"
    assert runs.loc[0, "n_scenarios"] == 3
    with store.read() as con:
        summary, kind = con.execute("SELECT summary, kind FROM runs").fetchone()
    pct = run.result.scenarios["credit_crisis"].metrics["npv_change_percent"]
    assert kind == "credit"
    assert summary == f"Credit Crisis −{abs(pct):.2f} % NPV (worst of 2 scenarios)"


def test_analysis_date_defaults_to_the_pool_cutoff(tape, store):
    pool_id = wf.import_pool(ImportPoolRequest(path=tape, cutoff_date=date(2025, 6, 30)),
                             store=store).pool_id
    run = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"]), store=store)
    assert run.result.analysis_date == date(2025, 6, 30)
    assert wf.load_run(run.run_id, store=store).request.analysis_date is None  # as asked


def test_a_second_run_hits_the_stored_cache(tape, store):
    pool_id = stored_pool(tape, store)
    req = StressRunRequest(pool_id=pool_id, scenario_names=["base", "housing_bust"])
    first = wf.run_stress(req, store=store)
    assert count(store, "result_cache") == 2  # written with the run
    second = wf.run_stress(req, store=store)
    assert not any(r.cache_hit for r in first.result.scenarios.values())
    assert all(r.cache_hit for r in second.result.scenarios.values())
    assert second.result.scenarios["housing_bust"].metrics == first.result.scenarios[
        "housing_bust"].metrics
    third = wf.run_stress(req.model_copy(update={"use_cache": False}), store=store)
    assert not any(r.cache_hit for r in third.result.scenarios.values())


def test_a_user_assumption_table_changes_the_cache_key(tape, store, tmp_path):
    pool_id = stored_pool(tape, store)
    table = wf.assumption_table()
    table.loc[table["asset_class"] == "auto_loan", "delinquent_default_probability"] = 0.9
    path = tmp_path / "assumptions.csv"
    table.to_csv(path, index=False)
    req = StressRunRequest(pool_id=pool_id, scenario_names=["base"])
    plain = wf.run_stress(req, store=store)
    floored = wf.run_stress(req.model_copy(update={"assumptions_file": path}), store=store)
    assert not floored.result.scenarios["base"].cache_hit
    assert (floored.result.scenarios["base"].metrics["total_default"]
            > plain.result.scenarios["base"].metrics["total_default"])


def test_a_user_assumption_table_sets_the_delinquent_cdr_of_a_stored_pool(store, tmp_path):
    # The tape gives no CDR: the delinquent loan's was filled at import from the packaged table
    # (auto loans: 0.35). A user table with 0.05 (lower) or 0.90 (higher) must change the run.
    tape = tmp_path / "delinquent.csv"
    pd.DataFrame({"asset_id": ["A", "B"], "asset_class": ["auto_loan"] * 2,
                  "balance": [1000.0, 1000.0], "rate": [0.06, 0.06], "term": [36, 36],
                  "age": [0, 0], "rate_type": ["fixed"] * 2,
                  "status": ["delinquent", "performing"]}).to_csv(tape, index=False)
    pool_id = wf.import_pool(ImportPoolRequest(path=tape), store=store).pool_id
    assert wf.load_pool(pool_id, store=store).frame["default_probability"].iloc[0] == 0.35
    defaults = {}
    for floor in (None, 0.05, 0.9):
        path = None
        if floor is not None:
            table = wf.assumption_table()
            table.loc[table["asset_class"] == "auto_loan", "delinquent_default_probability"] = floor
            path = tmp_path / f"assumptions_{floor}.csv"
            table.to_csv(path, index=False)
        req = StressRunRequest(pool_id=pool_id, scenario_names=["base"], assumptions_file=path,
                               record=False)
        defaults[floor] = wf.run_stress(req, store=store).result.scenarios["base"].metrics[
            "total_default"]
    assert defaults[0.05] < defaults[None] < defaults[0.9]
    # the same figures as a tape file read with each table
    for floor in (0.05, 0.9):
        req = StressRunRequest(pool_file=tape, scenario_names=["base"], record=False,
                               assumptions_file=tmp_path / f"assumptions_{floor}.csv")
        direct = wf.run_stress(req, store=store).result.scenarios["base"].metrics
        assert direct["total_default"] == pytest.approx(defaults[floor], rel=1e-12)


def test_an_analysis_date_before_the_cutoff_is_refused(tape, store):
    pool_id = wf.import_pool(ImportPoolRequest(path=tape, cutoff_date=date(2014, 6, 30)),
                             store=store).pool_id
    with pytest.raises(InputError, match="before pool .* cutoff date 2014-06-30"):
        wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"],
                                       analysis_date=date(2009, 6, 30)), store=store)
    early = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"]), store=store)
    late = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"],
                                          analysis_date=date(2015, 6, 30)), store=store)
    assert late.result.valuation["rolled_forward_months"] == 12
    assert late.result.scenarios["base"].metrics["npv"] != early.result.scenarios["base"].metrics[
        "npv"]
    reopened = wf.load_run(late.run_id, store=store)
    assert reopened.result.valuation == late.result.valuation


def test_input_errors_record_nothing(tape, store):
    pool_id = stored_pool(tape, store)
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'"):
        wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["nope"]), store=store)
    with pytest.raises(NotFoundError, match="no stored pool 'gone'"):
        wf.run_stress(StressRunRequest(pool_id="gone"), store=store)
    with pytest.raises(InputError, match="not found"):
        wf.run_stress(StressRunRequest(pool_file=tape.with_name("missing.csv")), store=store)
    assert wf.count_runs(store=store) == 0
    with pytest.raises(PydanticValidationError, match="exactly one of pool_id"):
        StressRunRequest()


def test_a_run_that_fails_as_a_whole_is_recorded_as_error_then_raised(tape, store, monkeypatch):
    pool_id = stored_pool(tape, store)

    def broken(*a, **k):
        raise MemoryError("out of memory")

    monkeypatch.setattr("engine.credit._runner.execute_run", broken)
    request = StressRunRequest(pool_id=pool_id, scenario_names=["base"])
    with pytest.raises(MemoryError, match="out of memory"):
        wf.run_stress(request, store=store)
    runs = wf.list_runs(store=store)
    assert runs[["status", "error"]].values.tolist() == [["error", "MemoryError: out of memory"]]
    assert count(store, "results") == 0 and count(store, "cashflows") == 0
    with pytest.raises(NotFoundError, match="has no results"):
        wf.load_run(runs.loc[0, "run_id"], store=store)
    with store.read() as con:
        assert con.execute("SELECT summary FROM runs").fetchone()[0] == (
            "error: MemoryError: out of memory")


def test_a_failure_while_recording_leaves_only_the_error_run(tape, store, monkeypatch):
    pool_id = stored_pool(tape, store)
    real = credit_store.record_run

    def half_then_fail(con, **kw):
        real(con, **kw)
        raise RuntimeError("disk full")

    monkeypatch.setattr(credit_store, "record_run", half_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"]), store=store)
    assert wf.list_runs(store=store)["status"].tolist() == ["error"]
    assert count(store, "results") == 0 and count(store, "result_cache") == 0


def test_no_store_with_a_tape_file_creates_no_store(tape, tmp_path):
    store = Store(tmp_path / "never.duckdb")
    run = wf.run_stress(StressRunRequest(pool_file=tape, scenario_names=["base"], record=False),
                        store=store)
    assert run.run_id is None and run.result.scenarios["base"].status == "success"
    assert not store.path.exists()


def test_cancel_is_recorded_as_an_error_run_with_its_scenarios(tape, store):
    import threading

    pool_id = stored_pool(tape, store)
    cancel = threading.Event()
    cancel.set()
    run = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"], use_cache=False),
                        store=store, cancel=cancel)
    assert run.status == "error"
    assert wf.list_runs(store=store)["status"].tolist() == ["error"]
    assert wf.load_run(run.run_id, store=store).result.scenarios["base"].error == (
        "cancelled by the user")


def test_progress_reports_every_scenario(tape, store):
    pool_id = stored_pool(tape, store)
    seen = []
    wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base", "housing_boom"]),
                  store=store, progress=lambda k, r, n, total: seen.append((k, r.status, total)))
    assert sorted(seen) == [("base", "success", 2), ("housing_boom", "success", 2)]


def test_loan_path_follows_one_loan_of_a_stored_run(tape, store):
    pool_id = stored_pool(tape, store)
    run = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base", "credit_crisis"],
                                         projection_periods=24), store=store)
    path = wf.loan_path(run.run_id, asset_id="A", scenario_key="credit_crisis", store=store)
    assert len(path) == 24 and path["balance"].is_monotonic_decreasing
    with pytest.raises(NotFoundError, match="no scenario 'nope'"):
        wf.loan_path(run.run_id, asset_id="A", scenario_key="nope", store=store)
    with pytest.raises(NotFoundError, match="loan 'Z'"):
        wf.loan_path(run.run_id, asset_id="Z", scenario_key="base", store=store)
    wf.delete_pool(pool_id, store=store)
    with pytest.raises(NotFoundError, match="no stored pool"):
        wf.loan_path(run.run_id, asset_id="A", scenario_key="base", store=store)
    file_run = wf.run_stress(StressRunRequest(pool_file=tape, scenario_names=["base"]), store=store)
    with pytest.raises(NotFoundError, match="read its pool from a file"):
        wf.loan_path(file_run.run_id, asset_id="A", scenario_key="base", store=store)


def test_loan_path_follows_the_pool_rolled_to_the_analysis_date(tape, store):
    # Cutoff 2012-06-30, analysis date 24 months later: A (54 months left at the cutoff), B
    # (36, delinquent) and C (33) are rolled; each drill-down starts from the rolled loan, so
    # the loans' balances at the end of month k add up to the run's beginning balance of month
    # k + 1.
    pool_id = wf.import_pool(ImportPoolRequest(path=tape, cutoff_date=date(2012, 6, 30)),
                             store=store).pool_id
    run = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"],
                                         analysis_date=date(2014, 6, 30)), store=store)
    assert run.result.valuation["rolled_forward_months"] == 24
    assert run.result.projection_periods == 30  # A: 54 - 24 months left
    paths = [wf.loan_path(run.run_id, asset_id=a, scenario_key="base", store=store)["balance"]
             .to_numpy() for a in ("A", "B", "C")]
    table = run.result.scenarios["base"].cashflows
    assert sum(p[0] for p in paths) < table.loc[0, "beginning_balance"] < 35_000.0 * 0.7
    total = paths[0] + paths[1] + paths[2]
    assert total[:29] == pytest.approx(table["beginning_balance"].to_numpy()[1:30], rel=1e-9)
    assert paths[2][8] == 0.0 and paths[1][11] == 0.0  # C, B run off in 9 and 12 months
    # 36 months on, B (36 months left) and C have matured: no drill-down, and the reason
    late = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"],
                                          analysis_date=date(2015, 6, 30)), store=store)
    with pytest.raises(NotFoundError, match=r"loan 'B' is not in run .*: it matured before the "
                                            r"analysis date 2015-06-30 \(36 months after"):
        wf.loan_path(late.run_id, asset_id="B", scenario_key="base", store=store)
    assert len(wf.loan_path(late.run_id, asset_id="A", scenario_key="base", store=store)) == 18


def test_a_run_stored_by_an_older_version_reopens_with_a_rebuilt_request(tape, store):
    pool_id = stored_pool(tape, store)
    run = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"]), store=store)
    legacy = {"command": "stress", "pool_source": pool_id, "scenario_names": ["base"],
              "discount_rate": 0.07, "projection_periods": None, "source": "dashboard"}
    with store.write() as con:
        con.execute("UPDATE runs SET configuration = ? WHERE run_id = ?",
                    [json.dumps(legacy), run.run_id])
    back = wf.load_run(run.run_id, store=store)
    assert back.request.pool_id == pool_id and back.request.discount_rate == 0.07
    assert back.request.source == "app"


# --------------------------------------------------------------------------- layering

def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_ingest_imports_nothing_from_credit():
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in _imported_modules(p)
                                                  if m.startswith("engine.credit"))
                 for p in (ROOT / "engine" / "ingest").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_download_says_where_it_comes_from(tape, store, tmp_path):
    from engine.export import read_csv, read_provenance, to_safe_csv, write_table

    pool_id = stored_pool(tape, store)
    run = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base", "housing_bust"],
                                         discounting="curve", curve_date=date(2014, 6, 30),
                                         curve_spread=0.015, include_loan_level=True),
                        store=store)
    result = wf.load_run(run.run_id, store=store).result
    facts = result.provenance()
    assert facts["run_id"] == run.run_id and facts["pool_id"] == pool_id
    assert facts["discounting"] == "curve" and facts["curve_date_used"] == "2014-06-30"
    assert facts["curve_spread"] == 0.015 and facts["inputs_hash"] == run.result.inputs_hash
    assert "decimal" in facts["units"]
    # JSON: in the base entry
    assert json.loads(result.response_json())["base"]["provenance"] == facts
    # CSV: a '# key: value' block that read_csv skips
    metrics_csv = to_safe_csv(result.metrics_frame(), provenance=facts)
    back = read_provenance(metrics_csv)
    assert back["run_id"] == run.run_id and back["curve_spread"] == "0.015"
    frame = read_csv(metrics_csv)
    assert list(frame["scenario"]) == ["base", "housing_bust"]
    for name, table in (("cf.csv", result.cashflows_frame()), ("cf.parquet",
                                                                result.cashflows_frame()),
                        ("loans.parquet", run.result.loan_level_frame())):
        path = write_table(table, path=tmp_path / name, provenance=run.result.provenance())
        assert read_provenance(path)["run_id"] == run.run_id
        assert read_provenance(path)["engine_version"] == result.engine_version
        read = (pd.read_parquet(path) if name.endswith("parquet")
                else read_csv(path))
        assert len(read) == len(table)


def test_a_csv_download_reads_back_whole_when_a_cell_holds_a_hash():
    """read_csv skips only the leading provenance block; pandas' comment='#' would cut the
    scenario name at its '#'."""
    from engine.export import read_csv, read_provenance, to_safe_csv

    table = pd.DataFrame({"scenario": ["stress_2"], "name": ["Stress #2"], "npv": [1.5]})
    data = to_safe_csv(table, provenance={"run_id": "r1", "units": "decimal"})
    assert read_provenance(data) == {"run_id": "r1", "units": "decimal"}
    back = read_csv(data)
    assert back.to_dict("records") == [{"scenario": "stress_2", "name": "Stress #2", "npv": 1.5}]
