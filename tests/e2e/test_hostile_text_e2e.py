"""Hostile text in real Chromium (finding 6 of issue 9): a pool, a custom scenario, a stress run, a
model validation and uploaded files whose names hold Markdown images, HTML and Plotly styles.

The store is seeded through the engine workflows (``import_pool``, ``save_scenario``,
``run_stress``, ``validate``, ``sign_off``) before ``streamlit run`` starts on it. Every planted
URL points at a listening "bait" server on 127.0.0.1 or, where a file name cannot hold a ``/``,
at a relative path on the app itself; every planted path starts with ``hostile-``. Each test
records every request the page makes (Playwright's ``request`` event) and asserts that none
leaves for another host, none asks for a ``hostile-`` path and the bait server was never hit;
and that the text is shown as written.

Before the fix every test here failed: ``![p](http://…)`` in a pool name or id rendered as an
image in the Pools page's delete message and checkbox and in the Stress test caption, column
names did so through the upload warnings, file names through messages and engine errors, and
``<span style="mask-image:url(…)">`` in a scenario name, loan id, feature or subgroup column made
Plotly fetch the URL.

Since issue 13 a custom scenario key holds only ``a-z``, ``0-9`` and ``_``: a hostile key is
refused (the refusal shows it as text) and the seeded key is plain. A user name may hold any
printable characters: a validator with a hostile name, added with ``stresslab users add`` on an
app of its own, signs in and signs off, and the sidebar and the sign-off read the name as written.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.conftest import ROOT, SCREENSHOTS, _free_port, start_server, stop_server, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

MARK = "hostile-"
#: The password of the user with the hostile name (``stresslab users add --password-stdin``).
PASSWORD = "e2e password, long enough"


class Bait:
    """An HTTP server on 127.0.0.1 that answers 404 and records every path asked of it."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                hits.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def md(self, tag: str) -> str:
        """A Markdown image of the bait server."""
        return f"![{tag}](http://127.0.0.1:{self.port}/{MARK}{tag}.png)"

    def html(self, tag: str) -> str:
        """An HTML image of the bait server."""
        return f'<img src="http://127.0.0.1:{self.port}/{MARK}{tag}.png">'

    def span(self, tag: str) -> str:
        """Plotly pseudo-HTML whose style makes Chromium fetch from the bait server."""
        return f'<span style="mask-image:url(http://127.0.0.1:{self.port}/{MARK}{tag}.png)">{tag}</span>'


@pytest.fixture(scope="module")
def bait() -> Iterator[Bait]:
    b = Bait()
    try:
        yield b
    finally:
        b.server.shutdown()


@pytest.fixture(scope="module")
def hostile(bait: Bait) -> dict[str, str]:
    """The planted text, by what it names."""
    return {
        "pool_id": bait.md("poolid"),
        "pool_name": f"{bait.md('poolname')} {bait.html('poolhtml')}",
        "loan_id": bait.span("loan"),
        "scenario_key": "my_stress",  # a key holds only a-z, 0-9 and _: no hostile key is stored
        "scenario_name": bait.md("n") + bait.span("s"),  # at most 120 characters
        "feature": bait.span("feature"),
        "group": bait.span("group"),
        "level": bait.md("level"),
        "validator": bait.md("validator"),
        # a user name: any printable characters, at most 128
        "user": f"{bait.md('user')} {bait.html('userhtml')} :blue[b]",
    }


