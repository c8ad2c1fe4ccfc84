"""Fixtures for the HTTP API: the app on a temporary store, under FastAPI's TestClient (its
lifespan runs: the task runner starts and stops), and a token per role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from engine.api.app import create_app
from engine.auth.workflow import TokenRequest, create_token
from engine.store import Store


@pytest.fixture
def api_store(tmp_path) -> Store:
    return Store(tmp_path / "api.duckdb", timeout=5)


@pytest.fixture
def client(api_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store=api_store)) as c:
        yield c


@pytest.fixture
def token(api_store: Store) -> Callable[..., str]:
    """``token(role, user=None)``: a new bearer token of ``role`` for ``user`` (default: the
    role's name)."""
    def make(role: str, user: str | None = None) -> str:
        return create_token(TokenRequest.build(user=user or role, role=role), store=api_store).token

    return make


@pytest.fixture
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """``auth(role, user=None)``: the Authorization header of a new token."""
    def make(role: str, user: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(role, user)}"}

    return make
