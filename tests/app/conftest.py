"""What the AppTests of sign-in and roles share: a test user's password, Argon2id at its
cheapest (tests only: a default hash takes about a second), the text a reader sees, and signing
in through the sign-in page (``dashboard.signin``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from streamlit.testing.v1 import AppTest

from engine.auth import _passwords
from engine.auth.workflow import UserRequest, add_user
from engine.store import Store

#: Every test user's password (long enough for the password rule).
PASSWORD = "a long enough password"


@pytest.fixture()
def cheap_argon2(monkeypatch):
    """Argon2id with argon2-cffi's cheapest parameters, so signing a test user in takes ms."""
    monkeypatch.setattr(_passwords, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture()
def store(tmp_path, monkeypatch):
    """A fresh store per test (its path, also in ``$STRESSLAB_DB`` for the app); the app's
    cached data are forgotten around it."""
    import streamlit as st

    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def reader_text(elements) -> str:
    """The elements' text as a reader sees it (Markdown's backslash escapes dropped)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(str(e.value) for e in elements))


def add_test_user(db: Path, *, name: str, role: str) -> None:
    """Add ``name`` with ``role`` and :data:`PASSWORD` to the store at ``db``, as
    ``stresslab users add`` does."""
    add_user(UserRequest.build(name=name, role=role), password=PASSWORD, by="test",
             store=Store(db))


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    """Fill in and submit the sign-in form; the app must not raise."""
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    at.button(key="signin_submit").click().run()
    assert not at.exception, at.exception
    return at
