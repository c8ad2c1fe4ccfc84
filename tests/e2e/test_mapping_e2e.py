"""In Chromium: upload the worked example's servicer tape (two rows made bad), map it with the
saved mapping, import it with the bad rows quarantined, and see the count on the pool."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.e2e.conftest import ROOT, wait_for_app

EXAMPLE = ROOT / "data" / "servicer_tape_example"
SHOTS = Path("/tmp/stresslab_mapping_shots")


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label``."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def test_map_with_the_saved_mapping_and_quarantine(app_server, app_store, page, tmp_path):
    from engine.credit.workflow import list_pools, parse_mapping, save_mapping
    from engine.store import Store

    save_mapping(parse_mapping((EXAMPLE / "servicer_mapping.json").read_bytes()),
                 store=Store(app_store))
    tape = pd.read_csv(EXAMPLE / "servicer_tape.csv", dtype=str).head(300)
    tape.loc[[4, 9], "LOAN_STAT"] = "ZZZ"        # rows 5 and 10: a code the mapping lacks
    path = tmp_path / "servicer-e2e.csv"
    tape.to_csv(path, index=False)

    page.goto(f"{app_server}/pools")
    wait_for_app(page, timeout=60_000)
    page.get_by_role("tab", name="Upload a pool").click()
    page.locator('input[type="file"]').first.set_input_files(str(path))
    page.get_by_text("Map columns", exact=True).wait_for(timeout=60_000)
    # Streamlit's date field is one spin button per part (YYYY/MM/DD): type them in order
    page.get_by_label("Cutoff date", exact=True).get_by_role("spinbutton").first.click()
    page.keyboard.type("20180630")
    page.keyboard.press("Tab")
    wait_for_app(page)
    _pick(page, "Reuse a saved mapping", "Servicer tape example")
    page.get_by_text("2 rows have problems.").wait_for(timeout=60_000)
    page.get_by_text("Import the valid rows, quarantine the bad ones").click()
    wait_for_app(page)
    page.get_by_role("button", name="Save pool").wait_for(timeout=60_000)
    SHOTS.mkdir(exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        wait_for_app(page)
        page.get_by_text("the first rows mapped").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"pools_mapping_{width}.png"))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("button", name="Save pool").click()
    page.get_by_test_id("stAlertContentSuccess").filter(
        has_text="2 bad rows were quarantined").wait_for(timeout=60_000)
    pools = list_pools(store=Store(app_store)).set_index("pool_id")
    assert (pools.loc["servicer-e2e", "n_assets"], pools.loc["servicer-e2e", "n_quarantined"]) == (
        298, 2)
    page.get_by_role("tab", name="Stored pools").click()
    wait_for_app(page)
    page.get_by_text("2 rows of this pool's tape were quarantined").wait_for(timeout=60_000)
    page.get_by_role("button", name="Download quarantined rows (CSV)").wait_for()
    page.screenshot(path=str(SHOTS / "pools_stored_quarantine_1440.png"), full_page=True)


def test_a_2014_cutoff_date_is_typed_and_stored(app_server, app_store, page, tmp_path):
    """The date picker takes a date more than ten years back (its default range is ±10 years
    of today), and the pool is stored with it."""
    from engine.credit.workflow import list_pools
    from engine.store import Store

    path = tmp_path / "autos-2014.csv"
    pd.DataFrame({"asset_id": ["A1", "A2"], "asset_class": ["auto_loan", "auto_loan"],
                  "balance": [10_000.0, 12_000.0], "rate": [0.06, 0.07], "term": [60, 60],
                  "age": [12, 24]}).to_csv(path, index=False)
    page.goto(f"{app_server}/pools")
    wait_for_app(page, timeout=60_000)
    page.get_by_role("tab", name="Upload a pool").click()
    page.locator('input[type="file"]').first.set_input_files(str(path))
    page.get_by_role("button", name="Save pool").wait_for(timeout=60_000)
    page.get_by_label("Cutoff date", exact=True).get_by_role("spinbutton").first.click()
    page.keyboard.type("20140630")
    page.keyboard.press("Tab")
    wait_for_app(page)
    page.get_by_role("button", name="Save pool").click()
    page.get_by_test_id("stAlertContentSuccess").first.wait_for(timeout=60_000)
    pools = list_pools(store=Store(app_store)).set_index("pool_id")
    assert str(pools.loc["autos-2014", "cutoff_date"])[:10] == "2014-06-30"
