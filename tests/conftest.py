"""Fixtures for every test: no test touches the developer's signing key.

``STRESSLAB_KEYS`` (the key directory of :mod:`engine.audit.keys`) points at an empty directory
of the test run for the whole session, so that servers started by session fixtures inherit it,
and at a fresh empty directory for each test: no key means an unsigned trail unless a test
creates one (``engine.audit.keys.init_keys``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _session_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRESSLAB_KEYS", str(tmp_path_factory.mktemp("session-keys")))
        yield


@pytest.fixture(autouse=True)
def _keys_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRESSLAB_KEYS", str(tmp_path_factory.mktemp("keys")))
