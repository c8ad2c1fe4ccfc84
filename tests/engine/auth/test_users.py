"""Users (issue 13): Argon2id password hashes, sign-in, the lockout after 5 wrong passwords and
its end, disabled users, role changes, tokens bound to users, the audit records, the sign-in
policy's pure functions and ``stresslab users add|list|disable|set-role``.

Most tests hash with argon2-cffi's cheapest parameters (``cheap`` fixture; the same Argon2id,
1 pass over 8 KiB) so that a lockout series of six sign-ins takes milliseconds, not seconds;
the tests of the stored hash and of sign-in itself use the default parameters.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher, profiles

from engine.audit.workflow import verify_audit
from engine.auth import _passwords, _policy
from engine.auth._roles import ACTIONS, ROLES, Principal, authorize_action, may
from engine.auth.workflow import (
    PASSWORD_TOKEN_ID,
    SESSION_ENDED,
    SIGN_IN_FAILED,
    TOKEN_USER_REFUSED,
    RoleRequest,
    TokenRequest,
    UserRequest,
    add_user,
    authenticate,
    check_user,
    create_token,
    disable_user,
    list_tokens,
    list_users,
    set_role,
    sign_in,
    users_exist,
)
from engine.cli import main
from engine.errors import AuthenticationError, InputError, NotFoundError, PermissionDeniedError
from engine.store import Store

T0 = datetime(2026, 3, 2, 9, 30)
PASSWORD = "correct horse battery"


@pytest.fixture()
def store(tmp_path):
    return Store(tmp_path / "s.duckdb")


@pytest.fixture()
def cheap(monkeypatch):
    """Argon2id with argon2-cffi's cheapest parameters (tests only)."""
    monkeypatch.setattr(_passwords, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "cli.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    return path


def _add(store, name="ana", role="analyst", password=PASSWORD):
    return add_user(UserRequest.build(name=name, role=role), password=password, by="ops",
                    store=store, now=T0)


def _user_rows(store):
    with store.read() as con:
        cur = con.execute("SELECT * FROM users ORDER BY user_name")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def _audit_events(store):
    with store.read() as con:
        return [(r[0], json.loads(r[1])) for r in con.execute(
            "SELECT event_type, payload FROM audit_chain ORDER BY seq").fetchall()]


def _refused(store, name, password, at):
    with pytest.raises(AuthenticationError) as info:
        sign_in(name, password=password, store=store, now=at)
    assert str(info.value) == SIGN_IN_FAILED
    return info.value


# --------------------------------------------------------------------------- the stored hash

def test_the_default_hasher_is_rfc_9106_low_memory_argon2id():
    # RFC 9106, section 4, second recommended option: Argon2id, t=3, m=2^16 KiB, p=4
    assert _passwords.HASHER.time_cost == 3
    assert _passwords.HASHER.memory_cost == 2 ** 16
    assert _passwords.HASHER.parallelism == 4
    assert _passwords.HASHER.type.name == "ID"


def test_the_store_holds_an_argon2id_hash_and_never_the_password(store):
    added = _add(store)
    assert (added.name, added.role, added.created_by, added.created_at) == (
        "ana", "analyst", "ops", T0)
    row = _user_rows(store)[0]
    assert row["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    for value in row.values():
        assert PASSWORD not in str(value)
    assert _passwords.verify_password(row["password_hash"], PASSWORD)
    assert not _passwords.verify_password(row["password_hash"], PASSWORD + "!")
    other = _add(store, name="bo")  # same password, another salt: another hash
    assert _user_rows(store)[1]["password_hash"] != row["password_hash"] and other.audit_seq == 2
    assert (row["failed_attempts"], row["locked_until"], row["disabled"]) == (0, None, False)


def test_sign_in_with_the_right_password_gives_the_principal(store):
    _add(store, name="vera", role="validator")
    who = sign_in("  vera ", password=PASSWORD, store=store, now=T0)
    assert who == Principal(user="vera", role="validator", token_id=PASSWORD_TOKEN_ID)
    assert _user_rows(store)[0]["last_sign_in_at"] == T0


def test_wrong_password_unknown_name_and_blank_fields_give_one_message(store, cheap):
    _add(store)
    for name, password in [("ana", "wrong password"), ("nobody", PASSWORD), ("Ana", PASSWORD),
                           ("", PASSWORD), ("ana", ""), (None, PASSWORD), ("ana", "x" * 5000)]:
        exc = _refused(store, name, password, T0)
        assert "ana" not in str(exc) and "nobody" not in str(exc)
    row = _user_rows(store)[0]
    assert row["failed_attempts"] == 1 and row["last_sign_in_at"] is None  # only the first counted


def test_a_password_made_with_older_parameters_is_rehashed_at_sign_in(store, monkeypatch):
    monkeypatch.setattr(_passwords, "HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))
    _add(store)
    assert _user_rows(store)[0]["password_hash"].startswith("$argon2id$v=19$m=8,t=1,p=1$")
    monkeypatch.setattr(_passwords, "HASHER", PasswordHasher())
    sign_in("ana", password=PASSWORD, store=store, now=T0)
    stored = _user_rows(store)[0]["password_hash"]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert sign_in("ana", password=PASSWORD, store=store, now=T0).user == "ana"


# --------------------------------------------------------------------------- the lockout

def test_five_wrong_passwords_lock_the_user_for_15_minutes_then_it_ends(store, cheap):
    _add(store)
    for i in range(1, 5):
        _refused(store, "ana", "wrong", T0 + timedelta(seconds=i))
        assert (_user_rows(store)[0]["failed_attempts"], _user_rows(store)[0]["locked_until"]) \
            == (i, None)
    fifth = T0 + timedelta(seconds=5)
    _refused(store, "ana", "wrong", fifth)
    row = _user_rows(store)[0]
    assert (row["failed_attempts"], row["locked_until"]) == (5, fifth + timedelta(minutes=15))
    # locked: the right password is refused too, and nothing is written (the lock is not pushed)
    _refused(store, "ana", PASSWORD, fifth + timedelta(minutes=14, seconds=59))
    _refused(store, "ana", "wrong", fifth + timedelta(minutes=10))
    assert _user_rows(store)[0]["locked_until"] == fifth + timedelta(minutes=15)
    info = list_users(store=store).rows[0]
    assert info.locked(fifth + timedelta(minutes=1)) and not info.locked(fifth + timedelta(minutes=15))
    # at the lock's end the right password signs in and the count is back to 0
    who = sign_in("ana", password=PASSWORD, store=store, now=fifth + timedelta(minutes=15))
    assert who.user == "ana"
    row = _user_rows(store)[0]
    assert (row["failed_attempts"], row["locked_until"]) == (0, None)
    events = [e for e, _ in _audit_events(store)]
    assert events == ["user_added", "user_locked"]
    locked = _audit_events(store)[1][1]
    assert locked["user"] == "ana" and locked["failed_attempts"] == 5


def test_a_success_resets_the_count(store, cheap):
    _add(store)
    for i in range(4):
        _refused(store, "ana", "wrong", T0 + timedelta(seconds=i))
    sign_in("ana", password=PASSWORD, store=store, now=T0 + timedelta(seconds=5))
    for i in range(4):
        _refused(store, "ana", "wrong", T0 + timedelta(seconds=10 + i))
    row = _user_rows(store)[0]
    assert (row["failed_attempts"], row["locked_until"]) == (4, None)
    assert sign_in("ana", password=PASSWORD, store=store, now=T0 + timedelta(seconds=20)).user == "ana"


def test_a_wrong_password_after_a_lock_ended_starts_a_new_series(store, cheap):
    _add(store)
    for i in range(5):
        _refused(store, "ana", "wrong", T0)
    later = T0 + timedelta(minutes=16)
    _refused(store, "ana", "wrong", later)
    row = _user_rows(store)[0]
    assert (row["failed_attempts"], row["locked_until"]) == (1, None)


@pytest.mark.parametrize("count, locked_until, success, now, expected", [
    (0, None, True, T0, (0, None, False)),
    (4, None, True, T0, (0, None, False)),
    (0, None, False, T0, (1, None, False)),
    (3, None, False, T0, (4, None, False)),
    (4, None, False, T0, (5, T0 + timedelta(minutes=15), True)),
    (5, T0, False, T0 + timedelta(minutes=1), (1, None, False)),   # the lock has ended
])
def test_after_attempt_table(count, locked_until, success, now, expected):
    got = _policy.after_attempt(failed_attempts=count, locked_until=locked_until,
                                success=success, now=now)
    assert (got.failed_attempts, got.locked_until, got.locked_now) == expected
    assert (_policy.MAX_FAILED_ATTEMPTS, _policy.LOCKOUT) == (5, timedelta(minutes=15))


@pytest.mark.parametrize("signed_in, last_seen, expected", [
    (timedelta(hours=1), timedelta(minutes=29, seconds=59), None),
    (timedelta(hours=1), timedelta(minutes=30), "idle"),
    (timedelta(hours=11, minutes=59), timedelta(0), None),
    (timedelta(hours=12), timedelta(0), "absolute"),
    (timedelta(hours=13), timedelta(hours=1), "absolute"),
])
def test_session_expiry_table(signed_in, last_seen, expected):
    now = T0 + timedelta(days=1)
    assert _policy.session_expiry(signed_in_at=now - signed_in, last_seen=now - last_seen,
                                  now=now) == expected


# --------------------------------------------------------------------------- disable, set-role

def test_a_disabled_user_cannot_sign_in_and_is_signed_out(store, cheap):
    _add(store)
    assert check_user("ana", store=store).role == "analyst"
    done = disable_user("ana", by="root", store=store, now=T0 + timedelta(hours=1))
    assert (done.name, done.disabled, done.changed_by, done.audit_seq) == ("ana", True, "root", 2)
    _refused(store, "ana", PASSWORD, T0 + timedelta(hours=2))
    assert _user_rows(store)[0]["failed_attempts"] == 0  # a refused disabled user writes nothing
    with pytest.raises(AuthenticationError, match="disabled or removed"):
        check_user("ana", store=store)
    assert str(SESSION_ENDED).startswith("Your account was disabled")
    with pytest.raises(InputError, match="disabled already \\(by root at 2026-03-02 10:30:00"):
        disable_user("ana", store=store)
    with pytest.raises(NotFoundError, match="no user 'zed'"):
        disable_user("zed", store=store)


def test_set_role_changes_what_sign_in_and_the_session_get(store, cheap):
    _add(store)
    done = set_role(RoleRequest.build(name="ana", role="leadership"), by="root", store=store,
                    now=T0)
    assert (done.old_role, done.role, done.changed_by) == ("analyst", "leadership", "root")
    assert sign_in("ana", password=PASSWORD, store=store, now=T0).role == "leadership"
    assert check_user("ana", store=store).role == "leadership"
    with pytest.raises(InputError, match="has the role leadership already"):
        set_role(RoleRequest.build(name="ana", role="leadership"), store=store)
    with pytest.raises(NotFoundError):
        set_role(RoleRequest.build(name="zed", role="admin"), store=store)
    with pytest.raises(InputError):  # not one of the four roles
        RoleRequest.build(name="ana", role="boss")


@pytest.mark.parametrize("password, says", [
    ("short", "8 to 1024 characters long; it has 5"),
    ("x" * 1025, "it has 1025"),
    ("tab\tinside!", "control characters"),
])
def test_bad_passwords_are_refused_unrepeated_and_nothing_is_stored(store, password, says):
    with pytest.raises(InputError) as info:
        _add(store, password=password)
    assert says in str(info.value) and password not in str(info.value)
    assert not users_exist(store=store)


def test_a_second_user_of_the_same_name_is_refused(store, cheap):
    _add(store)
    with pytest.raises(InputError, match="exists already"):
        _add(store, role="admin")
    assert [(r["user_name"], r["role"]) for r in _user_rows(store)] == [("ana", "analyst")]


def test_audit_records_of_users_hold_no_hash_and_the_trail_verifies(store, cheap):
    _add(store)
    set_role(RoleRequest.build(name="ana", role="validator"), by="root", store=store, now=T0)
    disable_user("ana", by="root", store=store, now=T0)
    events = _audit_events(store)
    assert [e for e, _ in events] == ["user_added", "user_role_set", "user_disabled"]
    assert events[1][1] == {"user": "ana", "old_role": "analyst", "role": "validator",
                            "set_by": "root", "set_at": "2026-03-02T09:30:00"}
    stored_hash = _user_rows(store)[0]["password_hash"]
    text = json.dumps(events)
    assert PASSWORD not in text and stored_hash not in text
    found = verify_audit(store=store)
    assert found.ok and found.records == 3


# --------------------------------------------------------------------------- tokens and users

def test_without_users_tokens_carry_their_own_role(store):
    made = create_token(TokenRequest.build(user="bot", role="leadership"), by="ops", store=store)
    assert authenticate(made.token, store=store).role == "leadership"
    with pytest.raises(InputError, match="give the token's role"):
        create_token(TokenRequest.build(user="bot"), by="ops", store=store)


def test_once_users_exist_a_token_names_an_enabled_user_and_takes_its_role(store, cheap):
    old = create_token(TokenRequest.build(user="bot", role="admin"), by="ops", store=store)
    _add(store)
    _add(store, name="gone", role="validator")
    disable_user("gone", store=store)
    for request, says in [(TokenRequest.build(user="zed"), "'zed' is not a user"),
                          (TokenRequest.build(user="gone"), "'gone' is disabled"),
                          (TokenRequest.build(user="ana", role="admin"),
                           "has the role analyst")]:
        with pytest.raises(InputError, match=says):
            create_token(request, by="ops", store=store)
    assert [t.user for t in list_tokens(store=store).rows] == ["bot"]  # nothing stored
    made = create_token(TokenRequest.build(user="ana"), by="ops", store=store)
    assert made.role == "analyst"
    assert authenticate(made.token, store=store) == Principal("ana", "analyst", made.token_id)
    # the token follows its user's role and state
    set_role(RoleRequest.build(name="ana", role="validator"), store=store)
    assert authenticate(made.token, store=store).role == "validator"
    disable_user("ana", store=store)
    with pytest.raises(AuthenticationError) as info:
        authenticate(made.token, store=store)
    assert str(info.value) == TOKEN_USER_REFUSED
    # a token made before users existed, for a name that is no user, stops too
    with pytest.raises(AuthenticationError, match="not a user of this store"):
        authenticate(old.token, store=store)


# --------------------------------------------------------------------------- one table of roles

@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_authorize_action_agrees_with_may(role, action):
    who = Principal("pat", role, "t")
    if may(role, action):
        authorize_action(who, action)
    else:
        with pytest.raises(PermissionDeniedError) as info:
            authorize_action(who, action)
        assert ACTIONS[action].words in str(info.value)
        assert info.value.allowed[-1] == "admin" and role not in info.value.allowed


def test_the_role_table_of_issue_13():
    rows = {role: {a for a in ACTIONS if may(role, a)} for role in ROLES}
    assert rows["leadership"] == {"read", "download"}
    assert rows["analyst"] == {"read", "download", "upload_pool", "edit_scenarios", "run_stress",
                               "run_market", "mark_false_positive", "acknowledge_alert",
                               "run_compliance"}
    assert rows["validator"] == {"read", "download", "run_validation", "edit_handbook",
                                 "sign_off"}
    assert rows["admin"] == set(ACTIONS)


# --------------------------------------------------------------------------- the command

def test_cli_users_add_from_stdin_list_set_role_disable(db, capsys, monkeypatch, cheap):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "ana", "--role", "analyst", "--password-stdin"]) == 0
    assert "added user 'ana' with the role analyst" in capsys.readouterr().out
    assert sign_in("ana", password=PASSWORD, store=Store(db)).role == "analyst"

    assert main(["users", "list", "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert [(r["name"], r["role"], r["disabled"], r["failed_attempts"]) for r in rows] == [
        ("ana", "analyst", False, 0)]
    assert "argon2" not in out and PASSWORD not in out

    assert main(["users", "set-role", "ana", "validator"]) == 0
    assert "role analyst -> validator" in capsys.readouterr().out
    assert main(["users", "disable", "ana", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["disabled"] is True
    assert main(["users", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "role", "state"]
    assert lines[1].split()[:3] == ["ana", "validator", "disabled"]
    assert main(["users", "disable", "ana"]) == 2
    assert "disabled already" in capsys.readouterr().err


def test_cli_users_add_without_a_terminal_or_stdin_refuses_and_stores_nothing(db, capsys,
                                                                              monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "add", "ana", "--role", "admin"]) == 2
    assert "--password-stdin" in capsys.readouterr().err
    assert main(["users", "add", "ana", "--role", "admin", "--password-stdin"]) == 2
    assert "standard input is empty" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "ana", "--role", "admin", "--password-stdin"]) == 2
    err = capsys.readouterr().err
    assert "8 to 1024 characters" in err and "Traceback" not in err
    assert not users_exist(store=Store(db))


def test_cli_users_add_asks_twice_on_a_terminal(db, tmp_path, cheap):
    """A real pseudo-terminal: getpass reads from it (never an argument)."""
    import os
    import pty
    import subprocess
    import sys

    def run(first: str, second: str) -> tuple[int, str]:
        leader, follower = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "users", "add", "tty",
                                 "--role", "leadership"], stdin=follower, stdout=follower,
                                stderr=follower, env=dict(os.environ, STRESSLAB_DB=str(db)),
                                close_fds=True)
        os.close(follower)
        out = b""
        for answer in (first, second):
            while b": " not in out.rsplit(b"\n", 1)[-1]:
                chunk = os.read(leader, 1024)
                out += chunk
            os.write(leader, answer.encode() + b"\n")
            out += os.read(leader, 1024)
        status = proc.wait(timeout=60)
        try:
            while chunk := os.read(leader, 1024):
                out += chunk
        except OSError:  # the terminal closed with the process
            pass
        os.close(leader)
        return status, out.decode(errors="replace")

    status, out = run(PASSWORD, PASSWORD + "x")
    assert status == 2 and "the two passwords differ" in out and not users_exist(store=Store(db))
    status, out = run(PASSWORD, PASSWORD)
    assert status == 0 and "added user 'tty' with the role leadership" in out
    assert PASSWORD not in out  # getpass does not echo
    assert sign_in("tty", password=PASSWORD, store=Store(db)).role == "leadership"


def test_cli_tokens_create_without_role_takes_the_users_role(db, capsys, monkeypatch, cheap):
    assert main(["tokens", "create", "--user", "bot"]) == 2
    assert "give the token's role" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "lee", "--role", "leadership", "--password-stdin"]) == 0
    capsys.readouterr()
    assert main(["tokens", "create", "--user", "lee", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["role"] == "leadership"
    assert main(["tokens", "create", "--user", "nobody"]) == 2
    assert "'nobody' is not a user" in capsys.readouterr().err
