"""``stresslab live …`` and ``stresslab compliance check``: bad input gives every bad row and exit
2 with nothing stored; the JSON of ``live status`` has exactly the issue's field names; the
bundled example says its trades are synthetic; errors exit 2 without a traceback."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from engine.cli import main
from tests.engine.live._desk import UNTIL, write_desk

RISK_FIELDS = {"risk_score", "risk_level", "total_exposure", "current_leverage",
               "margin_utilization", "var_95", "correlation_risk", "instrument_count",
               "risk_limit_breaches", "risk_components", "trading_state"}
COMPONENTS = {"position", "leverage", "concentration", "correlation", "liquidity", "pl"}
PL_FIELDS = {"total_pl", "unrealized_pl", "realized_pl", "daily_pl", "position_count",
             "market_value"}
PORTFOLIO_FIELDS = {"total_value", "daily_return", "sharpe_ratio", "max_drawdown", "volatility",
                    "total_positions", "performance_attribution"}
ALERT_FIELDS = {"alert_id", "account_id", "alert_type", "severity", "title", "message",
                "risk_score", "triggered_at", "is_acknowledged"}


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "store" / "desk.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    return path


@pytest.fixture()
def files(tmp_path):
    return write_desk(tmp_path / "inputs")


def _replay_args(files, *extra: str) -> list[str]:
    return ["live", "replay", "--trades", str(files["trades"]), "--prices", str(files["prices"]),
            "--accounts", str(files["accounts"]), *extra]


def test_bad_trades_give_every_bad_row_exit_2_and_store_nothing(db, files, capsys):
    frame = pd.read_csv(files["trades"])
    frame.loc[1, "instrument"] = "ZZZ"                    # row 2: unknown instrument
    frame.loc[2, "timestamp"] = "2023-12-29T15:00:00Z"    # row 3: before the first price
    frame.loc[3, "quantity"] = 0                          # row 4: not > 0
    frame.loc[4, "quantity"] = -5                         # row 5: not > 0
    frame.loc[5, "trade_id"] = frame.loc[0, "trade_id"]   # row 6: repeats row 1
    frame.loc[6, "account_id"] = "nobody"                 # row 7: not in the accounts file
    frame.to_csv(files["trades"], index=False)
    assert main(_replay_args(files)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nothing was stored" in err
    for needle in ("row 2, column 'instrument' (value 'ZZZ'): instrument not in the price feed",
                   "row 3, column 'timestamp'", "comes before the first price of",
                   "row 4, column 'quantity' (value 0.0): quantity must be greater than 0",
                   "row 5, column 'quantity' (value -5.0): quantity must be greater than 0",
                   "row 6, column 'trade_id' (value 'A01'): trade_id repeats row 1",
                   "row 7, column 'account_id' (value 'nobody')"):
        assert needle in err, needle
    assert not db.exists()  # the store was not even opened


@pytest.mark.parametrize(("target", "content", "needle"), [
    ("accounts", "accounts:\n  - account_id: a\n    initial_capital: -5\n",
     "accounts.0.initial_capital"),
    ("accounts", "base: &b {account_id: a, initial_capital: 1}\naccounts: [*b]\n",
     "YAML aliases (*name) are not accepted"),
    ("prices", "timestamp,instrument,price\n2024-01-01T21:00:00Z,AAA,-1\nnot a time,BBB,2\n",
     "row 2, column 'timestamp'"),
])
def test_bad_accounts_or_prices_exit_2_and_store_nothing(db, files, capsys, target, content,
                                                         needle):
    files[target].write_text(content, encoding="utf-8")
    assert main(_replay_args(files)) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not db.exists()


def test_replay_arguments_are_checked(db, files, capsys):
    assert main(["live", "replay", "--trades", str(files["trades"])]) == 2
    assert "give trades, prices and accounts files (missing prices, accounts)" in \
        capsys.readouterr().err
    assert main([*_replay_args(files), "--example"]) == 2
    assert "give either example or files" in capsys.readouterr().err
    assert main([*_replay_args(files), "--speed", "0"]) == 2
    assert main([*_replay_args(files), "--until", "next tuesday"]) == 2
    assert not db.exists()


def test_status_json_has_exactly_the_issue_field_names(db, files, capsys):
    assert main([*_replay_args(files), "--json"]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["status"] == "finished" and replayed["synthetic_trades"] is False
    assert main(["live", "status", "--account", "b", "--json"]) == 0
    panels = json.loads(capsys.readouterr().out)
    assert set(panels) == {"risk", "pl", "portfolio"}
    assert set(panels["risk"]) == RISK_FIELDS
    assert set(panels["risk"]["risk_components"]) == COMPONENTS
    assert set(panels["pl"]) == PL_FIELDS
    assert set(panels["portfolio"]) == PORTFOLIO_FIELDS
    assert set(panels["portfolio"]["performance_attribution"]) == {"by_instrument", "by_sector"}
    assert panels["risk"]["trading_state"] == "ACTIVE"
    weights = {"position": 25, "leverage": 20, "concentration": 15, "correlation": 10,
               "liquidity": 10, "pl": 20}
    assert panels["risk"]["risk_score"] == pytest.approx(
        sum(weights[k] * v for k, v in panels["risk"]["risk_components"].items()) / 100)

    assert main(["live", "alerts", "--account", "b", "--all", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and all(ALERT_FIELDS <= set(a) for a in listed)
    assert {a["account_id"] for a in listed} == {"b"}
    assert main(["live", "status", "--account", "b"]) == 0
    text = capsys.readouterr().out
    assert "risk: score" in text and "pl: total" in text and "portfolio: value" in text


def test_kill_switch_ack_and_resume_from_the_command_line(db, files, capsys):
    assert main([*_replay_args(files), "--until", UNTIL]) == 0
    out = capsys.readouterr().out
    assert "until at event" in out and "SYNTHETIC" not in out
    assert main(["live", "kill-switch", "b", "--reason", "limit review", "--by", "Ann"]) == 0
    assert "b: ACTIVE -> HALTED by Ann (limit review)" in capsys.readouterr().out
    assert main(["live", "kill-switch", "b", "--reason", "again", "--by", "Ann"]) == 2
    assert "already HALTED" in capsys.readouterr().err
    assert main(["live", "kill-switch", "nobody", "--reason", "x", "--by", "Ann"]) == 2
    assert "no replay holds account 'nobody'" in capsys.readouterr().err
    assert main(["live", "kill-switch", "b", "--reason", " ", "--by", "Ann"]) == 2
    capsys.readouterr()
    assert main(_replay_args(files)) == 0
    assert "19 rejected" in capsys.readouterr().out
    assert main(["live", "status", "--account", "b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["risk"]["trading_state"] == "HALTED"
    assert main(["live", "resume", "b", "--by", "Bo"]) == 0
    assert "b: HALTED -> ACTIVE by Bo" in capsys.readouterr().out
    assert main(["live", "ack", "0000000000000000", "--by", "Ann"]) == 2
    assert "no alert '0000000000000000'" in capsys.readouterr().err
    assert main(["audit", "verify"]) == 0


def test_compliance_check_json(db, files, capsys):
    assert main([*_replay_args(files), "--until", UNTIL]) == 0
    capsys.readouterr()
    assert main(["compliance", "check", "c", "--regulations", "finra,custom", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["compliant"] is False
    assert [r["rule_id"] for r in out["results"]] == [
        "finra.reg_t_initial_margin", "finra.maintenance_margin",
        "custom.single_name_concentration", "custom.var_budget", "custom.risk_score_not_critical"]
    assert {r["status"] for r in out["results"]} <= {"compliant", "non_compliant",
                                                    "not_applicable"}
    assert all(r["source"] and "value" in r for r in out["results"])
    assert main(["compliance", "check", "c", "--regulations", "basel"]) == 2
    assert "no compliance rules for basel" in capsys.readouterr().err


def test_the_example_says_its_trades_are_synthetic(db, capsys):
    assert main(["live", "replay", "--example", "--until", "2021-01-15"]) == 0
    captured = capsys.readouterr()
    assert "SYNTHETIC trade blotter" in captured.err
    assert "the trades are SYNTHETIC" in captured.out
    assert main(["live", "replay", "--example", "--until", "2021-01-15", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["synthetic_trades"] is True and "SYNTHETIC" in result["note"]
    assert result["events_processed"] == 0 and result["status"] == "until"
    assert main(["live", "status", "--account", "alpha", "--json"]) == 0
    panels = json.loads(capsys.readouterr().out)
    assert panels["pl"]["position_count"] == 9  # alpha's first nine buys, 2021-01-04 … 14


def test_a_limit_below_one_is_bad_input_not_an_internal_error(db, files, capsys):
    assert main(_replay_args(files)) == 0
    capsys.readouterr()
    assert main(["live", "alerts", "--limit", "-1"]) == 2
    assert "limit must be at least 1, got -1" in capsys.readouterr().err