def _seed(db: Path, bait: Bait, h: dict[str, str]) -> None:
    """A hostile pool, scenario, stress run (loan level kept), validation and sign-off, stored
    through the workflows as the commands and the API would."""
    from engine.credit import make_scenario
    from engine.credit.workflow import ImportPoolRequest, StressRunRequest, import_pool, run_stress, save_scenario
    from engine.mlrisk import parse_handbook
    from engine.mlrisk.workflow import ValidateRequest, sign_off, validate
    from engine.store import Store

    store = Store(db)
    loans = pd.DataFrame([{"asset_id": h["loan_id"] if i == 0 else f"L{i}", "asset_class": "consumer_loan",
                           "balance": 5000.0 if i == 0 else 1000.0 + 10 * i, "rate": 0.1, "term": 36, "age": 3}
                          for i in range(20)])  # the hostile loan is the largest: first in the drill-down
    import_pool(ImportPoolRequest.build(
        content=loans.to_csv(index=False).encode(), filename="hostile.csv", format="native",
        pool_id=h["pool_id"], pool_name=h["pool_name"], cutoff_date=date(2024, 1, 31)), store=store)
    save_scenario(h["scenario_key"], scenario=make_scenario(
        h["scenario_name"], description=bait.md("desc"), market_factors={"default_multiplier": 2.0}), store=store)
    run_stress(StressRunRequest.build(pool_id=h["pool_id"], scenario_names=["base", h["scenario_key"]],
                                      include_loan_level=True, analysis_date=date(2024, 1, 31), source="api"),
               store=store)

    rng = np.random.default_rng(7)
    n = 1000
    data = pd.DataFrame({"x": rng.normal(size=n), h["feature"]: rng.normal(size=n),
                         h["group"]: rng.choice([h["level"], "b", "c"], p=[0.1, 0.45, 0.45], size=n)})
    data["y"] = (data["x"] + rng.normal(size=n) > 0).astype(int)
    handbook = parse_handbook([
        {"scenario_id": "noise_1", "stress_type": "NOISE", "seed": 1, "severity_level": 3,
         "parameters": {"feature": h["feature"], "std_dev_multiplier": 0.5}, "description": bait.md("hbdesc"),
         "real_world_event": "e", "expected_business_impact": "i"},
        {"scenario_id": "sub_1", "stress_type": "SUBGROUP", "seed": 1, "severity_level": 2,
         "parameters": {"column": h["group"], "value": h["level"]}, "description": "d",
         "real_world_event": "e", "expected_business_impact": "i"}])
    done = validate(ValidateRequest.build(
        config={"target": "y", "features": ["x", h["feature"], h["group"]], "subgroups": [h["group"]],
                "model": "logistic_regression", "seed": 1},
        data_content=data.to_csv(index=False).encode(), data_name="hostile.csv", handbook=handbook,
        user=h["validator"], source="api"), store=store)
    sign_off(done.run_id, name=h["validator"], comment=bait.md("comment"), store=store)


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory, bait: Bait, hostile: dict[str, str]) -> Iterator[str]:
    """Base URL of the app on its own store, seeded with the hostile records."""
    db = tmp_path_factory.mktemp("hostile") / "hostile.duckdb"
    _seed(db, bait, hostile)
    proc, url, _ = start_server(db)
    try:
        yield url
    finally:
        stop_server(proc)


def _seed_validation(db: Path) -> None:
    """One small validation run (logistic regression, one NOISE scenario) to sign off."""
    from engine.mlrisk import parse_handbook
    from engine.mlrisk.workflow import ValidateRequest, validate
    from engine.store import Store

    rng = np.random.default_rng(11)
    n = 400
    data = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    data["y"] = (data["x"] + rng.normal(size=n) > 0).astype(int)
    handbook = parse_handbook([
        {"scenario_id": "noise_1", "stress_type": "NOISE", "seed": 1, "severity_level": 2,
         "parameters": {"feature": "x", "std_dev_multiplier": 0.5}, "description": "d",
         "real_world_event": "e", "expected_business_impact": "i"}])
    validate(ValidateRequest.build(
        config={"target": "y", "features": ["x", "z"], "model": "logistic_regression", "seed": 1},
        data_content=data.to_csv(index=False).encode(), data_name="small.csv", handbook=handbook,
        user="seed", source="api"), store=Store(db))


