"""Every page of the app, opened by its deep link in Chromium at 1440x900 and 390x844.

The store is a temporary one, filled before ``streamlit run`` starts with what a user would have
made: the app's own seeding (the bundled Lending Club pool), then through the ``stresslab``
command a stress run, a model validation, a VaR report, a backtest, a limit evaluation and a
live-desk replay, so every result page has content. Each page, once rendered (no running
indicator, no skeleton, charts drawn), is saved as ``<page>_<width>.png`` in the SCREENSHOTS
folder (``make screenshots``: docs/screenshots, which the README shows), then checked:

- no console error and no uncaught exception;
- every request goes to the app's own host (the app must work offline), and so does every
  resource the document names (the favicon, which the browser may fetch late or never); no request
  fails, none answers >= 400 except Streamlit's two documented probes of a deep link
  (:data:`tests.e2e.conftest.STREAMLIT_PROBES`, upstream issue 7074);
- no exception box (``stException``);
- no horizontal overflow: ``scrollWidth <= clientWidth`` for ``stMain`` and
  ``stMainBlockContainer``, and no element inside ``stMain`` wider than the viewport or reaching
  past its edges (an element inside a box that scrolls or clips is judged by that box);
- at 1440 px, no box that scrolls sideways: every table fits (at 390 px a table may scroll
  inside its frame).

The overflow is checked on the page as it opens, then with its expanders open, then with each of
its tabs open in turn (and the expanders in it).
A failure lists every problem of that page and width at once, each overflowing element with its
``data-testid`` and width, so the fix can go to the page's owner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    ROOT, SCREENSHOTS, horizontal_overflow, known_probes, named_off_host, record_traffic, screenshot_page,
    start_server, stop_server, wait_until_rendered,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

#: (name of the screenshot, url path in dashboard/app.py, the page's title as its h1 shows it).
PAGES = [
    ("home", "", "StressLab"),
    ("pools", "pools", "Pools"),
    ("scenarios", "scenarios", "Scenarios"),
    ("stress_test", "stress_test", "Stress test"),
    ("ml_validation", "ml_validation", "Model validation"),
    ("ml_handbook", "ml_handbook", "Scenario handbook"),
    ("market_risk", "market_risk", "VaR and limits"),
    ("risk_desk", "risk_desk", "Risk desk"),
]
#: (width, height) in CSS px: a laptop and a phone.
VIEWPORTS = [(1440, 900), (390, 844)]
#: From this width on, no box may scroll sideways: every table and chart fits.
WIDE = 1440
#: A small seeded validation of the bundled UCI credit-card data (runs in about a second).
VALIDATION = {"target": "default_payment_next_month", "subgroups": ["SEX", "EDUCATION"],
              "model": "logistic_regression", "seed": 1, "row_limit": 2000}


def _stresslab(*args: str, db: Path) -> str:
    """Run the ``stresslab`` command on store ``db``; its output, or a failure with it."""
    done = subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, STRESSLAB_DB=str(db)), timeout=300)
    assert done.returncode == 0, f"stresslab {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _fill(db: Path, folder: Path) -> None:
    """The app's first-start seeding, then a run of each capability through the command line."""
    from engine.credit.workflow import SEED_POOL_ID, seed_store
    from engine.store import Store

    assert seed_store(store=Store(db)) == SEED_POOL_ID
    _stresslab("stress", SEED_POOL_ID, "--scenario", "base", "--scenario", "rate_shock_up",
               "--scenario", "credit_crisis", db=db)
    config = folder / "validation.json"
    config.write_text(json.dumps(VALIDATION))
    _stresslab("validate", "--config", str(config), "--out", str(folder / "evidence"), "--user", "e2e", db=db)
    _stresslab("var", db=db)
    _stresslab("backtest", db=db)
    _stresslab("limits", "evaluate", db=db)
    _stresslab("live", "replay", "--example", "--until", "2021-01-31", db=db)


