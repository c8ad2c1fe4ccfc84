"""One store, many processes: with the app serving and a page open in Chromium, the commands list
and import pools and four stress runs start at the same moment; every one succeeds, `runs list`
shows exactly four new runs with distinct ids, and the app then shows them with no error."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.conftest import ROOT, start_server, stop_server, wait_for_app

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
SEED_POOL = "lendingclub-2018q1"


def _cli(db: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ, STRESSLAB_DB=str(db), STRESSLAB_LOCK_TIMEOUT="60")
    return subprocess.Popen([sys.executable, "-m", "engine.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(db: Path, *args: str) -> str:
    proc = _cli(db, *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"stresslab {' '.join(args)} exited {proc.returncode}: {err}"
    return out


def _errors_on_page(page) -> list[str]:
    shown = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    return [shown.nth(i).inner_text() for i in range(shown.count())]


def test_app_commands_and_four_concurrent_runs_share_the_store(tmp_path, page):
    db = tmp_path / "shared.duckdb"
    proc, url, _ = start_server(db)
    try:
        page.goto(url)  # Home seeds the store with the bundled pool, then lets go of it
        wait_for_app(page, timeout=120_000)
        page.get_by_text("Latest stress runs").wait_for(timeout=120_000)
        assert _errors_on_page(page) == []

        pools = json.loads(_run(db, "pools", "list", "--json"))
        assert SEED_POOL in {p["pool_id"] for p in pools}
        before = {r["run_id"] for r in json.loads(_run(db, "runs", "list", "--json"))}

        small = tmp_path / "forty.csv"
        pd.read_csv(io.BytesIO(gzip.decompress(TAPE.read_bytes())), nrows=40).to_csv(small, index=False)
        _run(db, "pools", "import", str(small), "--name", "Forty loans")
        assert {p["pool_id"] for p in json.loads(_run(db, "pools", "list", "--json"))} >= {SEED_POOL, "forty"}

        # Four stress runs at the same moment, while the page reloads the store.
        runs = [_cli(db, "stress", SEED_POOL, "--scenario", "credit_crisis", "--no-cache", "--json")
                for _ in range(4)]
        page.goto(f"{url}/stress_test")
        outputs = [r.communicate(timeout=300) for r in runs]
        for r, (out, err) in zip(runs, outputs, strict=True):
            assert r.returncode == 0, err
            response = json.loads(out)
            assert response["credit_crisis"]["status"] == "success"
            assert response["credit_crisis"]["metrics"]["npv_change"] < 0

        listed = json.loads(_run(db, "runs", "list", "--json"))
        new = [r for r in listed if r["run_id"] not in before]
        assert len(new) == 4 and len({r["run_id"] for r in new}) == 4
        assert {(r["kind"], r["status"]) for r in new} == {("credit", "success")}

        # The app shows those runs with no error.
        page.goto(url)
        wait_for_app(page, timeout=60_000)
        page.get_by_text("Latest stress runs").wait_for(timeout=60_000)
        assert _errors_on_page(page) == []
        # Home's credit tile reads the four runs: a worst NPV change, no longer "no run yet"
        tile = page.locator('[data-testid="stMetric"]').filter(has_text="Worst stress NPV change")
        value = tile.locator('[data-testid="stMetricValue"]').inner_text().strip()
        assert value.startswith("-$"), value
        page.goto(f"{url}/stress_test")
        wait_for_app(page, timeout=60_000)
        page.get_by_text("Results", exact=True).first.wait_for(timeout=60_000)
        assert _errors_on_page(page) == []
    finally:
        stop_server(proc)
