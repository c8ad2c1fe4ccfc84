"""Sign-in in Chromium (issue 13): users of each role made with ``stresslab users add`` before the
app starts on its own temporary store; each signs in on a deep link and sees their name and role
in the sidebar and one thing their role may or may not do; a wrong password shows the plain
message; the sign-in page is screenshot at 1440 and 390 px wide."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.auth.workflow import SIGN_IN_FAILED
from tests.e2e.conftest import ROOT, SCREENSHOTS, start_server, stop_server, wait_for_app

PASSWORD = "e2e password, long enough"
ROLES = ("analyst", "validator", "leadership", "admin")


@pytest.fixture(scope="module")
def signin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a store holding one user per role (``<role>-e2e``), added by the command."""
    db = tmp_path_factory.mktemp("signin") / "signin.duckdb"
    env = dict(os.environ, STRESSLAB_DB=str(db))
    for role in ROLES:
        done = subprocess.run([sys.executable, "-m", "engine.cli", "users", "add", f"{role}-e2e",
                               "--role", role, "--password-stdin"], input=PASSWORD + "\n",
                              text=True, capture_output=True, env=env, cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
    proc, url, _ = start_server(db)
    try:
        yield url
    finally:
        stop_server(proc)


def _sign_in(page, url: str, *, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Name").wait_for()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    wait_for_app(page)


@pytest.mark.parametrize("role, path, check", [
    ("analyst", "stress_test", "may_run"),
    ("leadership", "stress_test", "refused_run"),
    ("validator", "pools", "refused_upload"),
    ("admin", "pools", "may_upload"),
])
def test_each_role_signs_in_and_sees_what_it_may_do(signin_server, page, role, path, check):
    _sign_in(page, f"{signin_server}/{path}", name=f"{role}-e2e", password=PASSWORD)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    assert f"{role}-e2e · {role}" in sidebar.inner_text()
    main = page.get_by_test_id("stMain")
    if check == "may_run":
        main.get_by_role("button", name="Run stress test").wait_for(timeout=60_000)
        assert "may not" not in main.inner_text()
    elif check == "refused_run":
        main.get_by_text("may not run a stress test").wait_for(timeout=60_000)
        assert main.get_by_role("button", name="Run stress test").count() == 0
    elif check == "refused_upload":
        main.get_by_role("tab", name="Upload a pool").click()
        main.get_by_role("tabpanel", name="Upload a pool").get_by_text(
            "may not upload or delete a pool").wait_for(timeout=60_000)
        assert page.get_by_test_id("stFileUploader").count() == 0
    else:
        main.get_by_role("tab", name="Upload a pool").click()
        page.get_by_test_id("stFileUploader").first.wait_for(timeout=60_000)
        assert "may not" not in main.inner_text()
    # signing out goes back to the sign-in page
    sidebar.get_by_role("button", name="Sign out").click()
    page.get_by_text("You signed out.").wait_for(timeout=60_000)


def test_a_wrong_password_shows_the_message_and_the_sign_in_page_stays(signin_server, page):
    _sign_in(page, signin_server, name="analyst-e2e", password="not the password")
    page.get_by_text(SIGN_IN_FAILED[:40]).wait_for(timeout=60_000)
    assert page.get_by_label("Name").is_visible()
    assert page.get_by_test_id("stSidebar").count() == 0 or \
        not page.get_by_test_id("stSidebar").is_visible()


@pytest.mark.parametrize("width, height", [(1440, 900), (390, 844)])
def test_screenshot_of_the_sign_in_page(signin_server, browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(signin_server)
        page.get_by_label("Name").wait_for(timeout=60_000)
        wait_for_app(page)
        box = page.get_by_test_id("stForm").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target: Path = SCREENSHOTS / f"signin_{width}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 0
    finally:
        context.close()
