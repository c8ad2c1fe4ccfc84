"""An installed wheel finds its data: built from this checkout, unpacked away from it, it runs a
stress test of the bundled Lending Club tape with the Federal Reserve scenarios (both bundled)
on a new store (migrations and the assumption table are package data)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.xdist_group("packaging")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project's wheel, built without its dependencies and unpacked into a folder."""
    out = tmp_path_factory.mktemp("wheel")
    # Build from a copy of the sources: pip builds in the source tree (build/, *.egg-info), where
    # the other test workers are reading and writing at the same time.
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", ".stresslab", "__pycache__", ".hypothesis",
        ".pytest_cache"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                            "--quiet", "-w", str(out)], cwd=out, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(out.glob("stresslab-*.whl"))
    site = out / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("STRESSLAB_DATA_DIR",)}
    env.update(PYTHONPATH=str(site), STRESSLAB_DB=str(cwd / "store.duckdb"))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_wheel_carries_the_bundled_data_and_package_data(installed):
    names = {str(p.relative_to(installed)) for p in installed.rglob("*") if p.is_file()}
    assert "engine/_bundled/lendingclub_2018q1/loans_full_schema.csv.gz" in names
    assert "engine/_bundled/lendingclub_2018q1/PROVENANCE.md" in names
    assert any(n.startswith("engine/_bundled/fed_supervisory_scenarios_2025/") for n in names)
    assert "engine/store/migrations/0001_credit.sql" in names
    assert "engine/ingest/data/assumptions.csv" in names
    assert "engine/store/migrations/0007_live.sql" in names
    assert {"engine/_bundled/live/trades.csv", "engine/_bundled/live/compliance.yaml"} <= names
    assert "dashboard/assets/favicon.png" in names


def test_installed_wheel_runs_a_stress_test_of_the_bundled_pool(installed, tmp_path):
    where = _run(installed, tmp_path, "-c", "import engine, engine.bundled as b; "
                 "print(engine.__file__); print(b.data_file('lendingclub_2018q1', "
                 "'loans_full_schema.csv.gz'))")
    assert where.returncode == 0, where.stderr
    module, tape = where.stdout.split()
    assert module.startswith(str(installed)) and tape.startswith(str(installed))

    stored = _run(installed, tmp_path, "-m", "engine.cli", "pools", "import", tape,
                  "--format", "lendingclub", "--json")
    assert stored.returncode == 0, stored.stderr
    pool_id = json.loads(stored.stdout)["pool_id"]
    run = _run(installed, tmp_path, "-m", "engine.cli", "stress", pool_id, "--scenario",
               "fed_2025_severely_adverse", "--json")
    assert run.returncode == 0, run.stderr
    response = json.loads(run.stdout)
    assert set(response) == {"base", "fed_2025_severely_adverse"}
    assert response["fed_2025_severely_adverse"]["metrics"]["npv_change"] < 0
