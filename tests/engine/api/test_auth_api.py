"""The HTTP API under issue 13's users: one table of who may do what (``engine.auth.ACTIONS``)
for the API and the app; a token follows its user's current role and stops when the user is
disabled; a refused action stores nothing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient

from engine.auth import _passwords
from engine.auth._roles import ACTIONS, ROLES, may
from engine.auth.workflow import (
    RoleRequest,
    TokenRequest,
    UserRequest,
    add_user,
    create_token,
    disable_user,
    set_role,
)
from engine.store import Store
from tests.engine.api.test_credit_api import asset, body

SCENARIOS = "/api/v1/asset-classes/stress-testing/scenarios"
RUN = "/api/v1/asset-classes/stress-testing/run"


@pytest.fixture(autouse=True)
def cheap(monkeypatch):
    monkeypatch.setattr(_passwords, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


def _user_token(store: Store, name: str, role: str) -> dict[str, str]:
    add_user(UserRequest.build(name=name, role=role), password="a long password", by="ops",
             store=store)
    token = create_token(TokenRequest.build(user=name), by="ops", store=store).token
    return {"Authorization": f"Bearer {token}"}


def _body() -> dict:
    return body([asset(1)])


def _count(store: Store, table: str) -> int:
    with store.read() as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_token_follows_its_users_role_and_stops_when_the_user_is_disabled(
        client: TestClient, api_store: Store) -> None:
    lee = _user_token(api_store, "lee", "leadership")
    assert client.get(SCENARIOS, headers=lee).status_code == 200
    refused = client.post(RUN, json=_body(), headers=lee)
    assert refused.status_code == 403
    assert refused.json()["allowed"] == ["analyst", "admin"]
    assert "may not run a stress test" in refused.json()["message"]
    assert (_count(api_store, "pools"), _count(api_store, "runs")) == (0, 0)  # nothing stored

    set_role(RoleRequest.build(name="lee", role="analyst"), store=api_store)
    ran = client.post(RUN, json=_body(), headers=lee)
    assert ran.status_code == 200, ran.text
    assert _count(api_store, "runs") == 1

    disable_user("lee", store=api_store)
    gone = client.get(SCENARIOS, headers=lee)
    assert gone.status_code == 401 and "disabled or is not a user" in gone.json()["message"]


def test_once_users_exist_a_token_of_a_name_that_is_no_user_gets_401(
        client: TestClient, api_store: Store, auth) -> None:
    before = auth("analyst", user="script")       # made while no user existed
    assert client.get(SCENARIOS, headers=before).status_code == 200
    _user_token(api_store, "ana", "analyst")
    assert client.get(SCENARIOS, headers=before).status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_the_api_refuses_exactly_what_the_shared_table_refuses(client: TestClient, auth,
                                                               api_store: Store, role) -> None:
    """The kill switch (kill_switch) and an alert acknowledgement (acknowledge_alert) answer
    403 exactly when ``may`` says no; the refusal names the action in the table's words."""
    headers = auth(role)
    kill = client.post("/api/v1/system/emergency/kill-switch/nobody?reason=drill",
                       headers=headers)
    ack = client.post("/api/v1/alerts/nope/acknowledge", json={"acknowledged_by": "x"},
                      headers=headers)
    for response, action in ((kill, "kill_switch"), (ack, "acknowledge_alert")):
        if may(role, action):
            assert response.status_code == 404, response.text   # allowed; no such account/alert
        else:
            assert response.status_code == 403
            assert ACTIONS[action].words in response.json()["message"]
