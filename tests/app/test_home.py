"""AppTest of Home, the decision summary, through the entry script: on an empty store every tile
says "no run yet" and nothing fails; on a store with a run of each capability (made by the real
workflows on the bundled data) the tiles show the figures of ``decision_summary`` on the same
store, the pending list names who must act, an acknowledged alert leaves it, and the summary
report is prepared on demand in HTML and PDF."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.components.format import plain
from engine.credit import workflow as cw
from engine.live import workflow as lw
from engine.market import workflow as mw
from engine.mlrisk import ValidationConfig
from engine.mlrisk import workflow as mlw
from engine.reports.summary import decision_summary
from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
TIMEOUT = 120


def _unescaped(text: str) -> str:
    """Text as the reader sees it: Markdown's backslash escapes dropped (the page escapes every
    text with ``plain``)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


@pytest.fixture(scope="module")
def filled_path(tmp_path_factory) -> Path:
    """A store with a stress run, a validation, two limit evaluations and a desk replay."""
    folder = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("STRESSLAB_KEYS", str(folder / "keys"))
    try:
        store = Store(folder / "filled.duckdb", timeout=10)
        pool = cw.seed_store(store=store)
        for names in (["rate_shock_up"], ["rate_shock_up", "credit_crisis"]):
            cw.run_stress(cw.StressRunRequest(pool_id=pool, scenario_names=names, source="cli"),
                          store=store)
        config = ValidationConfig(target="default_payment_next_month", subgroups=["SEX"],
                                  model="logistic_regression", seed=1, row_limit=1500)
        mlw.validate(mlw.ValidateRequest(config=config, user="dana", source="cli"), store=store)
        mw.evaluate_limits(mw.LimitsRequest(), store=store, now=datetime(2024, 3, 1, 9))
        mw.evaluate_limits(mw.LimitsRequest(), store=store, now=datetime(2024, 3, 1, 10))
        lw.replay(lw.ReplayRequest.build(example=True, until="2021-01-31"), store=store)
    finally:
        mp.undo()
    return folder / "filled.duckdb"


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "home.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    monkeypatch.setenv("STRESSLAB_KEYS", str(tmp_path / "keys"))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


@pytest.fixture()
def filled(db, filled_path) -> Path:
    shutil.copyfile(filled_path, db)
    return db


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _ok(at)
    assert at.title[0].value == "StressLab"
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def _pending_table(at: AppTest):
    found = [d.value for d in at.dataframe if "who" in d.value.columns]
    assert len(found) == 1
    return found[0]


def test_empty_store_shows_no_run_yet_tiles_and_no_traceback(db):
    at = _app()
    assert [_unescaped(m.value) for m in at.metric] == ["no run yet"] * 4
    assert [_unescaped(m.label) for m in at.metric] == [
        "Worst stress NPV change", "Latest decision", "VaR against its limit",
        "Unacknowledged alerts"]
    assert any("Nothing is waiting" in s.value for s in at.success)
    assert not [d for d in at.dataframe if "who" in d.value.columns]
    links = [p.proto.page for p in at.get("page_link")]
    assert links[:4] == ["stress_test", "ml_validation", "market_risk", "risk_desk"]


def test_tiles_show_the_figures_of_the_decision_summary(filled):
    at = _app()
    summary = decision_summary(store=Store(filled))
    tiles = summary.tiles
    assert [_unescaped(m.label) for m in at.metric] == [t.label for t in tiles]
    assert [_unescaped(m.value) for m in at.metric] == [t.text for t in tiles]
    assert [_unescaped(m.delta or "") or None for m in at.metric] == [t.change_text for t in tiles]
    # the figures a reader checks: a rounded loss of millions, the decision, VaR, 19 alerts
    credit, validation, market, desk = (_unescaped(m.value) for m in at.metric)
    assert re.fullmatch(r"-\$\d+\.\dM", credit)
    assert validation == summary.validation.models[0].decision
    assert market == tiles[2].text and re.fullmatch(r"\$\d+\.\dK", market)
    assert desk == "19"
    assert _unescaped(at.metric[0].delta).endswith("vs previous run")
    # each tile links to the page that explains it
    assert [p.proto.page for p in at.get("page_link")][:4] == [t.page for t in tiles]
    # the tiles' lines are on the page
    captions = _unescaped("\n".join(c.value for c in at.caption))
    assert all(line in captions for t in tiles for line in t.lines[:4])


def test_pending_list_shows_who_must_act_and_loses_an_acknowledged_alert(filled):
    at = _app()
    summary = decision_summary(store=Store(filled))
    table = _pending_table(at)
    assert table["item_id"].tolist() == [p.item_id for p in summary.pending]
    assert table["who"].tolist() == [p.who for p in summary.pending]
    signoff = summary.validation.models[0].run_id
    assert table.set_index("item_id").loc[signoff, "who"] == "validator"
    assert table.set_index("item_id").loc[signoff, "page"] == "Model validation"
    alert = next(p for p in summary.pending if p.kind == "alert")
    assert table.set_index("item_id").loc[alert.item_id, "who"] == "analyst"
    lw.acknowledge(lw.AckRequest.build(alert_id=alert.item_id, by="Ana Lyst"), store=Store(filled))
    at.run()
    _ok(at)
    after = _pending_table(at)
    assert alert.item_id not in set(after["item_id"]) and len(after) == len(table) - 1
    assert _unescaped(at.metric[3].value) == "18"


def test_summary_report_is_prepared_on_demand_in_html_and_pdf(filled):
    at = _app()
    assert not at.get("download_button")  # nothing is built on a plain visit
    at.button(key="home_prepare").click().run()
    _ok(at)
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == ["Download HTML", "Download PDF"]


def test_a_pool_name_in_a_tile_is_shown_as_text(db):
    name = "![p](http://127.0.0.1:9/x.png) <b>bold</b> :red[r] $x$"
    loans = pd.DataFrame([{"asset_id": f"L{i}", "asset_class": "consumer_loan", "balance": 1000.0,
                           "rate": 0.1, "term": 36, "age": 3} for i in range(10)])
    store = Store(db)
    cw.import_pool(cw.ImportPoolRequest.build(
        content=loans.to_csv(index=False).encode(), filename="p.csv", format="native",
        pool_id="hostile", pool_name=name), store=store)
    cw.run_stress(cw.StressRunRequest.build(pool_id="hostile", scenario_names=["credit_crisis"],
                                            source="cli"), store=store)
    at = _app()
    shown = [c.value for c in at.caption if "bold" in c.value]
    assert len(shown) == 1 and plain(name) in shown[0]  # escaped: no image, tag or colour
