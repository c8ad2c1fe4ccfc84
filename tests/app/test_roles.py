"""AppTest of each role's view (issue 13): a user of each role signs in through the sign-in page
and sees, on a page, what that role may and may not do. Pages stay visible to every role; an
action the role may not take shows the refusal (``dashboard.session.refuse_unless``) in place of
its control. The words come from ``engine.auth.ACTIONS``."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import add_test_user, reader_text, sign_in

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture()
def db(store, cheap_argon2):
    """A fresh store per test (conftest's ``store``), users' passwords hashed cheaply."""
    return store


def _signed_in_on(db: Path, *, role: str, page: str) -> AppTest:
    """A user named after ``role`` signs in, then opens ``pages/<page>.py``."""
    add_test_user(db, name=f"{role}-user", role=role)
    at = sign_in(AppTest.from_file(APP, default_timeout=120).run(), f"{role}-user")
    assert f"**{role}-user** · {role}" in reader_text(at.sidebar.markdown)
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button}


def test_analyst_sees_the_run_button_on_the_stress_test_page(db):
    at = _signed_in_on(db, role="analyst", page="stress_test")
    assert "stress_run" in _keys(at)
    assert "may not" not in reader_text(at.info)


def test_leadership_sees_the_refusal_instead_of_the_run_button(db):
    at = _signed_in_on(db, role="leadership", page="stress_test")
    assert "stress_run" not in _keys(at)
    assert ("Your role (leadership) may not run a stress test; that needs the role analyst or "
            "admin.") in reader_text(at.info)


def test_validator_is_refused_a_pool_upload(db):
    at = _signed_in_on(db, role="validator", page="pools")
    assert ("Your role (validator) may not upload or delete a pool; that needs the role analyst "
            "or admin.") in reader_text(at.info)
    assert not at.get("file_uploader")


def test_admin_may_do_everything_on_the_pools_page(db):
    at = _signed_in_on(db, role="admin", page="pools")
    assert "may not" not in reader_text(at.info)
    assert at.get("file_uploader")