@pytest.fixture(scope="module")
def hostile_user_app(tmp_path_factory: pytest.TempPathFactory, hostile: dict[str, str]) -> Iterator[str]:
    """Base URL of the app on its own store: one validation run and one user, a validator whose
    name is hostile, added with ``stresslab users add --password-stdin`` before the app starts
    (so the app asks for sign-in)."""
    db = tmp_path_factory.mktemp("hostile_user") / "hostile_user.duckdb"
    _seed_validation(db)
    added = subprocess.run([sys.executable, "-m", "engine.cli", "users", "add", hostile["user"],
                            "--role", "validator", "--password-stdin"], input=PASSWORD + "\n",
                           text=True, capture_output=True, env=dict(os.environ, STRESSLAB_DB=str(db)),
                           cwd=ROOT, timeout=120)
    assert added.returncode == 0, added.stderr
    proc, url, _ = start_server(db)
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture()
def request_log(page, bait: Bait) -> Iterator[list[str]]:
    """Every URL the page requests; after the test: none but the app's own, none planted."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    before = len(bait.hits)
    yield seen
    page.wait_for_timeout(500)  # let late image loads arrive
    app = page.url.split("/", 3)[:3]
    foreign = [u for u in seen if u.split("/", 3)[:3] != app and not u.startswith(("data:", "blob:"))]
    assert not foreign, f"the browser left the app for: {foreign}"
    planted = [u for u in seen if MARK in u]
    assert not planted, f"the browser fetched planted URLs: {planted}"
    assert bait.hits[before:] == [], f"the bait server was asked for {bait.hits[before:]}"


def _goto(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page, timeout=120_000)


def _shows(page, text: str) -> None:
    """``text`` is on the page as written (whitespace normalised)."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=30_000)


def _upload(page, name: str, content: bytes, *, nth: int = 0, mime: str = "text/plain") -> None:
    page.locator('input[type="file"]').nth(nth).set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": content}])


def _shot(page, name: str, width: int) -> None:
    """The whole page at ``width`` px (Streamlit scrolls inside its main container)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(400)
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": width, "height": min(max(int(height) + 40, 900), 6000)})
    page.wait_for_timeout(600)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_pools_page_shows_the_stored_pool_as_text(hostile_app, page, request_log, hostile):
    _goto(page, f"{hostile_app}/pools")
    chosen = page.get_by_role("combobox", name="Pool").input_value()  # a selectbox shows text as it is
    assert chosen == f"{hostile['pool_name']}  ({hostile['pool_id']})"
    page.get_by_text("Delete this pool").click()
    _shows(page, f"Deleting {hostile['pool_name']} removes the pool")
    _shows(page, f"Yes, delete {hostile['pool_id']}")
    assert not page.locator('[data-testid="stMain"] img').count()
    _shot(page, "hostile_pools_1440", 1440)
    _shot(page, "hostile_pools_390", 390)


def test_pools_upload_shows_column_names_and_file_name_as_text(hostile_app, page, request_log, bait):
    """An upload whose file name and extra (ignored) columns hold Markdown and HTML: the warning
    that names the ignored columns, and the saved pool's name, read as written."""
    _goto(page, f"{hostile_app}/pools")
    columns = [bait.md("column"), bait.html("columnhtml"), ":red[colour] :material/home: $x^2$"]
    tape = pd.DataFrame([{"asset_id": f"U{i}", "asset_class": "auto_loan", "balance": 1000.0, "rate": 0.05,
                          "term": 48, "age": 2, **{c: "x" for c in columns}} for i in range(5)])
    file_name = f"![file]({MARK}file.png).csv"  # a file name cannot hold "/": a relative URL
    page.get_by_role("tab", name="Upload a pool").click()
    _upload(page, file_name, tape.to_csv(index=False).encode(), mime="text/csv")
    _shows(page, "Columns not in the canonical schema were ignored: " + ", ".join(columns))
    page.get_by_role("button", name="Save pool").click()
    _shows(page, f"Stored pool {file_name} (5 loans)")
    wait_for_app(page)


def test_stress_test_page_shows_pool_and_scenario_as_text(hostile_app, page, request_log, hostile):
    _goto(page, hostile_app)  # home: the runs table (a canvas) names the pool and the scenario
    page.get_by_text("Latest stress runs").wait_for()
    _goto(page, f"{hostile_app}/stress_test")
    _shows(page, f"Pool {hostile['pool_name']} · analysis date")
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.get_by_text(hostile["scenario_name"], exact=False).first.wait_for()  # the NPV chart's axis


