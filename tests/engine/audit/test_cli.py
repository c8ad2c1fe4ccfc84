"""``stresslab audit verify|export`` and ``stresslab runs list`` through ``stresslab`` main."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest
from pydantic import BaseModel, ConfigDict

from engine.audit.chain import append
from engine.audit.runs import RunRow, insert_run
from engine.cli import main
from engine.store import connect, transaction

T0 = datetime(2024, 1, 2, 9, 30)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "cli.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    return path


@pytest.fixture()
def chain(db):
    con = connect(db)
    for i in range(3):
        append(con, event_type="evaluation", payload={"i": i}, timestamp=T0.replace(minute=i))
    con.close()
    return db


@pytest.fixture()
def runs(db):
    con = connect(db)
    with transaction(con):
        for i, kind in enumerate(["credit", "market", "mlrisk", "market", "live"]):
            at = T0.replace(minute=i)
            insert_run(con, RunRow(run_id=f"{kind}-{i}", kind=kind, request=_Request(),
                                   status="success", summary=f"{kind} run {i}", started_at=at,
                                   finished_at=at))
    con.close()
    return db


def test_audit_verify_json_and_text(capsys, chain):
    assert main(["audit", "verify", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["ok"], out["records"], out["first_bad_seq"], out["head_seq"]) == (True, 3, None, 3)
    assert len(out["head_hash"]) == 64
    assert (out["signed"], out["problems"]) == (False, [])
    assert main(["audit", "verify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("Audit trail: UNSIGNED, 3 records, intact as far as the store can tell; "
                        "sign it with `stresslab keys init`")
    assert lines[1].startswith("UNSIGNED: no signing key in ")
    assert lines[2].startswith("head: seq 3, sha256 ")


def test_audit_verify_exits_1_at_the_first_bad_record(capsys, chain):
    con = connect(chain)
    con.execute("DELETE FROM audit_chain WHERE seq = 2")
    con.close()
    assert main(["audit", "verify", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["first_bad_seq"] == 3
    assert main(["audit", "verify"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        "TAMPERED: record seq 3 follows seq 1: record 2 is missing")


def test_audit_export_to_stdout_file_and_json(capsys, chain, tmp_path):
    assert main(["audit", "export"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2, 3]
    out = tmp_path / "a.jsonl"
    assert main(["audit", "export", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 3 records to {out}\n"
    assert out.read_text().splitlines() == lines
    assert main(["audit", "export", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"records": 3, "path": str(out)}
    assert main(["audit", "export", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"records": 3, "jsonl": lines}


def test_runs_list_json_newest_first(capsys, runs):
    assert main(["runs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in rows] == ["live-4", "market-3", "mlrisk-2", "market-1", "credit-0"]
    assert rows[0] == {"run_id": "live-4", "kind": "live", "started_at": "2024-01-02T09:04:00",
                       "status": "success", "summary": "live run 4"}


@pytest.mark.parametrize(("kind", "expected"), [
    ("market", ["market-3", "market-1"]), ("credit", ["credit-0"]), ("mlrisk", ["mlrisk-2"]),
    ("live", ["live-4"]),
])
def test_runs_list_filters_by_kind(capsys, runs, kind, expected):
    assert main(["runs", "list", "--kind", kind, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in rows] == expected and {r["kind"] for r in rows} == {kind}


def test_runs_list_limit_and_text_table(capsys, runs):
    assert main(["runs", "list", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run_id", "kind", "started_at", "(UTC)", "status", "summary"]
    assert [line.split()[0] for line in lines[1:]] == ["live-4", "market-3"]
    assert lines[1].endswith("live run 4")


def test_runs_list_of_an_empty_store_and_bad_arguments(capsys, db):
    assert main(["runs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["runs", "list", "--kind", "market"]) == 0
    assert capsys.readouterr().out == "no runs stored of kind market\n"
    assert main(["runs", "list", "--limit", "0"]) == 2
    assert "limit" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["runs", "list", "--kind", "weather"])
    assert exc.value.code == 2


def test_help_does_not_import_the_heavy_libraries():
    code = ("import sys, contextlib, io\n"
            "from engine.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])\n"
            "heavy = ('pandas', 'duckdb', 'scipy', 'pydantic')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
