"""The audit workflows: verify and export the chain, list the recorded runs of every kind."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import BaseModel, ConfigDict

from engine.audit.chain import append
from engine.audit.runs import RunRow, insert_run
from engine.audit.workflow import RunsQuery, export_audit, list_runs, verify_audit
from engine.errors import ValidationError
from engine.store import Store, connect, transaction

T0 = datetime(2024, 1, 2, 9, 30)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n: int = 1


@pytest.fixture()
def store(tmp_path):
    return Store(tmp_path / "audit.duckdb", timeout=5)


def _seed_runs(store, kinds):
    with store.write() as con, transaction(con):
        for i, kind in enumerate(kinds):
            at = T0.replace(minute=i)
            insert_run(con, RunRow(run_id=f"{kind}-{i}", kind=kind, request=_Request(n=i),
                                   status="success", summary=f"{kind} run {i}", started_at=at,
                                   finished_at=at))


def test_verify_and_export_an_empty_store(store, tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_KEYS", str(tmp_path / "keys"))
    result = verify_audit(store=store)
    assert result.model_dump() == {
        "ok": True, "signed": False, "key_id": None, "keys_dir": str(tmp_path / "keys"),
        "records": 0, "head_seq": None, "head_hash": None, "checkpoint_seq": None,
        "first_bad_seq": None, "problems": (), "warnings": ()}
    assert result.line() == ("Audit trail: UNSIGNED, 0 records, intact as far as the store can "
                             "tell; sign it with `stresslab keys init`")
    assert export_audit(store=store) == ""


def test_verify_finds_a_tampered_record_and_export_writes_the_file(store, tmp_path):
    with store.write() as con:
        for i in range(3):
            append(con, event_type="evaluation", payload={"i": i}, timestamp=T0)
    ok = verify_audit(store=store)
    assert ok.ok and ok.records == 3 and ok.head_seq == 3 and len(ok.head_hash) == 64
    out = tmp_path / "audit.jsonl"
    text = export_audit(store=store, out=out)
    assert out.read_text() == text
    assert [json.loads(x)["seq"] for x in text.splitlines()] == [1, 2, 3]
    con = connect(store.path)
    con.execute("UPDATE audit_chain SET payload = '{\"i\":9}' WHERE seq = 2")
    con.close()
    bad = verify_audit(store=store)
    assert (bad.ok, bad.first_bad_seq) == (False, 2)
    assert bad.to_text().startswith("TAMPERED: record seq 2 does not match its hash: its content "
                                    "was edited\nAudit trail: TAMPERED")


def test_list_runs_newest_first_and_by_kind(store):
    _seed_runs(store, ["credit", "market", "mlrisk", "market"])
    every = list_runs(RunsQuery(), store=store)
    assert [r.run_id for r in every.rows] == ["market-3", "mlrisk-2", "market-1", "credit-0"]
    market = list_runs(RunsQuery(kind="market", limit=1), store=store)
    assert market.to_json_rows() == [{"run_id": "market-3", "kind": "market",
                                      "started_at": "2024-01-02T09:03:00", "status": "success",
                                      "summary": "market run 3"}]
    frame = every.to_frame()
    assert list(frame.columns[:5]) == ["run_id", "kind", "started_at", "status", "summary"]
    assert len(list_runs(RunsQuery(kind="live"), store=store).to_frame()) == 0


@pytest.mark.parametrize("fields", [{"kind": "weather"}, {"limit": 0}, {"colour": "red"}])
def test_bad_runs_query_is_an_engine_validation_error(fields):
    with pytest.raises(ValidationError, match="runs query"):
        RunsQuery.build(**fields)