def test_stress_test_drill_down_shows_the_loan_id_as_text(hostile_app, page, request_log, hostile):
    _goto(page, f"{hostile_app}/stress_test")
    page.get_by_role("tab", name="Loan drill-down").click()
    page.get_by_text("The 20 loans with the largest expected loss").wait_for(timeout=60_000)
    wait_for_app(page)
    _shows(page, f"Loan {hostile['loan_id']}: expected balance and cumulative loss")  # above its path chart
    page.mouse.move(700, 400)  # hover labels are drawn on demand


def test_scenarios_page_shows_a_stored_key_as_text(hostile_app, page, request_log, hostile):
    _goto(page, f"{hostile_app}/scenarios")
    _shows(page, f"Yes, delete {hostile['scenario_key']}")


def test_scenarios_form_shows_a_refused_key_and_a_saved_name_as_text(hostile_app, page, request_log):
    _goto(page, f"{hostile_app}/scenarios")
    bad_key, name = f"![k]({MARK}key.png)", f"![n]({MARK}name.png) :blue[b] $y$"
    page.get_by_label("Key", exact=True).fill(bad_key)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Save scenario").click()
    _shows(page, f"custom scenario '{bad_key}': 1 problem found; nothing was stored.")
    page.get_by_label("Key", exact=True).fill("my_saved")
    page.get_by_role("button", name="Save scenario").click()
    _shows(page, f"Saved custom scenario {name} as my_saved.")


def test_model_validation_page_shows_columns_and_levels_as_text(hostile_app, page, request_log, hostile):
    _goto(page, f"{hostile_app}/ml_validation")
    _shows(page, f"subgroup {hostile['group']} == '{hostile['level']}' has")  # the rationale
    page.get_by_role("tab", name="Distributions").click()
    _shows(page, f"{hostile['feature']}: before and after noise_1")  # the chart's title
    page.get_by_role("tab", name="Subgroups").click()
    _shows(page, f"Not evaluated: {hostile['group']}={hostile['level']}")


def test_model_validation_sign_off_shows_the_user_name_as_text(hostile_user_app, page, request_log, hostile):
    """A validator whose user name holds a Markdown image, HTML and a Streamlit directive signs
    in, and signs off a run: the sidebar, the sign-off form and its confirmation read the name
    as written."""
    name = hostile["user"]
    _goto(page, f"{hostile_user_app}/ml_validation")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    sidebar.get_by_text(f"{name} · validator", exact=False).first.wait_for()
    _shows(page, f"as {name} (validator).")  # the sign-off form says who signs
    page.get_by_role("button", name="Record sign-off").click()
    _shows(page, f"Sign-off by {name} recorded with run")
    assert not page.locator('[data-testid="stSidebar"] img, [data-testid="stMain"] img').count()


def test_handbook_import_shows_the_file_name_as_text(hostile_app, page, request_log):
    _goto(page, f"{hostile_app}/ml_handbook")
    file_name = f"![hb]({MARK}handbook.png).json"
    _upload(page, file_name, json.dumps([{
        "scenario_id": "n1", "stress_type": "NOISE", "parameters": {"feature": "LIMIT_BAL", "std_dev_multiplier": 0.5},
        "seed": 0, "severity_level": 2, "description": "d", "real_world_event": "e",
        "expected_business_impact": "i"}]).encode(), mime="application/json")
    page.get_by_role("button", name="Replace the handbook with this file").click()
    _shows(page, f"Imported {file_name}.")


def test_market_risk_page_shows_file_names_in_errors_as_text(hostile_app, page, request_log):
    _goto(page, f"{hostile_app}/market_risk")
    page.get_by_text("Data: prices, positions and limits").click()
    file_name = f"![lim]({MARK}limits.png).yaml"
    _upload(page, file_name, b"mode: monitoring\n", nth=2)
    _shows(page, f"limits file {file_name}:")
