"""AppTest of the VaR and limits page: renders, evaluates, switches mode, marks a false positive,
records a VaR report, and shows engine errors (never a traceback) for bad uploads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.components.format import plain
from engine.store import connect

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "market_risk.py")
TIMEOUT = 60


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def _app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    return at.run()


def _frame(at: AppTest, column: str):
    """The displayed table that has ``column`` (AppTest does not expose a dataframe's key)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, f"expected one table with {column!r}"
    return found[0]


def _rows(db, sql):
    con = connect(db)  # the app holds no session between runs
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_page_renders_var_table_backtest_and_sensors(db):
    at = _app()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "VaR and limits"
    var = _frame(at, "VaR 99%")
    assert list(var.index) == ["historical", "parametric", "cornish_fisher", "monte_carlo"]
    assert list(var.columns) == ["VaR 95%", "VaR 99%", "VaR 99.9%", "ES 97.5%"]
    bt = _frame(at, "Kupiec POF LR")
    assert bt["traffic light"].iloc[0] in {"green", "yellow", "red"}
    assert set(_frame(at, "max_drawdown")["name"]) == {"2008 crisis", "2020 crash"}
    sensors = _frame(at, "false_positive_rate_per_week")
    assert len(sensors) == 10 and set(sensors["status"]) == {"MONITORING"}
    assert len(at.get("plotly_chart")) == 1
    # No signing key in the test's key directory: the trail is intact but unsigned.
    assert any("Audit trail: UNSIGNED, 0 records" in w.value.replace("\\", "") for w in at.warning)
    assert _rows(db, "SELECT count(*) FROM runs") == [(0,)]  # computing records nothing


def test_evaluate_switch_mode_and_mark_false_positive(db):
    at = _app()
    at.button(key="mr_evaluate").click().run()
    assert not at.exception and not at.error
    assert any("recorded" in s.value for s in at.success)
    at.radio(key="mr_mode").set_value("gradual").run()
    assert not at.exception
    assert any("Mode set to gradual" in s.value for s in at.success)
    at.text_input(key="mr_fp_reason").input("stale price feed")
    at.button(key="FormSubmitter:mr_fp_form-Mark false positive").click().run()
    assert not at.exception and not at.error
    rows = _rows(db, "SELECT event_type FROM audit_chain ORDER BY seq")
    types = [r[0] for r in rows]
    assert types[0] == "evaluation" and "mode_change" in types and types[-1] == "false_positive"
    assert _rows(db, "SELECT new_mode FROM market_mode_changes") == [("gradual",)]
    runs = _rows(db, "SELECT kind, summary FROM runs")
    assert len(runs) == 1 and runs[0][0] == "market"
    assert runs[0][1].startswith("limit evaluation (monitoring mode): ")


def test_record_var_report_and_backtest_store_one_run_each(db):
    at = _app()
    at.button(key="mr_record_var").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("VaR report recorded as run" in s.value for s in at.success)
    at.button(key="mr_record_bt").click().run()
    assert not at.exception and not at.error
    assert any("Backtest recorded as run" in s.value for s in at.success)
    summaries = sorted(r[0] for r in _rows(db, "SELECT summary FROM runs WHERE kind = 'market'"))
    assert len(summaries) == 2
    assert summaries[0].startswith("VaR 99 % (historical) ")
    assert summaries[1].startswith("backtest historical VaR 99 % on portfolio")


def test_a_stress_window_ending_before_it_starts_is_an_engine_error(db):
    at = _app()
    at.text_input(key="mr_st_name").input("mine")
    at.date_input(key="mr_st_end").set_value(date(2021, 1, 4)).run()
    assert not at.exception
    assert any(e.value.startswith(plain("stress replay request: 1 problem")) for e in at.error)
    issues = _frame(at, "rule")  # show_error lays the validation issues out as a table
    assert "must precede end" in issues["rule"].iloc[0]


def test_bad_price_upload_shows_an_error_not_a_traceback(db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    # AppTest cannot drive st.file_uploader; call the page's cached loader the way it does.
    from dashboard.components.market import cached_inputs
    from engine.errors import ValidationError
    from engine.market.workflow import DataFile, InputsRequest

    bad = DataFile.from_bytes(b"date,A\n2024-01-02,1\n2024-01-01,2\n", name="bad.csv")
    with pytest.raises(ValidationError, match="sorted ascending"):
        cached_inputs(InputsRequest.build(prices=bad))
