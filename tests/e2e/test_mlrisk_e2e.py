"""Browser test: build a scenario, run a small validation, download the evidence zip."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.e2e.conftest import SCREENSHOTS, wait_for_app

ARTIFACTS = {"stress_scenarios.json", "robustness_results.json", "performance_degradation_report.json",
             "validation_decision.md", "evidence_manifest.json", "validation_report.html"}


@pytest.mark.e2e
@pytest.mark.xdist_group("e2e")
def test_build_scenario_run_validation_download_zip(app_server, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{app_server}/ml_handbook")
    # a new store is seeded with the bundled credit pool on first start: allow for it
    page.get_by_role("heading", name="Scenario handbook").wait_for(timeout=120_000)
    wait_for_app(page, timeout=120_000)
    page.get_by_role("textbox", name="Scenario id (letters, digits, _ . -)", exact=True).fill("e2e_limit_noise")
    page.get_by_role("textbox", name="Feature (numeric column)", exact=True).fill("LIMIT_BAL")
    page.get_by_role("textbox", name="Description", exact=True).fill("Noise on credit limits (browser test)")
    page.get_by_role("textbox", name="Real-world event", exact=True).fill("Bureau data glitch")
    page.get_by_role("button", name="Save scenario").click()
    page.get_by_text("Scenario e2e_limit_noise saved.").wait_for()
    wait_for_app(page)
    page.screenshot(path=str(SCREENSHOTS / "ml_handbook.png"), full_page=True)

    # client-side navigation keeps the session (and the edited handbook)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Model validation").click()
    page.get_by_role("heading", name="Model validation").wait_for()
    wait_for_app(page)
    rows = page.get_by_label("Rows to use (a seeded sample; 0 = all rows)")
    rows.fill("2000")
    rows.press("Enter")
    wait_for_app(page)
    page.get_by_text("e2e_limit_noise", exact=False).first.wait_for()
    page.get_by_role("button", name="Run validation").click()
    page.get_by_text("stored: decision", exact=False).wait_for(timeout=90_000)
    wait_for_app(page, timeout=60_000)
    page.get_by_text("Decision:", exact=False).first.wait_for()

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the evidence (zip)").click()
    data = open(info.value.path(), "rb").read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert set(zf.namelist()) == ARTIFACTS
        handbook = zf.read("stress_scenarios.json").decode()
    assert "e2e_limit_noise" in handbook
    page.get_by_text("Verify evidence").first.click()  # the expander
    page.get_by_role("button", name="Verify evidence").click()
    page.get_by_text("UNSIGNED: the files of run", exact=False).first.wait_for()  # no key in tests
    page.get_by_role("tab", name="Degradation").click()
    page.get_by_text("worsening % against baseline").first.wait_for()
    page.get_by_text("Decision:", exact=False).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "ml_validation.png"))
