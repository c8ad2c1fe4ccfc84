"""The market-risk commands through ``stresslab`` main: JSON keys, exit codes, what is stored
(a run per recorded VaR report, backtest or evaluation; nothing on bad input or ``--no-store``)."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.store import connect


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "cli.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    return path


@pytest.fixture()
def prices_csv(tmp_path, small_prices):
    path = tmp_path / "prices.csv"
    small_prices.to_csv(path)
    return path


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def _count(db, sql):
    con = connect(db)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def _audit_rows(db):
    return _count(db, "SELECT count(*) FROM audit_chain")


def _runs(db):
    con = connect(db)
    try:
        return con.execute("SELECT run_id, kind, summary FROM runs ORDER BY started_at").fetchall()
    finally:
        con.close()


def test_backtest_json_keys(capsys, prices_csv, db):
    rc = main(["backtest", "--prices", str(prices_csv), "--column", "A", "--confidence", "0.99",
               "--window", "100", "--method", "historical", "--start", "2020-07-01",
               "--end", "2021-06-30", "--json"])
    out = _json(capsys)
    assert rc == 0
    for key in ("observations", "exceptions", "kupiec_lr", "kupiec_p_value",
                "christoffersen_lr_ind", "christoffersen_p_value", "traffic_light"):
        assert key in out
    assert out["start"] >= "2020-07-01" and out["end"] <= "2021-06-30"
    assert _runs(db) == [(out["run_id"], "market",
                          f"backtest historical VaR 99 % on A: {out['exceptions']} exceptions in "
                          f"{out['observations']} days ({out['traffic_light']})")]


def test_backtest_with_weights(capsys, prices_csv, tmp_path, db):
    w = tmp_path / "w.csv"
    w.write_text("instrument,weight\nA,0.5\nB,0.5\n")
    assert main(["backtest", "--prices", str(prices_csv), "--weights", str(w), "--window", "100",
                 "--method", "parametric", "--json", "--no-store"]) == 0
    out = _json(capsys)
    assert out["observations"] == 399 - 100 and out["run_id"] is None
    assert not db.exists()  # --no-store: the store is never opened


@pytest.mark.parametrize("args", [
    ["--confidence", "1.5"],
    ["--window", "5000"],
    ["--column", "NOPE"],
])
def test_backtest_bad_input_exits_2(capsys, prices_csv, db, args):
    base = ["backtest", "--prices", str(prices_csv), "--column", "A", "--window", "100"]
    assert main(base + args) == 2
    assert "error:" in capsys.readouterr().err
    assert not db.exists()


def test_var_json(capsys, prices_csv, tmp_path, db):
    pos = tmp_path / "pos.csv"
    pos.write_text("account,instrument,quantity\nx,A,10\nx,B,5\n")
    assert main(["var", "--prices", str(prices_csv), "--positions", str(pos), "--json"]) == 0
    out = _json(capsys)
    methods = {f["method"] for f in out["figures"]}
    assert methods == {"historical", "parametric", "cornish_fisher", "monte_carlo"}
    assert {f["measure"] for f in out["figures"]} == {"VaR", "ES"}
    runs = _runs(db)
    assert [r[:2] for r in runs] == [(out["run_id"], "market")]
    assert runs[0][2].startswith("VaR 99 % (historical) ") and runs[0][2].endswith(out["as_of"])


def test_var_no_store_records_nothing(capsys, prices_csv, db):
    assert main(["var", "--prices", str(prices_csv), "--column", "A", "--method", "historical",
                 "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "historical" in out and "recorded as run" not in out
    assert not db.exists()


def test_var_positions_missing_from_prices_exits_2(capsys, prices_csv, tmp_path, db):
    pos = tmp_path / "pos.csv"
    pos.write_text("account,instrument,quantity\nx,ZZZ,10\n")
    assert main(["var", "--prices", str(prices_csv), "--positions", str(pos)]) == 2
    assert "ZZZ" in capsys.readouterr().err


def test_limits_evaluate_then_audit_verify_and_tamper(capsys, db):
    assert main(["limits", "evaluate", "--json"]) == 0
    out = _json(capsys)
    assert {"action", "reason", "mode", "sensor", "decisions"} <= set(out)
    assert all({"action", "reason", "mode", "sensor"} <= set(d) for d in out["decisions"])
    assert _runs(db) == [(out["evaluation_id"], "market",
                          f"limit evaluation ({out['mode']} mode): {out['action']}")]
    assert main(["audit", "verify", "--json"]) == 0
    assert _json(capsys)["ok"] is True
    export = db.parent / "audit.jsonl"
    assert main(["audit", "export", "--out", str(export)]) == 0
    capsys.readouterr()
    assert len(export.read_text().splitlines()) == _audit_rows(db)
    con = connect(db)
    con.execute("UPDATE audit_chain SET payload = '{}' WHERE seq = 2")
    con.close()
    assert main(["audit", "verify"]) == 1
    assert "seq 2" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["mode: full\n\tlimits: 1\n",
                                  "mode: full\nlimits: {var: [], stress_loss: {max: 1, action: nuke}}\n"])
def test_limits_evaluate_bad_yaml_exits_2_and_stores_nothing(capsys, db, tmp_path, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main(["limits", "evaluate", "--limits", str(bad)]) == 2
    assert "nothing was stored" in capsys.readouterr().err
    assert not db.exists() or (_audit_rows(db), _runs(db)) == (0, [])


def test_limits_evaluate_bad_prices_store_nothing(capsys, db, tmp_path):
    bad = tmp_path / "p.csv"
    bad.write_text("date,AAPL\n2024-01-02,1\n2024-01-01,2\n")
    assert main(["limits", "evaluate", "--prices", str(bad)]) == 2
    assert "sorted" in capsys.readouterr().err
    assert not db.exists() or (_audit_rows(db), _runs(db)) == (0, [])


def test_metrics_show(capsys, db):
    main(["limits", "evaluate"])
    capsys.readouterr()
    assert main(["metrics", "show"]) == 0
    out = capsys.readouterr().out
    assert "stresslab_market_var{" in out and "stresslab_market_evaluations_total 1.0" in out


def test_missing_file_exits_2(capsys, db, tmp_path):
    assert main(["var", "--prices", str(tmp_path / "nope.csv")]) == 2
    assert "price file: file not found" in capsys.readouterr().err


def test_bad_as_of_exits_2_naming_the_field(capsys, db):
    assert main(["limits", "evaluate", "--as-of", "yesterday"]) == 2
    assert "as_of" in capsys.readouterr().err
