"""Fixtures for the hostile-file corpus: a private store per test, and the limits' settings cleared
so a test sees the defaults unless it sets one."""

from __future__ import annotations

import pytest

from engine.limits import SETTINGS


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "hostile.duckdb"))
    for env, _unit in SETTINGS.values():
        monkeypatch.delenv(env, raising=False)
