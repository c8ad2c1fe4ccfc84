"""`stresslab pools|scenarios|stress`: output, exit statuses, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli import main
from engine.export import read_csv

ROOT = Path(__file__).resolve().parents[2]
LC = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "cli.duckdb"))


@pytest.fixture()
def tape(tmp_path) -> Path:
    path = tmp_path / "pool.csv"
    pd.DataFrame({
        "asset_id": ["A", "B", "C"], "asset_class": ["auto_loan"] * 3,
        "balance": [10_000.0, 20_000.0, 5_000.0], "rate": [0.05, 0.07, 0.09],
        "term": [60, 48, 36], "age": [6, 12, 3],
    }).to_csv(path, index=False)
    return path


def test_stress_json_prints_only_the_response(tape, capsys):
    assert main(["stress", str(tape), "--json", "--scenario", "base",
                 "--scenario", "housing_bust", "--discount-rate", "0.06"]) == 0
    out = capsys.readouterr().out
    resp = json.loads(out)
    assert list(resp) == ["base", "housing_bust"]
    assert resp["housing_bust"]["metrics"]["npv_change"] < 0


def test_stress_writes_cashflows_and_loan_level(tape, tmp_path, capsys):
    cf, ll = tmp_path / "cf.csv", tmp_path / "loans.parquet"
    assert main(["stress", str(tape), "--cashflows", str(cf), "--loan-level", str(ll),
                 "--periods", "24"]) == 0
    cashflows = read_csv(cf)  # a "# key: value" provenance block heads the file
    loans = pd.read_parquet(ll)
    # 7 predefined + the 2 Federal Reserve scenarios at their peaks + the same 2 as paths
    assert cashflows["scenario"].nunique() == 11
    assert len(loans) == 3 * 11
    assert "stored as run" in capsys.readouterr().out


def test_pools_import_then_stress_by_id_then_cache(tape, capsys):
    assert main(["pools", "import", str(tape), "--name", "Autos"]) == 0
    assert "stored pool 'pool'" in capsys.readouterr().out
    assert main(["pools", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["pool_name"] == "Autos" and listed[0]["n_assets"] == 3
    assert main(["stress", "pool", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["stress", "pool", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert not first["base"]["cache_hit"] and second["base"]["cache_hit"]
    assert main(["stress", "pool", "--json", "--no-cache"]) == 0
    assert not json.loads(capsys.readouterr().out)["base"]["cache_hit"]


def test_scenarios_list_json_has_every_scenario(capsys):
    assert main(["scenarios", "list", "--json"]) == 0
    lib = json.loads(capsys.readouterr().out)
    assert len(lib) == 11
    assert set(lib["credit_crisis"]) == {"name", "description", "market_factors"}


def test_custom_scenario_file_runs_and_an_out_of_range_one_exits_2(tape, tmp_path, capsys):
    good = tmp_path / "mine.json"
    good.write_text(json.dumps({"name": "My Shock", "market_factors": {"default_multiplier": 2.0}}))
    assert main(["stress", str(tape), "--custom", str(good), "--scenario", "base", "--json"]) == 0
    assert "my_shock" in json.loads(capsys.readouterr().out)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "Bad", "market_factors": {"default_multiplier": 9}}))
    assert main(["stress", str(tape), "--custom", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "default_multiplier" in err and "0.5 … 5" in err and "Traceback" not in err


def test_bad_tape_exits_2_with_every_problem_and_no_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"asset_id": ["A", "A"], "asset_class": ["auto_loan", "spaceship"],
                  "balance": [-1.0, 10.0], "rate": [0.05, 0.05],
                  "term": [12, 12]}).to_csv(bad, index=False)
    assert main(["stress", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "balance" in err and "spaceship" in err and "asset_id" in err
    assert "Traceback" not in err


def test_unknown_stored_pool_exits_2(capsys):
    assert main(["stress", "no-such-pool"]) == 2
    assert "no stored pool 'no-such-pool'" in capsys.readouterr().err


def test_real_lending_club_pool_under_all_eleven_scenarios(capsys):
    assert main(["stress", str(LC), "--json", "--no-store"]) == 0
    resp = json.loads(capsys.readouterr().out)
    assert len(resp) == 11 and all(e["status"] == "success" for e in resp.values())
    m = {k: e["metrics"] for k, e in resp.items()}
    start = m["base"]["starting_balance"]
    for k, x in m.items():  # every dollar is paid, defaulted or left at the horizon
        assert x["total_principal"] + x["total_default"] + x["residual_balance"] == pytest.approx(start)
    assert m["credit_crisis"]["total_loss"] > m["housing_bust"]["total_loss"] > m["base"]["total_loss"]
    assert m["housing_boom"]["npv_change"] > 0 > m["fed_2025_severely_adverse"]["npv_change"]


def test_a_run_that_fails_as_a_whole_is_recorded_as_error(tape, capsys, monkeypatch):
    import engine.credit._runner as runner
    from engine.store import Store

    def broken(*a, **k):
        raise MemoryError("out of memory")

    monkeypatch.setattr(runner, "LoanArrays", type("X", (), {"from_frame": staticmethod(broken)}))
    assert main(["stress", str(tape)]) == 1
    assert "out of memory" in capsys.readouterr().err
    with Store().read() as con:
        rows = con.execute("SELECT status, error FROM runs").fetchall()
        assert rows == [("error", "MemoryError: out of memory")]
        assert con.execute("SELECT count(*) FROM results").fetchone()[0] == 0


def test_stress_by_id_runs_while_another_process_reads_the_store(tape, capsys):
    """A reader elsewhere holds the store only for its short session; the run waits its turn."""
    import subprocess
    import sys

    assert main(["pools", "import", str(tape)]) == 0
    capsys.readouterr()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from engine.store import Store\n"
         "with Store().read() as con:\n"
         "    print('holding', flush=True); time.sleep(1.0)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert main(["stress", "pool", "--scenario", "credit_crisis", "--no-cache",
                     "--json"]) == 0
    finally:
        holder.wait(timeout=30)
    resp = json.loads(capsys.readouterr().out)
    assert list(resp) == ["base", "credit_crisis"] and not resp["base"]["cache_hit"]
    assert holder.returncode == 0


def test_bad_options_exit_2_without_a_traceback(tape, capsys):
    assert main(["stress", str(tape), "--discount-rate", "5"]) == 2
    err = capsys.readouterr().err
    assert "discount_rate" in err and "Traceback" not in err
    assert main(["stress", str(tape), "--loan-level", "out.csv"]) == 2
    assert ".parquet" in capsys.readouterr().err


def _count_runs() -> int:
    from engine.credit.workflow import count_runs
    return count_runs()


@pytest.mark.parametrize("content,fragment", [
    ({"base": {"name": "Evil", "market_factors": {"default_multiplier": 0.5}}},
     "the key 'base' would shadow a built-in key"),
    ({"name": "Base", "market_factors": {"default_multiplier": 0.5}},  # one scenario: key 'base'
     "the key 'base' would shadow a built-in key"),
    ({"BASE": {"name": "Evil"}}, "the key 'BASE' reads as 'base' and would shadow"),
    ({" base ": {"name": "Evil"}}, "remove the blanks around the key"),
])
def test_a_custom_base_is_refused_and_no_run_is_stored(content, fragment, tmp_path, capsys):
    """Issue 9, finding 5: a custom 'base' replaced the base case (Credit Crisis +10.28 %
    instead of −18.18 % on the Lending Club pool) and the run was stored."""
    assert main(["pools", "list"]) == 0  # creates the store
    before = _count_runs()
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps(content))
    assert main(["stress", str(LC), "--custom", str(evil), "--scenario", "credit_crisis"]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err and "pydantic" not in err
    assert _count_runs() == before == 0


def test_a_custom_scenario_beside_the_base_leaves_credit_crisis_at_minus_18_18(tmp_path, capsys):
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"my_base": {"name": "Mine", "market_factors": {
        "default_multiplier": 0.5, "recovery_multiplier": 1.5, "prepayment_multiplier": 3}}}))
    assert main(["stress", str(LC), "--custom", str(mine), "--scenario", "credit_crisis",
                 "--json", "--no-store"]) == 0
    resp = json.loads(capsys.readouterr().out)
    assert list(resp) == ["base", "credit_crisis", "my_base"]
    assert resp["base"]["analytics"]["scenario"]["name"] == "Base Case"
    assert round(resp["credit_crisis"]["metrics"]["npv_change_percent"], 2) == -18.18


def test_the_same_custom_key_in_two_files_is_refused(tape, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"mine": {"market_factors": {"default_multiplier": 2}}}))
    b.write_text(json.dumps({"name": "Mine", "market_factors": {"default_multiplier": 3}}))
    assert main(["stress", str(tape), "--custom", str(a), "--custom", str(b)]) == 2
    assert "custom scenario 'mine' is in both" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["scenarios", "list"], ["scenarios", "list", "--json"],
                                  ["pools", "list"]])
def test_output_closed_early_exits_quietly(argv, tmp_path):
    """Issue 9, finding 7: `stresslab pools list | head -1` printed "internal error:
    BrokenPipeError". The reader closes the pipe before the command writes (as `head` does once
    it has its line); the command stops with 141 (128 + SIGPIPE) and says nothing."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "STRESSLAB_DB": str(tmp_path / "pipe.duckdb")}
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141
    assert err == b""


