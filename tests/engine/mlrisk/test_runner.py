"""The whole validation on a small synthetic table: shape, determinism, evidence, store, skops."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from datetime import datetime

import numpy as np
import duckdb
import pytest

from engine.audit.manifest import EvidenceManifest, check_evidence, sha256_hex
from engine.errors import InputError, ValidationError
from engine.mlrisk import ARTIFACT_NAMES, ValidationConfig, parse_handbook, run_validation, train_model
from engine.mlrisk._store import (
    add_signoff, list_runs, list_signoffs, load_artifacts, load_handbook, load_results, save_handbook, save_run,
)
from engine.mlrisk.workflow import ValidateRequest
from engine.store import connect

CONFIG = ValidationConfig(target="y", subgroups=["region"], model="logistic_regression", seed=5, test_size=0.3,
                          min_subgroup_rows=20)


def _run(frame, handbook, **kw):
    cfg = kw.pop("config", CONFIG)
    return run_validation(cfg, frame=frame, data_name="synthetic.csv", data_bytes=b"synthetic", handbook=handbook, **kw)


def test_every_scenario_times_every_metric(synthetic_frame, synthetic_handbook):
    run = _run(synthetic_frame, synthetic_handbook)
    # 5 scenarios x (AUC, accuracy, Brier, log_loss, ECE, subgroup_delta)
    assert len(run.rows) == 30
    assert {r["metric_name"] for r in run.rows} == {"AUC", "accuracy", "Brier", "log_loss", "ECE", "subgroup_delta"}
    assert set(run.artifacts) == set(ARTIFACT_NAMES)
    assert run.decision in {"DEPLOY", "RESTRICT", "REDESIGN"}
    ece_rows = [r for r in run.rows if r["metric_name"] == "ECE"]
    assert all(r["binning"].startswith("ECE over 10 equal-width bins") for r in ece_rows)
    scen = {s["scenario_id"]: s for s in run.results["scenarios"]}
    # every scenario crossed with every subgroup (region: north, south)
    assert [g["level"] for g in scen["noise_x1"]["subgroups"]] == ["north", "south"]
    assert scen["missing_x1"]["stress_detail"]["imputation"] == "mean"
    assert scen["ood_x2"]["drift"]["feature"] == "x2" and scen["ood_x2"]["drift"]["PSI_band"] == "significant"
    assert scen["south"]["n_rows"] == int((synthetic_frame["region"].iloc[
        np.sort(_test_index(synthetic_frame))] == "south").sum())
    # the degradation formula holds row by row
    for r in run.rows:
        if r["degradation_pct"] is not None:
            expected = (r["baseline_value"] - r["stressed_value"]) / r["baseline_value"] * 100
            assert r["degradation_pct"] == pytest.approx(expected, rel=1e-9)


def _test_index(frame):
    from engine.mlrisk import prepare_data

    return prepare_data(frame, target="y", subgroups=["region"], test_size=0.3, seed=5).test_index


def test_two_runs_give_the_same_bytes(synthetic_frame, synthetic_handbook):
    cfg = CONFIG.model_copy(update={"model": "random_forest"})
    a = _run(synthetic_frame, synthetic_handbook, config=cfg, run_id="run-a", generated_at="2025-01-01T00:00:00+00:00")
    b = _run(synthetic_frame, synthetic_handbook, config=cfg, run_id="run-b", generated_at="2025-06-30T12:00:00+00:00")
    for name in ("stress_scenarios.json", "robustness_results.json", "performance_degradation_report.json"):
        assert a.artifacts[name] == b.artifacts[name], name

    def strip(md: bytes) -> list[str]:
        return [ln for ln in md.decode().splitlines() if not ln.startswith(("- run_id:", "- generated_at:"))]

    assert strip(a.artifacts["validation_decision.md"]) == strip(b.artifacts["validation_decision.md"])
    ma, mb = (json.loads(x.artifacts["evidence_manifest.json"]) for x in (a, b))
    assert ma["outputs_hash"]["robustness_results.json"] == mb["outputs_hash"]["robustness_results.json"]
    assert ma["run_id"] == "run-a" and mb["generated_at"] == "2025-06-30T12:00:00+00:00"


def test_manifest_hashes_and_tampering(synthetic_frame, synthetic_handbook):
    run = _run(synthetic_frame, synthetic_handbook, user="alice")
    manifest = EvidenceManifest.model_validate_json(run.artifacts["evidence_manifest.json"])
    assert manifest.team_or_user == "alice" and manifest.seeds["scenario:noise_x1"] == 1
    assert manifest.inputs_hash["synthetic.csv"] == sha256_hex(b"synthetic")
    assert "scikit-learn" in manifest.library_versions
    check = check_evidence(run.artifacts, source="run", key=None)
    assert check.ok and not check.signed
    assert [ln.subject for ln in check.lines if ln.status == "ok"] == sorted(set(ARTIFACT_NAMES) - {"evidence_manifest.json"})
    files = dict(run.artifacts)
    report = files["performance_degradation_report.json"]
    files["performance_degradation_report.json"] = report.replace(b'"FAIL"', b'"PASS"').replace(b"0.", b"1.", 1)
    del files["stress_scenarios.json"]
    check = check_evidence(files, source="run", key=None)
    assert {(ln.subject, ln.detail.split(" ")[0]) for ln in check.lines if ln.status == "FAIL"} == {
        ("performance_degradation_report.json", "hash"), ("stress_scenarios.json", "missing")}


def test_zip_holds_the_five_artifacts(synthetic_frame, synthetic_handbook):
    run = _run(synthetic_frame, synthetic_handbook)
    with zipfile.ZipFile(io.BytesIO(run.zip_bytes())) as zf:
        assert sorted(zf.namelist()) == sorted(ARTIFACT_NAMES)
        assert zf.read("robustness_results.json") == run.artifacts["robustness_results.json"]
    assert run.zip_bytes() == run.zip_bytes()


def test_subgroup_with_too_few_rows_is_reported_not_crashed(synthetic_frame, synthetic_handbook):
    frame = synthetic_frame.copy()
    frame.loc[:4, "region"] = "island"  # five rows only
    hb = parse_handbook([*(s.model_dump() for s in synthetic_handbook.scenarios[:1]),
                         {"scenario_id": "island", "stress_type": "SUBGROUP", "description": "tiny", "seed": 0,
                          "severity_level": 5, "parameters": {"column": "region", "value": "island"}}])
    run = _run(frame, hb)
    island = run.results["scenarios"][1]
    assert island["evaluated"] is False and "fewer than the minimum 20" in island["reason"]
    assert {r["status"] for r in run.rows if r["scenario_id"] == "island"} == {"NOT_EVALUATED"}
    assert any(g["status"] == "too_few_rows" for g in run.results["baseline"]["subgroups"] if g["level"] == "island")
    assert any("island not evaluated" in r for r in run.results["decision"]["rationale"])


def test_handbook_naming_unknown_or_categorical_feature(synthetic_frame):
    hb = parse_handbook([
        {"scenario_id": "a", "stress_type": "NOISE", "description": "d", "severity_level": 1,
         "parameters": {"feature": "nope", "std_dev_multiplier": 1}},
        {"scenario_id": "b", "stress_type": "NOISE", "description": "d", "severity_level": 1,
         "parameters": {"feature": "cat", "std_dev_multiplier": 1}},
        {"scenario_id": "c", "stress_type": "SUBGROUP", "description": "d", "severity_level": 1,
         "parameters": {"column": "missing_col", "value": 1}},
    ])
    with pytest.raises(ValidationError) as err:
        _run(synthetic_frame, hb)
    text = str(err.value)
    assert "not a feature of the model" in text and "is categorical" in text and "column not in the table" in text


def test_regression_task(synthetic_frame, synthetic_handbook):
    cfg = ValidationConfig(target="x2", features=["x1", "cat", "y"], subgroups=["region"], model="gradient_boosting",
                           seed=1, min_subgroup_rows=20)
    hb = parse_handbook([s.model_dump() for s in synthetic_handbook.scenarios if s.scenario_id in ("noise_x1", "south")])
    run = _run(synthetic_frame, hb, config=cfg)
    assert run.results["task"] == "regression"
    assert {r["metric_name"] for r in run.rows} == {"RMSE", "MAE", "R2", "ECE", "subgroup_delta"}
    assert run.results["subgroup_metric"] == "R2"


def test_loaded_skops_model_and_refused_pickle(synthetic_frame, synthetic_handbook):
    import skops.io as sio

    from engine.mlrisk import prepare_data

    data = prepare_data(synthetic_frame, target="y", subgroups=["region"], test_size=0.3, seed=5)
    for kind in ("random_forest", "gradient_boosting"):
        model = train_model(kind, data=data, seed=5)
        run = _run(synthetic_frame, synthetic_handbook, model_bytes=sio.dumps(model), model_name=f"{kind}.skops")
        trained = _run(synthetic_frame, synthetic_handbook, config=CONFIG.model_copy(update={"model": kind}))
        assert run.results["model"]["kind"] == "loaded_skops"
        assert run.results["baseline"]["metrics"] == trained.results["baseline"]["metrics"]
        assert f"{kind}.skops" in json.loads(run.artifacts["evidence_manifest.json"])["inputs_hash"]
    with pytest.raises(InputError, match="not a model saved with skops"):
        _run(synthetic_frame, synthetic_handbook, model_bytes=pickle.dumps(model), model_name="evil.pkl")


def _save(con, run):
    request = ValidateRequest(config=run.config, handbook=run.handbook, user=run.user, source="api")
    save_run(con, run=run, request=request, summary="test", started_at=datetime(2025, 1, 1),
             finished_at=datetime(2025, 1, 1, 0, 0, 1))


def test_store_round_trip_and_signoff(tmp_path, synthetic_frame, synthetic_handbook):
    con = connect(tmp_path / "s.duckdb")
    run = _run(synthetic_frame, synthetic_handbook, user="bob")
    _save(con, run)
    runs = list_runs(con)
    assert runs["run_id"].tolist() == [run.run_id] and runs["decision"].iloc[0] == run.decision
    assert con.execute("SELECT kind FROM runs WHERE run_id = ?", [run.run_id]).fetchone()[0] == "mlrisk"
    assert load_artifacts(con, run.run_id) == run.artifacts
    results, rows = load_results(con, run.run_id)
    assert rows == run.rows and results["decision"] == run.results["decision"]
    assert con.execute("SELECT count(*) FROM ml_degradation WHERE run_id = ?", [run.run_id]).fetchone()[0] == 30
    addendum = add_signoff(con, run_id=run.run_id, name="Carol Validator", comment="Agree.",
                           signed_at=datetime(2025, 1, 2, 3, 4, 5), key=None)
    assert (addendum.decision, addendum.file_name, addendum.seq) == (run.decision, "signoff_001.json", 1)
    assert addendum.manifest_sha256 == sha256_hex(run.artifacts["evidence_manifest.json"])
    assert load_artifacts(con, run.run_id)["signoff_001.json"] == addendum.to_bytes()
    s = list_signoffs(con, run.run_id)
    assert s["name"].tolist() == ["Carol Validator"] and s["decision"].iloc[0] == run.decision
    with pytest.raises(InputError, match="name"):
        add_signoff(con, run_id=run.run_id, name="  ", comment="", signed_at=datetime(2025, 1, 2), key=None)
    save_handbook(con, name="mine", handbook=synthetic_handbook, updated_at=datetime(2025, 1, 1))
    assert load_handbook(con, "mine") == synthetic_handbook


def test_bad_input_stores_nothing(tmp_path, synthetic_frame, synthetic_handbook):
    con = connect(tmp_path / "s.duckdb")
    bad = synthetic_frame.assign(y=1)
    with pytest.raises(ValidationError, match="constant"):
        _save(con, _run(bad, synthetic_handbook))
    run = _run(synthetic_frame, synthetic_handbook)
    broken = run.__class__(**{**run.__dict__, "rows": [*run.rows, {**run.rows[0]}]})  # duplicate key
    with pytest.raises(duckdb.ConstraintException):
        _save(con, broken)
    for table in ("runs", "ml_runs", "ml_artifacts", "ml_degradation"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
