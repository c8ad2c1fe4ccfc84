"""Fixtures every engine test may use."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from engine.store import connect


@pytest.fixture()
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """A throw-away in-memory store with every migration applied."""
    c = connect(":memory:")
    yield c
    c.close()
