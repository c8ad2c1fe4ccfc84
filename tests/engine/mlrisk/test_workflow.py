"""The workflow functions the CLI and the pages call: validate and record, read back, sign off,
handbooks, manifests; input errors record nothing."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime

import pytest

from engine.audit.runs import stored_request
from engine.errors import InputError, NotFoundError, ValidationError
from engine.mlrisk import ARTIFACT_NAMES, ValidationConfig
from engine.mlrisk import workflow as wf
from engine.store import Store

CONFIG = ValidationConfig(target="y", subgroups=["region"], model="logistic_regression", seed=5, test_size=0.3,
                          min_subgroup_rows=20)


@pytest.fixture()
def store(tmp_path):
    return Store(tmp_path / "wf.duckdb", timeout=5)


@pytest.fixture(scope="module")
def csv_bytes(synthetic_frame) -> bytes:
    return synthetic_frame.to_csv(index=False).encode()


def _request(csv_bytes, handbook, **extra):
    fields = {"config": CONFIG, "data_content": csv_bytes, "data_name": "synthetic.csv", "handbook": handbook,
              "user": "dana", "source": "app", **extra}
    return wf.ValidateRequest(**fields)


def _count(store, sql, params=()):
    with store.read() as con:
        return con.execute(sql, list(params)).fetchone()[0]


def test_validate_records_one_run_whose_configuration_rebuilds_the_request(store, csv_bytes, synthetic_handbook):
    done = wf.validate(_request(csv_bytes, synthetic_handbook), store=store)
    assert done.recorded and set(done.artifacts) == set(ARTIFACT_NAMES)
    n_failing = len(done.results["decision"]["failing_scenarios"])
    assert done.summary == f"{done.decision}: {n_failing} failing scenario{'' if n_failing == 1 else 's'}"
    assert _count(store, "SELECT count(*) FROM runs") == 1
    with store.read() as con:
        kind, summary, status, subject, configuration = con.execute(
            "SELECT kind, summary, status, pool_name, configuration FROM runs").fetchone()
        rebuilt = stored_request(con, run_id=done.run_id, model=wf.ValidateRequest, kind="mlrisk")
    assert (kind, summary, status, subject) == ("mlrisk", done.summary, "success", "synthetic.csv")
    # the bytes are not stored; their hash is
    assert "data_content" not in json.loads(configuration)
    assert rebuilt.data_content is None and rebuilt.data_sha256 == hashlib.sha256(csv_bytes).hexdigest()
    assert rebuilt == done.request
    assert rebuilt.config == CONFIG and rebuilt.handbook == synthetic_handbook
    assert (rebuilt.user, rebuilt.source, rebuilt.data_name) == ("dana", "app", "synthetic.csv")
    assert _count(store, "SELECT count(*) FROM ml_degradation") == len(done.rows) == 30
    assert _count(store, "SELECT count(*) FROM ml_artifacts") == len(ARTIFACT_NAMES)


def test_stored_run_reads_back_without_recomputation(store, csv_bytes, synthetic_handbook):
    done = wf.validate(_request(csv_bytes, synthetic_handbook), store=store)
    runs = wf.list_runs(store=store)
    assert runs["run_id"].tolist() == [done.run_id] and runs["summary"].iloc[0] == done.summary
    stored = wf.load_run(done.run_id, store=store)
    assert stored.artifacts == done.artifacts and stored.rows == done.rows
    assert stored.results == done.results and stored.decision == done.decision
    assert stored.request == done.request and stored.validator == "dana"
    assert stored.to_frame()["metric_name"].tolist() == done.to_frame()["metric_name"].tolist()
    with zipfile.ZipFile(io.BytesIO(wf.evidence_zip(done.run_id, store=store))) as zf:
        assert sorted(zf.namelist()) == sorted(ARTIFACT_NAMES)
    assert wf.evidence_zip(done.run_id, store=store) == done.zip_bytes()
    with pytest.raises(NotFoundError):
        wf.load_run("mlrisk-nope", store=store)


def test_rebuilt_request_needs_its_bytes_again(store, csv_bytes, synthetic_handbook):
    done = wf.validate(_request(csv_bytes, synthetic_handbook), store=store)
    rebuilt = wf.load_run(done.run_id, store=store).request
    with pytest.raises(InputError, match="carries no data_content"):
        wf.validate(rebuilt, store=store)
    again = wf.validate(rebuilt.model_copy(update={"data_content": csv_bytes, "record": False}), store=store,
                        run_id=done.run_id, generated_at=done.run.generated_at)
    assert again.artifacts == done.artifacts  # same inputs, seeds, id and time: the same bytes
    with pytest.raises(InputError, match="SHA-256"):
        wf.validate(rebuilt.model_copy(update={"data_content": csv_bytes + b"\n"}), store=store)
    assert _count(store, "SELECT count(*) FROM runs") == 1


def test_input_error_records_nothing(tmp_path, csv_bytes, synthetic_handbook):
    store = Store(tmp_path / "never.duckdb")
    bad = wf.ValidateRequest(config=CONFIG.model_copy(update={"target": "no_such_column"}), data_content=csv_bytes,
                             data_name="synthetic.csv", handbook=synthetic_handbook)
    with pytest.raises(ValidationError):
        wf.validate(bad, store=store)
    with pytest.raises(InputError, match="not found"):
        wf.validate(wf.ValidateRequest(config=CONFIG.model_copy(update={"data": "missing.csv"}),
                                       base_dir=tmp_path), store=store)
    with pytest.raises(InputError, match="not both"):
        wf.validate(_request(csv_bytes, synthetic_handbook, config=CONFIG.model_copy(update={"data": "x.csv"})),
                    store=store)
    assert not store.path.exists()  # refused before the store was opened


def test_record_false_stores_nothing(tmp_path, csv_bytes, synthetic_handbook):
    store = Store(tmp_path / "never.duckdb")
    done = wf.validate(_request(csv_bytes, synthetic_handbook, record=False), store=store)
    assert not done.recorded and "store" not in done.timings and set(done.artifacts) == set(ARTIFACT_NAMES)
    assert not store.path.exists()


def test_build_turns_pydantic_errors_into_engine_errors():
    with pytest.raises(ValidationError) as err:
        wf.ValidateRequest.build(config={"target": "y", "test_size": 2.0, "thresholds": {"AUC": -1}},
                                 user="x", colour="blue")
    fields = {i.column for i in err.value.issues}
    assert fields == {"config.test_size", "config.thresholds.AUC", "colour"}
    ok = wf.ValidateRequest.build(config={"target": "y", "thresholds": {"AUC": 2.5}}, source="cli")
    assert ok.config.thresholds.AUC == 2.5 and ok.record is True


def test_sign_off(store, csv_bytes, synthetic_handbook):
    done = wf.validate(_request(csv_bytes, synthetic_handbook), store=store)
    s = wf.sign_off(done.run_id, name="  Carol Validator ", comment="Agree. ", store=store,
                    signed_at=datetime(2025, 1, 2, 3, 4, 5))
    assert (s.name, s.comment, s.decision) == ("Carol Validator", "Agree.", done.decision)
    table = wf.list_signoffs(done.run_id, store=store)
    assert table["name"].tolist() == ["Carol Validator"] and table["comment"].tolist() == ["Agree."]
    assert wf.load_run(done.run_id, store=store).signoffs["name"].tolist() == ["Carol Validator"]
    assert wf.list_runs(store=store)["signoffs"].tolist() == [1]
    with pytest.raises(InputError, match="name"):
        wf.sign_off(done.run_id, name=" ", comment="", store=store)
    with pytest.raises(NotFoundError):
        wf.sign_off("mlrisk-nope", name="Carol", comment="", store=store)
    assert _count(store, "SELECT count(*) FROM ml_signoffs") == 1


def test_handbooks(store, synthetic_handbook):
    assert wf.list_handbooks(store=store) == []
    assert wf.save_handbook(synthetic_handbook, name=" mine ", store=store) == "mine"
    assert wf.list_handbooks(store=store) == ["mine"]
    assert wf.load_handbook("mine", store=store) == synthetic_handbook
    with pytest.raises(InputError, match="name"):
        wf.save_handbook(synthetic_handbook, name="", store=store)
    with pytest.raises(NotFoundError):
        wf.load_handbook("theirs", store=store)


def test_verify_evidence_of_a_folder(tmp_path, csv_bytes, synthetic_handbook):
    done = wf.validate(_request(csv_bytes, synthetic_handbook, record=False))
    assert done.key_id is None and set(done.artifacts) == set(ARTIFACT_NAMES)  # no key: unsigned
    for name, content in done.artifacts.items():
        (tmp_path / name).write_bytes(content)
    check = wf.verify_evidence(tmp_path)
    assert check.ok and not check.signed and check.run_id == done.run_id
    assert check.verdict.startswith("UNSIGNED")
    (tmp_path / "validation_decision.md").write_text("# tampered\n")
    check = wf.verify_evidence(tmp_path)
    assert not check.ok
    frame = check.to_frame().set_index("subject")
    assert frame.loc["validation_decision.md", "status"] == "FAIL"
    assert frame.loc["validation_decision.md", "detail"].startswith("hash mismatch")
    assert frame.loc["robustness_results.json", "status"] == "ok"
    with pytest.raises(InputError, match="does not exist"):
        wf.verify_evidence(tmp_path / "nowhere")


def test_preview_data(csv_bytes):
    p = wf.preview_data(data_content=csv_bytes, data_name="s.csv", row_limit=None)
    assert (p.name, p.n_rows, p.columns, p.bundled) == ("s.csv", 600, ("x1", "x2", "cat", "region", "y"), False)
    assert p.default_target == "y" and p.default_subgroups == ()
    b = wf.preview_data(row_limit=200, seed=1)
    assert b.bundled and b.n_rows == 200 and b.default_target == "default_payment_next_month"
    assert b.default_subgroups == ("SEX", "EDUCATION", "MARRIAGE")
    with pytest.raises(InputError, match="unsupported file type"):
        wf.preview_data(data_content=b"a,b\n1,2\n", data_name="t.xlsx")


def test_a_run_stored_before_requests_were_recorded_reads_back_without_one(store, csv_bytes, synthetic_handbook):
    from engine.mlrisk import _store

    done = wf.validate(_request(csv_bytes, synthetic_handbook, record=False))
    with store.write() as con:  # the old configuration: the ValidationConfig alone
        _store.save_run(con, run=done.run, request=CONFIG, summary=done.summary,
                        started_at=datetime(2025, 1, 1), finished_at=datetime(2025, 1, 1))
    stored = wf.load_run(done.run_id, store=store)
    assert stored.request is None and stored.rows == done.rows


def test_handbook_edits(synthetic_handbook):
    noise = synthetic_handbook.scenarios[0].model_dump()
    louder = {**noise, "parameters": {"feature": "x1", "std_dev_multiplier": 2.0}}
    edited = synthetic_handbook.with_scenario(louder, replacing="noise_x1")
    assert [s.scenario_id for s in edited.scenarios] == [s.scenario_id for s in synthetic_handbook.scenarios]
    assert edited.scenarios[0].parameters["std_dev_multiplier"] == 2.0
    added = synthetic_handbook.with_scenario({**noise, "scenario_id": "noise_2"})
    assert added.scenarios[-1].scenario_id == "noise_2" and len(added.scenarios) == 6
    with pytest.raises(ValidationError, match="appears twice"):
        synthetic_handbook.with_scenario(noise)  # a new scenario with an id already taken
    assert "south" not in [s.scenario_id for s in synthetic_handbook.without_scenario("south").scenarios]
    with pytest.raises(NotFoundError):
        synthetic_handbook.without_scenario("nope")
    with pytest.raises(ValidationError, match="finite"):
        synthetic_handbook.with_scenario({**synthetic_handbook.scenarios[-1].model_dump(),
                                          "parameters": {"column": "region", "value": float("nan")}},
                                         replacing="south")
