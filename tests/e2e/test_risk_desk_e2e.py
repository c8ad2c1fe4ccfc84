"""Chromium drives the Risk desk: starts the bundled replay, sees the panels change without a
full rerun, pauses, acknowledges an alert, triggers and releases a kill switch; each action is
checked in the store through the engine's read functions. Screenshots at 1440 and 390 px.

How "without a full rerun" is told: the alert inbox, outside the panels' fragment, says when it
was read ("read at HH:MM:SS UTC", to the second). A full run of the page script reads it again
and writes a new time; a fragment run does not run that code. The test waits until the
replay's event count has changed twice over more than a second and asserts the inbox's time
and its DOM node are the same as before.
"""

from __future__ import annotations

import getpass
import re
import time

import pytest
from playwright.sync_api import expect

from engine.live import workflow as lw
from engine.store import Store
from tests.e2e.conftest import SCREENSHOTS, wait_for_app

#: The app runs in single-user mode (no users in its store): actions are recorded under the
#: login name of the user running it, the same as this test's (dashboard/session.py).
ME = getpass.getuser()

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

SHOTS = SCREENSHOTS
EVENTS = re.compile(r"Events ([\d,]+) of ([\d,]+)")


def _events(page) -> int:
    text = page.locator('[data-testid="stProgress"]').first.inner_text()
    return int(EVENTS.search(text).group(1).replace(",", ""))


def _shot(page, name: str, *, width: int) -> None:
    """The whole page: Streamlit scrolls inside its own container, so the viewport is made as
    tall as the page for the picture, then set back."""
    before = page.viewport_size
    page.set_viewport_size({"width": width, "height": 1000})
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": width, "height": min(int(height) + 50, 6000)})
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.wait_for_timeout(500)  # let the table canvases and charts paint
    page.screenshot(path=str(SHOTS / name), full_page=True)
    page.set_viewport_size(before)


def _form(page, heading: str):
    return page.locator('[data-testid="stForm"]').filter(has_text=heading)


def test_replay_panels_ack_and_kill_switch(app_server, app_store, browser):
    store = Store(app_store)
    # A replay stopped early through the engine: three accounts and their first alerts.
    lw.replay(lw.ReplayRequest.build(example=True, until="2021-01-31"), store=store)
    start_events = lw.desk(store=store).session.events_done

    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{app_server}/risk_desk")
        wait_for_app(page)
        page.get_by_text("SYNTHETIC trade blotter").wait_for()
        assert _events(page) == start_events

        # Start: the panels tick while the rest of the page stays as it was drawn.
        stamp = page.get_by_text(re.compile(r"read at \d\d:\d\d:\d\d UTC"))
        first = stamp.inner_text()
        page.wait_for_timeout(1100)  # so that the click's full run writes another second
        page.get_by_role("button", name="Start replay").click()
        page.get_by_role("button", name="Replaying…").wait_for()
        # The click's full run has drawn the whole page once the inbox shows its new time.
        page.wait_for_function(
            "t => [...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
            ".some(e => e.innerText.includes('read at') && !e.innerText.includes(t))",
            arg=first.split("read at ")[1][:8])
        wait_for_app(page)
        before = stamp.inner_text()
        node = stamp.element_handle()
        seen = [_events(page)]
        t0 = time.monotonic()
        while (len(set(seen)) < 3 or time.monotonic() - t0 < 1.5) and time.monotonic() - t0 < 20:
            page.wait_for_timeout(250)
            seen.append(_events(page))
        assert len(set(seen)) >= 3 and seen[-1] > seen[0] >= start_events, seen
        assert stamp.inner_text() == before
        assert node.evaluate("e => e.isConnected")
        _shot(page, "risk_desk_running_1440.png", width=1440)

        page.get_by_role("button", name="Pause").click()
        page.get_by_text(re.compile(r"paused at [\d,]+/16,888")).wait_for()
        wait_for_app(page)
        paused = lw.desk(store=store).session
        assert paused.status == "paused" and paused.events_done > start_events

        # Acknowledge the alert the form offers first (the newest open one).
        open_before = len(lw.alerts(store=store).alerts)
        ack = _form(page, "Acknowledge an alert")
        ack.get_by_label("Note (optional)").fill("seen in e2e")
        ack.get_by_role("button", name="Acknowledge").click()
        done = page.get_by_text(re.compile(rf"Alert \w+ acknowledged by {re.escape(ME)}\."))
        alert_id = re.search(r"Alert (\w+) acknowledged", done.inner_text()).group(1)
        stored = {a["alert_id"]: a for a in
                  lw.alerts(store=store, include_acknowledged=True).alerts}[alert_id]
        assert (stored["is_acknowledged"], stored["acknowledged_by"], stored["ack_note"]) == (
            True, ME, "seen in e2e")
        assert len(lw.alerts(store=store).alerts) == open_before - 1

        # Kill switch on alpha (the form's default account), confirmed; then resume it.
        page.get_by_role("tab", name="Kill switch").click()
        kill = _form(page, "Kill switch")
        kill.get_by_label("Reason").fill("e2e drill")
        kill.get_by_text("I confirm").click()
        kill.get_by_role("button", name="Trigger kill switch").click()
        page.get_by_text(f"alpha is HALTED (was ACTIVE), by {ME}.").wait_for()
        wait_for_app(page)
        states = lw.desk(store=store).accounts.set_index("account_id")["trading_state"]
        assert states.to_dict() == {"alpha": "HALTED", "beta": "ACTIVE", "gamma": "ACTIVE"}
        page.get_by_role("tab", name="Kill switch").click()
        resume = _form(page, "Resume trading")
        expect(resume.get_by_label("Account")).to_have_value("alpha (HALTED)")
        _shot(page, "risk_desk_halted_1440.png", width=1440)
        resume.get_by_role("button", name="Resume trading").click()
        page.get_by_text(f"alpha is ACTIVE again, by {ME}.").wait_for()
        states = lw.desk(store=store).accounts.set_index("account_id")["trading_state"]
        assert states["alpha"] == "ACTIVE"

        page.reload()
        wait_for_app(page)
        page.get_by_text("SYNTHETIC trade blotter").wait_for()
        _shot(page, "risk_desk_390.png", width=390)
    finally:
        context.close()
