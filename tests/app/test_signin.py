"""AppTest of sign-in (issue 13), through the entry script: single-user mode while no user
exists; once one does, a sign-in page before anything else; right and wrong passwords, the
lockout, sign-out, the session's expiry (idle and absolute) and a user disabled or given
another role while signed in. Users are added with the engine's workflow, as
``stresslab users add`` does; times are moved by editing the session's stored times, never by
sleeping."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.auth.workflow import (
    SESSION_ENDED,
    SIGN_IN_FAILED,
    RoleRequest,
    disable_user,
    set_role,
)
from engine.store import Store
from tests.app.conftest import PASSWORD, add_test_user, reader_text, sign_in

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture()
def db(store, cheap_argon2):
    """A fresh store per test (conftest's ``store``), users' passwords hashed cheaply."""
    return store


def _add(db: Path, name: str = "ana", role: str = "analyst") -> None:
    add_test_user(db, name=name, role=role)


def _on_sign_in_page(at: AppTest) -> bool:
    return [s.value for s in at.subheader] == ["Sign in"] and not at.metric \
        and len(at.sidebar) == 0


def test_single_user_mode_says_so_in_the_sidebar(db):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert reader_text(at.sidebar.caption).startswith(
        f"Single-user mode: you are **{getpass.getuser()}** with every role. Add a user "
        "(`stresslab users add`) to require sign-in.")
    assert at.metric  # Home's figures: the app opens straight onto data
    assert "signin_name" not in [t.key for t in at.text_input]


def test_once_a_user_exists_only_the_sign_in_page_shows(db):
    _add(db)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert _on_sign_in_page(at)
    assert [t.label for t in at.text_input] == ["Name", "Password"]
    from streamlit.proto.TextInput_pb2 import TextInput

    assert at.text_input(key="signin_password").proto.type == TextInput.PASSWORD
    assert at.text_input(key="signin_password").autocomplete == "current-password"


def test_a_wrong_password_shows_the_plain_message_and_the_right_one_signs_in(db):
    _add(db, name="ana", role="analyst")
    at = sign_in(AppTest.from_file(APP, default_timeout=120).run(), "ana", "wrong password")
    assert reader_text(at.error) == SIGN_IN_FAILED
    assert _on_sign_in_page(at)
    at = sign_in(at, "ana", PASSWORD)
    assert not _on_sign_in_page(at) and at.metric  # Home
    assert "**ana** · analyst" in reader_text(at.sidebar.markdown)
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert "Single-user mode" not in reader_text(at.sidebar.caption)
    at.sidebar.button(key="signout").click().run()
    assert _on_sign_in_page(at)
    assert reader_text(at.info) == "You signed out."


def test_five_wrong_passwords_lock_even_the_right_one(db):
    _add(db)
    at = AppTest.from_file(APP, default_timeout=120).run()
    for _ in range(5):
        at = sign_in(at, "ana", "wrong password")
    at = sign_in(at, "ana", PASSWORD)
    assert _on_sign_in_page(at) and reader_text(at.error) == SIGN_IN_FAILED


@pytest.mark.parametrize("moved, says", [
    ("_last_seen", "Your session ended after 30 minutes without activity. Sign in again."),
    ("_signed_in_at", "Your session ended 12 hours after you signed in. Sign in again."),
])
def test_the_session_expires(db, moved, says):
    _add(db)
    at = sign_in(AppTest.from_file(APP, default_timeout=120).run(), "ana", PASSWORD)
    assert not _on_sign_in_page(at)
    back = timedelta(minutes=30) if moved == "_last_seen" else timedelta(hours=12)
    at.session_state[moved] = at.session_state[moved] - back
    at.run()
    assert _on_sign_in_page(at) and reader_text(at.info) == says


def test_a_user_disabled_while_signed_in_is_signed_out_at_the_next_check(db):
    _add(db)
    at = sign_in(AppTest.from_file(APP, default_timeout=120).run(), "ana", PASSWORD)
    disable_user("ana", by="test", store=Store(db))
    at.run()  # checked less than a minute ago: still in
    assert not _on_sign_in_page(at)
    at.session_state["_checked_at"] = at.session_state["_checked_at"] - timedelta(minutes=1)
    at.run()
    assert _on_sign_in_page(at) and reader_text(at.info) == SESSION_ENDED


def test_a_new_role_applies_at_the_next_check(db):
    _add(db)
    at = sign_in(AppTest.from_file(APP, default_timeout=120).run(), "ana", PASSWORD)
    set_role(RoleRequest.build(name="ana", role="leadership"), by="test", store=Store(db))
    at.session_state["_checked_at"] = at.session_state["_checked_at"] - timedelta(minutes=1)
    at.run()
    assert "**ana** · leadership" in reader_text(at.sidebar.markdown)