@pytest.fixture(scope="module")
def filled_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app on its own store, filled by :func:`_fill`."""
    folder = tmp_path_factory.mktemp("pages")
    db = folder / "pages.duckdb"
    _fill(db, folder)
    proc, url, _ = start_server(db)
    try:
        yield url
    finally:
        stop_server(proc)


def _overflow_problems(page, *, width: int) -> list[str]:
    """One line per horizontal overflow found at the current viewport (see the module docstring)."""
    found = horizontal_overflow(page)
    out = []
    for name, block in found["blocks"].items():
        if block is None:
            out.append(f"no [data-testid={name}] on the page")
        elif block["scrollWidth"] > block["clientWidth"]:
            out.append(f"{name} scrollWidth {block['scrollWidth']} > clientWidth {block['clientWidth']}")
    out += [f"wider than the {found['viewport']} px viewport: [data-testid={w['testid']}] <{w['tag']}"
            f" class={w['cls']!r}> left {w['left']} width {w['width']} right {w['right']}"
            f" text {w['text']!r}" for w in found["wide"]]
    if width >= WIDE:  # the issue: every table fits at 1440 (at 390 a table may scroll in its frame)
        out += [f"scrolls sideways: [data-testid={b['testid']}] content {b['scrollWidth']} px in"
                f" {b['clientWidth']} px, under heading {b['under']!r}"
                + (f" in tab {b['tab']!r}" if b["tab"] else "") for b in found["scrolling"]]
    return out


def _open_expanders(page) -> None:
    """Open every closed expander shown (its content is not drawn, so not judged, while shut)."""
    closed = page.locator('[data-testid="stMain"] [data-testid="stExpander"] details:not([open]) > summary')
    for i in reversed(range(closed.count())):  # opened ones leave the list: go from the end
        summary = closed.nth(i)
        if summary.is_visible():
            summary.click()
    wait_until_rendered(page)


def _problems_when_opened(page, *, width: int, seen: list[str]) -> list[str]:
    """Open the expanders, then every tab of the page in turn (those shown: a tab inside a tab
    that is not open is left shut) with its expanders, and check the overflow each time; only
    problems not in ``seen`` are returned."""
    out: list[str] = []

    def check(where: str) -> None:
        _open_expanders(page)
        # A click leaves the pointer over the page, and Streamlit draws an element's hover
        # toolbar (stElementToolbar) only under a pointer: move it onto the header so that what
        # is measured is the page as laid out, not wherever the pointer happened to rest.
        page.mouse.move(width // 2, 2)
        page.wait_for_timeout(200)
        for problem in _overflow_problems(page, width=width):
            if problem not in seen:
                seen.append(problem)
                out.append(f"{where}: {problem}")

    check("with the expanders open")
    tabs = page.locator('[data-testid="stMain"] [role="tab"]')
    for i in range(tabs.count()):
        tab = tabs.nth(i)
        if not tab.is_visible() or tab.get_attribute("aria-selected") == "true":
            continue
        label = tab.inner_text().strip()
        tab.click()
        wait_until_rendered(page)
        check(f"with tab {label!r} open")
    return out


@pytest.mark.parametrize(("width", "height"), VIEWPORTS, ids=[str(w) for w, _ in VIEWPORTS])
@pytest.mark.parametrize(("name", "url_path", "title"), PAGES, ids=[p[0] for p in PAGES])
def test_page_renders_offline_without_errors_or_overflow(filled_app, browser, name, url_path, title,
                                                         width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(60_000)
    traffic = record_traffic(page, filled_app)
    try:
        page.goto(f"{filled_app}/{url_path}")
        page.locator("h1", has_text=title).first.wait_for()
        wait_until_rendered(page)
        problems = _overflow_problems(page, width=width)  # at the real viewport, before the tall screenshot
        screenshot_page(page, SCREENSHOTS / f"{name}_{width}.png", width=width, height=height)
        problems += _problems_when_opened(page, width=width, seen=list(problems))
        page.wait_for_timeout(300)  # let late requests (images, fonts) show up in the log
        exceptions = page.locator('[data-testid="stException"]').all_inner_texts()
        problems += [f"exception box: {text[:300]}" for text in exceptions]
        problems += [f"names a resource off the app's host: {u}" for u in named_off_host(page, filled_app)]
        problems += traffic.problems(tolerated=known_probes(filled_app, url_path))
    finally:
        context.close()
    assert not problems, f"{name} at {width} px:\n" + "\n".join(problems)
