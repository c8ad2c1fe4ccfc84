"""The analyst's whole credit workflow in real headless Chromium against `streamlit run`:
upload the real Lending Club tape, build a custom scenario, run a stress test, wait for the chart,
download the response JSON and check it; a screenshot of every page goes to the SCREENSHOTS folder (conftest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, SCREENSHOTS, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
SHOTS = SCREENSHOTS
RESPONSE_KEYS = {"pool_name", "analysis_date", "status", "execution_time", "metrics", "analytics",
                 "cache_hit"}
METRIC_KEYS = {"npv", "irr", "total_principal", "total_interest", "duration",
               "weighted_average_life", "npv_change", "npv_change_percent"}


def _shot(page, name: str) -> None:
    """A screenshot of the whole page (Streamlit scrolls inside its own container, so the
    viewport is made as tall as the content first)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": 1400, "height": min(max(int(height) + 40, 900), 6000)})
    page.wait_for_timeout(600)  # let Plotly re-layout to the new size
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def _goto(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page, timeout=60_000)


def test_upload_scenario_run_download(app_server, app_store, page, tmp_path: Path):
    # Home: the seeded real pool is there.
    _goto(page, app_server)
    page.get_by_role("heading", name="StressLab").wait_for()
    assert not page.locator('[data-testid="stException"]').count()

    # Pools: upload the real tape, check it, save it.
    _goto(page, f"{app_server}/pools")
    page.get_by_test_id("stMetric").first.wait_for()  # the seeded pool's statistics
    page.get_by_role("tab", name="Upload a pool").click()
    page.locator('input[type="file"]').first.set_input_files(str(TAPE))
    page.get_by_text("Detected format").wait_for(timeout=60_000)
    page.get_by_label("Pool id", exact=True).fill("lc-upload")
    page.get_by_label("Pool id", exact=True).press("Enter")
    wait_for_app(page)
    page.get_by_text("Assumptions that will be applied").wait_for(timeout=60_000)
    page.get_by_role("button", name="Save pool").click()
    page.get_by_test_id("stAlertContentSuccess").filter(has_text="Stored pool").wait_for(
        timeout=60_000)
    assert not page.locator('[data-testid="stException"]').count()
    page.get_by_role("tab", name="Stored pools").click()
    wait_for_app(page)
    _shot(page, "pools")

    # Scenarios: build a custom scenario with the form.
    _goto(page, f"{app_server}/scenarios")
    page.get_by_label("Key", exact=True).fill("e2e_recession")
    page.get_by_label("Name", exact=True).fill("E2E recession")
    page.get_by_label("Default multiplier (×)", exact=True).fill("2.5")
    page.get_by_label("Recovery multiplier (×)", exact=True).fill("0.7")
    page.get_by_role("button", name="Save scenario").click()
    page.get_by_test_id("stAlertContentSuccess").filter(
        has_text="Saved custom scenario").wait_for(timeout=30_000)
    assert page.get_by_text("E2E recession").count()
    _shot(page, "scenarios")

    # Stress test: the uploaded pool, two predefined scenarios and the custom one.
    _goto(page, f"{app_server}/stress_test")
    pool_box = page.get_by_test_id("stSelectbox").filter(has_text="Pool").first
    pool_box.click()
    page.get_by_role("option", name="loans_full_schema.csv.gz").click()
    wait_for_app(page)
    scen = page.get_by_test_id("stMultiSelect").first.locator("input")
    scen.click()
    scen.fill("E2E rec")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_for_app(page)
    # off by default above 5,000 loans (storing them is most of a run's time); the drill-down
    # below needs them
    page.get_by_text("Keep loan-level results").click()
    wait_for_app(page)
    page.get_by_role("button", name="Run stress test").click()
    chart = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    chart.wait_for(state="visible", timeout=120_000)
    page.get_by_text("NPV change against the base case").first.wait_for()
    wait_for_app(page, timeout=60_000)
    assert not page.locator('[data-testid="stException"]').count()

    with page.expect_download() as info:
        page.get_by_role("button", name="Response JSON").click()
    target = tmp_path / "response.json"
    info.value.save_as(target)
    response = json.loads(target.read_text())
    assert {"base", "e2e_recession", "rate_shock_up", "credit_crisis"} <= set(response)
    for entry in response.values():
        assert RESPONSE_KEYS <= set(entry)
        assert entry["status"] == "success"
        assert METRIC_KEYS <= set(entry["metrics"])
        assert entry["pool_name"] == "loans_full_schema.csv.gz"
    assert response["e2e_recession"]["analytics"]["scenario"]["market_factors"][
        "default_multiplier"] == pytest.approx(2.5)
    assert response["e2e_recession"]["metrics"]["npv_change"] < 0
    report = response["base"]["analytics"]["stress_test_report"]
    assert report["scenarios_failed"] == 0
    _shot(page, "stress_test")
    page.get_by_role("tab", name="Loan drill-down").click()
    page.get_by_text("The 20 loans with the largest expected loss").wait_for(timeout=60_000)
    wait_for_app(page)
    page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').nth(2).wait_for(state="visible")
    _shot(page, "stress_test_drill_down")

    # The run was recorded by the workflow, and another process can read it while the app runs.
    from engine.credit.workflow import list_pools, list_runs
    from engine.store import Store

    runs = list_runs(store=Store(app_store, timeout=30))
    mine = runs[runs["pool_id"] == "lc-upload"]
    assert mine["status"].tolist() == ["success"]
    assert mine["pool_name"].iloc[0] == "loans_full_schema.csv.gz"
    assert mine["n_scenarios"].iloc[0] == len(response)
    assert "lc-upload" in set(list_pools(store=Store(app_store, timeout=30))["pool_id"])

    # Home again: the run is listed with its worst scenario.
    _goto(page, app_server)
    page.get_by_text("Latest stress runs").wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for()  # the runs table (drawn on a canvas)
    _shot(page, "home")
