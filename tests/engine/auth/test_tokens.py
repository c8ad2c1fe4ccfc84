"""Bearer tokens (``engine.auth``): the format, the stored hash, authentication, the role check,
``last_used_at``, the audit records and ``stresslab tokens create|list|revoke``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from engine.audit.keys import init_keys
from engine.auth import _tokens
from engine.auth._roles import ROLES, Principal, authorize
from engine.auth.workflow import (
    REVOKED_TOKEN,
    UNKNOWN_TOKEN,
    TokenRequest,
    authenticate,
    create_token,
    flush_last_used,
    list_tokens,
    revoke_token,
)
from engine.cli import main
from engine.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from engine.store import Store, transaction

T0 = datetime(2026, 3, 2, 9, 30)


@pytest.fixture()
def store(tmp_path):
    return Store(tmp_path / "s.duckdb")


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "cli.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    return path


def _make(store, user="alice", role="analyst", **kw):
    return create_token(TokenRequest.build(user=user, role=role, **kw), by="ops", store=store,
                        now=T0)


def _rows(store):
    with store.read() as con:
        cur = con.execute("SELECT * FROM api_tokens ORDER BY created_at, token_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


# --------------------------------------------------------------------------- the token's text

def test_token_hash_is_sha256_of_the_text():
    # FIPS 180-2, appendix B.1: SHA-256("abc")
    assert _tokens.token_hash("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_base62_digits_and_width():
    assert _tokens._base62(0, digits=3) == "000"
    assert _tokens._base62(61, digits=2) == "0z"
    assert _tokens._base62(62, digits=2) == "10"
    assert 62 ** 42 < 2 ** 256 <= 62 ** 43   # 43 digits hold 256 bits, 42 do not
    for value in (2 ** 256 - 1, 12345678901234567890):
        text = _tokens._base62(value, digits=43)
        back = 0
        for c in text:
            back = back * 62 + _tokens._BASE62.index(c)
        assert len(text) == 43 and back == value
    with pytest.raises(ValueError):
        _tokens._base62(62 ** 2, digits=2)


def test_new_tokens_have_the_format_and_differ():
    a, b = _tokens.new_token(), _tokens.new_token()
    for t in (a, b):
        assert len(t.text) == _tokens.TOKEN_LENGTH == 64
        prefix, token_id, secret = t.text.split("_", 2)
        assert (prefix + "_", token_id, len(secret)) == ("slk_", t.token_id, 43)
        assert set(t.text) <= set("slk_0123456789abcdef") | set(_tokens._BASE62)
        assert t.hash == hashlib.sha256(t.text.encode()).hexdigest()
        assert _tokens.parse_token(t.text) == t.token_id
        assert t.text not in repr(t)
    assert a.text != b.text and a.token_id != b.token_id


# ----------------------------------------------------------------- create, store, authenticate

def test_create_then_authenticate_gives_user_and_role(store):
    made = _make(store, user="  alice  ", role="validator", label="nightly scheduler")
    assert (made.user, made.role, made.label, made.created_by, made.created_at) == (
        "alice", "validator", "nightly scheduler", "ops", T0)
    assert made.token not in repr(made)
    who = authenticate(made.token, store=store, now=T0)
    assert who == Principal(user="alice", role="validator", token_id=made.token_id)
    assert authenticate(f"  {made.token}\n", store=store, now=T0) == who


def test_the_store_holds_the_sha256_and_never_the_token(store):
    made = _make(store)
    other = _make(store, user="bob", role="admin")
    rows = _rows(store)
    assert {r["token_id"] for r in rows} == {made.token_id, other.token_id}
    row = next(r for r in rows if r["token_id"] == made.token_id)
    assert row["token_hash"] == hashlib.sha256(made.token.encode("utf-8")).hexdigest()
    secret = made.token.rsplit("_", 1)[1]
    for r in rows:
        for value in r.values():
            assert made.token not in str(value) and secret not in str(value)
    assert (row["user_name"], row["role"], row["created_by"], row["revoked_at"],
            row["last_used_at"]) == ("alice", "analyst", "ops", None, None)


@pytest.mark.parametrize("mangle, message", [
    (lambda t: None, _tokens.MISSING_TOKEN),
    (lambda t: "", _tokens.MISSING_TOKEN),
    (lambda t: "   ", _tokens.MISSING_TOKEN),
    (lambda t: f"Bearer {t}", _tokens.MALFORMED_TOKEN),
    (lambda t: t[:-1], _tokens.MALFORMED_TOKEN),
    (lambda t: t + "A", _tokens.MALFORMED_TOKEN),
    (lambda t: t.replace("slk_", "slx_"), _tokens.MALFORMED_TOKEN),
    (lambda t: t[:-1] + ("B" if t[-1] != "B" else "C"), UNKNOWN_TOKEN),   # right id, wrong secret
    (lambda t: "slk_" + "0" * 16 + t[20:], UNKNOWN_TOKEN),                 # unknown id
    (lambda t: 12345, _tokens.MALFORMED_TOKEN),
])
def test_bad_tokens_fail_without_echoing_them(store, mangle, message):
    made = _make(store)
    sent = mangle(made.token)
    with pytest.raises(AuthenticationError) as info:
        authenticate(sent, store=store)
    text = str(info.value)
    assert text == message
    secret = made.token.rsplit("_", 1)[1]
    assert made.token_id not in text and secret[:8] not in text
    if isinstance(sent, str) and sent.strip():
        assert sent.strip() not in text


def test_revoked_token_no_longer_authenticates(store):
    made = _make(store)
    keep = _make(store, user="bob", role="leadership")
    done = revoke_token(made.token_id, by="carol", store=store, now=T0 + timedelta(hours=1))
    assert (done.user, done.role, done.revoked_by, done.revoked_at) == (
        "alice", "analyst", "carol", T0 + timedelta(hours=1))
    with pytest.raises(AuthenticationError) as info:
        authenticate(made.token, store=store)
    assert str(info.value) == REVOKED_TOKEN and made.token not in str(info.value)
    assert authenticate(keep.token, store=store).user == "bob"
    with pytest.raises(InputError, match="already revoked by carol at 2026-03-02 10:30:00"):
        revoke_token(made.token_id, store=store)
    with pytest.raises(NotFoundError, match="no token 'ffffffffffffffff'"):
        revoke_token("ffffffffffffffff", store=store)
    assert [r.token_id for r in list_tokens(store=store).rows] == [keep.token_id]
    every = list_tokens(store=store, include_revoked=True)
    assert {r.token_id: r.active for r in every.rows} == {made.token_id: False,
                                                          keep.token_id: True}
    frame = every.to_frame()
    assert list(frame.columns) == ["token_id", "user", "role", "label", "created_at",
                                   "created_by", "revoked_at", "revoked_by", "last_used_at"]
    assert frame.shape == (2, 9)


@pytest.mark.parametrize("fields, column", [
    ({"user": "", "role": "analyst"}, "user"),
    ({"user": "   ", "role": "analyst"}, "user"),
    ({"user": "x" * 129, "role": "analyst"}, "user"),
    ({"user": "al\nice", "role": "analyst"}, "user"),
    ({"user": "al\x00ice", "role": "analyst"}, "user"),
    ({"user": "alice", "role": "boss"}, "role"),
    ({"user": "alice", "role": "analyst", "label": "a\tb"}, "label"),
    ({"user": "alice", "role": "analyst", "scope": "all"}, "scope"),
])
def test_token_request_refuses_bad_fields(fields, column):
    with pytest.raises(ValidationError) as info:
        TokenRequest.build(**fields)
    assert [i.column for i in info.value.issues] == [column]


def test_token_request_accepts_128_characters_and_non_ascii():
    assert TokenRequest.build(user="é" * 128, role="admin").user == "é" * 128
    assert TokenRequest.build(user="Zoë Ngụy", role="analyst", label="  ").label == ""


def test_the_table_refuses_a_role_that_is_not_one_of_the_four(store):
    with store.write() as con:
        for i, role in enumerate(ROLES):
            with transaction(con):
                con.execute("INSERT INTO api_tokens (token_id, user_name, role, token_hash,"
                            " created_at, created_by) VALUES (?, 'u', ?, ?, ?, 'ops')",
                            [f"id{i}", role, f"h{i}", T0])
        with pytest.raises(Exception, match="(?i)constraint"):
            con.execute("INSERT INTO api_tokens (token_id, user_name, role, token_hash,"
                        " created_at, created_by) VALUES ('idx', 'u', 'boss', 'hx', ?, 'ops')",
                        [T0])


# --------------------------------------------------------------------------- last_used_at

def test_last_used_at_is_written_at_most_once_a_minute(store):
    made = _make(store)

    def stored():
        flush_last_used(timeout=60)
        return _rows(store)[0]["last_used_at"]

    assert stored() is None
    authenticate(made.token, store=store, now=T0)
    assert stored() == T0
    authenticate(made.token, store=store, now=T0 + timedelta(seconds=59))
    assert stored() == T0                                    # within the minute: not written
    authenticate(made.token, store=store, now=T0 + timedelta(seconds=60))
    assert stored() == T0 + timedelta(seconds=60)
    authenticate(made.token, store=store, now=T0 + timedelta(seconds=30))
    assert stored() == T0 + timedelta(seconds=60)            # never moves back
    assert list_tokens(store=store).rows[0].last_used_at == T0 + timedelta(seconds=60)


# --------------------------------------------------------------------------- authorize

CASES = [  # allowed, then whether analyst, validator, leadership, admin may
    (("analyst",), (True, False, False, True)),
    (("validator", "leadership"), (False, True, True, True)),
    (("analyst", "validator", "leadership"), (True, True, True, True)),
    ((), (False, False, False, True)),
    (("admin",), (False, False, False, True)),
]


@pytest.mark.parametrize("allowed, expected", CASES)
@pytest.mark.parametrize("index, role", list(enumerate(ROLES)))
def test_authorize_matrix(allowed, expected, index, role):
    who = Principal(user="dana", role=role, token_id="0123456789abcdef")
    if expected[index]:
        assert authorize(who, allowed=allowed, action="do it") is None
        return
    with pytest.raises(PermissionDeniedError) as info:
        authorize(who, allowed=iter(allowed), action="use the kill switch")
    err = info.value
    assert (err.user, err.role) == ("dana", role)
    assert err.allowed == tuple(r for r in ROLES if r in allowed or r == "admin")
    assert str(err).startswith(f"user 'dana' has the role {role}, which may not use the kill "
                               "switch; that needs the role ")


def test_roles_and_unknown_allowed_role():
    assert ROLES == ("analyst", "validator", "leadership", "admin")
    who = Principal(user="dana", role="admin", token_id="0123456789abcdef")
    with pytest.raises(ValueError, match="unknown roles \\['boss'\\]"):
        authorize(who, allowed=["analyst", "boss"], action="x")


def test_importing_engine_auth_loads_no_store_nor_pandas():
    code = ("import sys, engine.auth as a; a.ROLES; a.authorize; "
            "print(sorted(m for m in ('duckdb', 'pandas', 'engine.auth.workflow') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    code = ("import engine.auth as a, engine.auth.workflow as w; "
            "print(a.authenticate is w.authenticate)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "True"


# --------------------------------------------------------------------------- the command

def test_cli_create_prints_the_token_last_and_it_authenticates(db, capsys):
    assert main(["tokens", "create", "--user", "erin", "--role", "leadership",
                 "--label", "board pack"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert "shown this once" in lines[-2] and "stored only as a hash" in lines[-2]
    who = authenticate(lines[-1], store=Store(db))
    assert (who.user, who.role) == ("erin", "leadership")
    assert lines[0].startswith(f"created token {who.token_id} for user 'erin', role leadership")

    assert main(["tokens", "create", "--user", "fay", "--role", "admin", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert authenticate(made["token"], store=Store(db)).role == "admin"
    assert set(made) == {"token_id", "user", "role", "label", "created_at", "created_by",
                         "token", "audit_seq"}


def test_cli_list_json_has_no_token_nor_hash_and_revoke_stops_it(db, capsys):
    assert main(["tokens", "create", "--user", "gil", "--role", "analyst"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    digest = hashlib.sha256(token.encode()).hexdigest()
    token_id = authenticate(token, store=Store(db)).token_id

    assert main(["tokens", "list", "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert [(r["token_id"], r["user"], r["role"]) for r in rows] == [(token_id, "gil", "analyst")]
    assert "token_hash" not in rows[0] and "token" not in rows[0]
    assert digest not in out and token not in out and token.rsplit("_", 1)[1] not in out
    assert main(["tokens", "list"]) == 0
    out = capsys.readouterr().out
    assert token_id in out and digest not in out

    assert main(["tokens", "revoke", token_id, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["token_id"], done["user"]) == (token_id, "gil")
    with pytest.raises(AuthenticationError):
        authenticate(token, store=Store(db))
    assert main(["tokens", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["tokens", "list", "--all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None
    assert main(["tokens", "revoke", token_id]) == 2
    assert "already revoked" in capsys.readouterr().err
    assert main(["tokens", "revoke", "0000000000000000"]) == 2
    assert "no token '0000000000000000'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["tokens", "create", "--user", "hal", "--role", "boss"],
    ["tokens", "create", "--role", "admin"],
])
def test_cli_bad_arguments_exit_2(db, capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert not db.exists()


def test_cli_blank_user_exits_2_and_stores_nothing(db, capsys):
    assert main(["tokens", "create", "--user", " ", "--role", "admin"]) == 2
    err = capsys.readouterr().err
    assert "nothing was stored" in err and "Traceback" not in err
    assert list_tokens(store=Store(db), include_revoked=True).rows == ()


def test_audit_records_appended_and_the_signed_trail_verifies(db, capsys):
    init_keys()   # the test's own key directory (tests/conftest.py): a signed trail
    assert main(["tokens", "create", "--user", "ivy", "--role", "validator", "--label", "ci"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    token_id = authenticate(token, store=Store(db)).token_id
    assert main(["tokens", "revoke", token_id]) == 0
    capsys.readouterr()

    assert main(["audit", "export", "--json"]) == 0
    records = [json.loads(line) for line in json.loads(capsys.readouterr().out)["jsonl"]]
    assert [r["event_type"] for r in records] == ["token_created", "token_revoked"]
    assert {k: records[0]["payload"][k] for k in ("token_id", "user", "role", "label")} == {
        "token_id": token_id, "user": "ivy", "role": "validator", "label": "ci"}
    assert set(records[0]["payload"]) == {"token_id", "user", "role", "label", "created_by",
                                          "created_at"}
    assert set(records[1]["payload"]) == {"token_id", "user", "role", "revoked_by", "revoked_at"}
    text = json.dumps(records)
    assert token not in text and hashlib.sha256(token.encode()).hexdigest() not in text

    assert main(["audit", "verify", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["ok"], status["signed"], status["records"], status["problems"]) == (
        True, True, 2, [])


def test_last_used_writes_leave_the_audit_trail_intact(store):
    from engine.audit.workflow import verify_audit

    made = _make(store)
    authenticate(made.token, store=store, now=T0 + timedelta(minutes=5))
    flush_last_used(timeout=60)
    assert _rows(store)[0]["last_used_at"] == T0 + timedelta(minutes=5)
    found = verify_audit(store=store)
    assert found.ok and found.records == 1