def test_output_to_a_shell_pipe_into_head_prints_one_line_and_no_error(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "STRESSLAB_DB": str(tmp_path / "pipe.duckdb"), "PY": sys.executable}
    done = subprocess.run(["sh", "-c", '"$PY" -m engine.cli scenarios list | head -1'],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("base ") and done.stdout.count("\n") == 1
    assert done.stderr == ""


def test_a_custom_file_named_in_words_gets_a_valid_key_and_a_neutral_one_a_warning(tape, tmp_path,
                                                                                   capsys):
    """Issue 13: the key is made from the name by the key rule ("My Recession (2025)" →
    my_recession_2025, which the old lower-and-underscore rule turned into a refused key), and
    a scenario that changes nothing runs with a warning on stderr."""
    named = tmp_path / "named.json"
    named.write_text(json.dumps({"name": "My Recession (2025)",
                                 "market_factors": {"default_multiplier": 1.5}}))
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"name": "Flat", "market_factors": {}}))
    assert main(["stress", str(tape), "--custom", str(named), "--custom", str(flat),
                 "--scenario", "base", "--json"]) == 0
    out, err = capsys.readouterr()
    assert {"my_recession_2025", "flat"} <= set(json.loads(out))
    assert err.count("warning:") == 1 and "flat" in err and "my_recession" not in err
