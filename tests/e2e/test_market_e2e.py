"""Browser test: the VaR and limits page renders its VaR table and backtest chart, records a VaR
report, evaluates the limits, switches the enforcement mode and shows the breach."""

from __future__ import annotations

import re

import pytest

from engine.store import Store
from tests.e2e.conftest import SCREENSHOTS, wait_for_app


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_var_table_backtest_chart_and_mode_switch(app_server, app_store, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{app_server}/market_risk")
    wait_for_app(page, timeout=60_000)
    page.locator("h1", has_text="VaR and limits").first.wait_for()
    page.get_by_text("Methods compared (USD)").wait_for()
    var_table = page.get_by_test_id("stDataFrame").first
    var_table.wait_for()
    assert var_table.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "market_var.png"), full_page=True)
    page.get_by_role("button", name="Record this VaR report").click()
    page.get_by_text("VaR report recorded as run", exact=False).wait_for(timeout=60_000)
    wait_for_app(page)

    page.get_by_role("tab", name="Backtest").click()
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for()
    assert chart.is_visible()
    page.get_by_text("Loss against VaR", exact=False).first.wait_for()
    page.screenshot(path=str(SCREENSHOTS / "market_backtest.png"), full_page=True)

    page.get_by_role("tab", name="Limits and sensors").click()
    page.get_by_role("button", name="Evaluate limits now").click()
    page.get_by_text(re.compile(r"Evaluation \w+ recorded by .+: action")).wait_for(timeout=60_000)
    wait_for_app(page)
    page.get_by_test_id("stRadio").get_by_text("gradual", exact=True).click()
    page.get_by_text("Mode set to gradual", exact=False).wait_for()
    wait_for_app(page)
    page.get_by_role("tab", name="Limits and sensors").click()
    page.get_by_text("Stored mode: gradual", exact=False).wait_for()
    page.screenshot(path=str(SCREENSHOTS / "market_limits.png"), full_page=True)

    page.get_by_role("tab", name="Breaches").click()
    page.get_by_text("Mark a breach as a false positive").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "market_breaches.png"), full_page=True)

    with Store(app_store).read() as con:  # the app holds the store only while it works
        summaries = sorted(r[0] for r in con.execute(
            "SELECT summary FROM runs WHERE kind = 'market'").fetchall())
    assert len(summaries) == 2
    assert summaries[0].startswith("VaR 99 % (historical) ")
    assert summaries[1].startswith("limit evaluation (monitoring mode): ")
