"""`stresslab validate` and `stresslab verify-manifest` end to end (small sample of the real data)."""

from __future__ import annotations

import json

import duckdb

from engine.cli import main
from engine.mlrisk import ARTIFACT_NAMES


def _config(tmp_path, **extra):
    cfg = {"target": "default_payment_next_month", "model": "logistic_regression", "subgroups": ["SEX"],
           "row_limit": 2000, "seed": 3, **extra}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def test_validate_writes_artifacts_stores_run_and_verifies(tmp_path, monkeypatch, capsys):
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(db))
    out = tmp_path / "out"
    assert main(["validate", "--config", str(_config(tmp_path)), "--out", str(out), "--user", "dana"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(ARTIFACT_NAMES)
    assert "decision" in capsys.readouterr().out
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM runs WHERE kind = 'mlrisk'").fetchone()[0] == 1
    con.close()
    assert main(["verify-manifest", str(out)]) == 0
    assert "UNSIGNED: the files of run" in capsys.readouterr().out
    (out / "validation_decision.md").write_text("# Model validation decision: DEPLOY\n")
    assert main(["verify-manifest", str(out)]) == 1
    assert "FAIL      validation_decision.md: hash mismatch" in capsys.readouterr().out


def test_bad_config_exit_2_and_nothing_stored(tmp_path, monkeypatch, capsys):
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(db))
    hb = tmp_path / "hb.json"
    hb.write_text(json.dumps([{"scenario_id": "x", "stress_type": "TSUNAMI", "description": "d",
                               "severity_level": 2, "parameters": {}}]))
    cfg = _config(tmp_path, handbook="hb.json")
    assert main(["validate", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "stress_type" in err and "nothing was stored" in err
    assert not (tmp_path / "o").exists()
    assert main(["validate", "--config", str(_config(tmp_path, tets_size=0.3)), "--out", str(tmp_path / "o")]) == 2
    assert "tets_size" in capsys.readouterr().err
    assert not db.exists()  # refused before the store was opened


def test_verify_manifest_on_folder_without_manifest(tmp_path, capsys):
    assert main(["verify-manifest", str(tmp_path)]) == 2
    assert "evidence_manifest.json" in capsys.readouterr().err


def test_no_store_writes_artifacts_only(tmp_path, monkeypatch, capsys):
    db = tmp_path / "store.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(db))
    out = tmp_path / "out"
    cfg = _config(tmp_path, row_limit=300, subgroups=[])
    assert main(["validate", "--config", str(cfg), "--out", str(out), "--user", "dana", "--no-store"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(ARTIFACT_NAMES)
    assert "(not stored)" in capsys.readouterr().out
    assert not db.exists()
    assert json.loads((out / "evidence_manifest.json").read_text())["team_or_user"] == "dana"
