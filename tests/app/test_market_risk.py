"""AppTest of the VaR and limits page: renders, evaluates, switches mode, marks a false positive,
and shows engine errors (never a traceback) for bad uploads."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.store import connect

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "market_risk.py")
TIMEOUT = 60


@pytest.fixture()
def db(tmp_path, monkeypatch):
    from dashboard.state import connection

    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    connection.clear()  # the cached connection of an earlier test points at another file
    yield path
    connection.clear()


def _app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    return at.run()


def _frame(at: AppTest, column: str):
    """The displayed table that has ``column`` (AppTest does not expose a dataframe's key)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, f"expected one table with {column!r}"
    return found[0]


def _rows(db, sql):
    from dashboard.state import connection

    connection.clear()  # release the app's cached connection before reading the file
    con = connect(db)
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


def test_bad_price_upload_shows_an_error_not_a_traceback(db):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    # AppTest cannot drive st.file_uploader; call the page's cached loader the way it does.
    from dashboard.components.market import cached_prices
    from engine.errors import ValidationError

    with pytest.raises(ValidationError, match="sorted ascending"):
        cached_prices(b"date,A\n2024-01-02,1\n2024-01-01,2\n", "bad.csv")
