"""The signed audit trail (issue 9, finding 8): every tamper of the issue is caught by
``verify_audit``, an untampered trail verifies, and without keys the trail says it is unsigned.

Real components throughout: a DuckDB file store in ``tmp_path``, the market workflow writing
evaluations, breaches and runs, and a key directory that the root ``conftest.py`` points
``STRESSLAB_KEYS`` at (a fresh empty directory per test).

One default limit evaluation (:func:`_evaluate`) writes six records, in this order:
1 ``evaluation``, 2 ``breach`` (var_0.95), 3 ``action`` (warn), 4 ``breach`` (stress_loss),
5 ``action``, 6 ``run``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import datetime, timedelta

import duckdb
import pytest

from engine.audit import chain
from engine.audit.keys import init_keys, keys_dir, load_signing_key, read_checkpoint
from engine.audit.runs import RunRow, insert_run
from engine.audit.workflow import verify_audit
from engine.canonical import canonical_json
from engine.cli import main
from engine.errors import InputError, StoreError
from engine.market import workflow as mw
from engine.store import Store, connect, transaction
from engine.store._connection import _migrations

T0 = datetime(2024, 1, 2, 9, 30)
EVENTS = ["evaluation", "breach", "action", "breach", "action", "run"]


@pytest.fixture()
def store(tmp_path):
    return Store(tmp_path / "trail.duckdb", timeout=5)


@pytest.fixture()
def key():
    return init_keys()


def _evaluate(store, minute=0):
    return mw.evaluate_limits(mw.LimitsRequest.build(), store=store,
                              now=T0 + timedelta(minutes=minute))


@pytest.fixture()
def trail(store, key):
    """A signed trail of one evaluation: six records, checkpoint at seq 6."""
    recorded = _evaluate(store)
    assert [d.rule for d in recorded.evaluation.decisions if d.breached] == ["var_0.95",
                                                                              "stress_loss"]
    return recorded


def _sql(store, *statements):
    """Tamper with the store file directly, as anyone who can write it could."""
    con = connect(store.path)
    try:
        return [con.execute(s).fetchall() for s in statements][-1]
    finally:
        con.close()


def _found(store, **kwargs):
    status = verify_audit(store=store, **kwargs)
    return [(p.reason, p.seq) for p in status.problems], status


def _store_id(store):
    with store.read() as con:
        return chain.store_id(con)


# --------------------------------------------------------------------------- intact

def test_an_untampered_signed_trail_verifies(store, key, trail):
    problems, status = _found(store)
    assert problems == [] and status.ok and status.warnings == ()
    assert (status.signed, status.key_id, status.records, status.head_seq,
            status.checkpoint_seq) == (True, key.key_id, 6, 6, 6)
    assert status.line() == f"Audit trail: signed (key {key.key_id}), 6 records, verified"
    with store.read() as con:
        assert [r.event_type for r in chain.iter_records(con)] == EVENTS
        top = chain.head(con)
        sid = chain.store_id(con)
    assert top.key_id == key.key_id
    assert key.verify(json.dumps({"hash": top.hash, "seq": 6, "store_id": sid},
                                 separators=(",", ":")).encode(), top.signature)
    cp = read_checkpoint(sid)
    assert (cp.seq, cp.head_hash, cp.db_path) == (6, top.hash, str(store.path.resolve()))
    assert cp.verified_by(key)


def test_records_cover_the_rows_they_describe(store, trail):
    with store.read() as con:
        covers = [r.covers for r in chain.iter_records(con)]
        breach_id = covers[3][0]["key"]["breach_id"]
        breach = con.execute("SELECT * FROM market_breaches WHERE breach_id = ?", [breach_id])
        breach = dict(zip([d[0] for d in breach.description], breach.fetchone()))
    assert [[c["table"] for c in cs] for cs in covers] == [
        ["market_evaluations"], ["market_breaches"], [], ["market_breaches"], [], ["runs"]]
    assert covers[0][0]["key"] == {"evaluation_id": trail.evaluation_id}
    assert covers[3][0]["key"] == {"breach_id": f"{trail.evaluation_id[:12]}-stress_loss"}
    assert covers[3][0]["row_hash"] == chain.row_hash("market_breaches", breach)


def test_row_hash_is_the_sha256_of_the_rows_canonical_json():
    import hashlib

    row = {"b": 1.5, "a": datetime(2024, 1, 2, 9, 30), "c": None}
    text = '{"row":{"a":"2024-01-02T09:30:00","b":1.5,"c":null},"table":"t"}'
    assert chain.row_hash("t", row) == hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- the tampers

def test_a_wiped_chain_is_behind_its_checkpoint(store, trail):
    _sql(store, "DELETE FROM audit_chain", "DELETE FROM audit_head")
    problems, status = _found(store)
    assert problems == [("checkpoint", 1)] and status.records == 0
    assert status.problems[0].message.startswith(
        "the chain is behind its checkpoint: the checkpoint holds seq 6")
    assert "ends at seq 0: records were deleted or the chain wiped" in status.problems[0].message


@pytest.mark.parametrize("strip_signature", [False, True])
def test_last_records_deleted_with_an_updated_head(store, trail, strip_signature):
    _sql(store, "DELETE FROM audit_chain WHERE seq >= 5",
         "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_chain WHERE seq = 4)"
         + (", signature = NULL, key_id = NULL" if strip_signature else ""))
    problems, status = _found(store)
    assert problems == [("signature", 4), ("checkpoint", 5)]
    assert status.problems[1].message.endswith("ends at seq 4: records were deleted or the chain "
                                               "wiped")


def _payload(con, seq):
    return con.execute("SELECT payload FROM audit_chain WHERE seq = ?", [seq]).fetchone()[0]


def _rechain(con, *, edit_seq, payload):
    """Replace a record's payload and recompute its hash, every later link and the head."""
    rows = con.execute("SELECT seq, event_type, timestamp, payload, prev_hash, covers"
                       " FROM audit_chain WHERE seq >= ? ORDER BY seq", [edit_seq]).fetchall()
    prev = rows[0][4]
    for seq, event, ts, old, _, covers in rows:
        body = payload if seq == edit_seq else json.loads(old)
        digest = chain.record_hash(seq=seq, event_type=event, timestamp=ts, payload=body,
                                   prev_hash=prev, covers=json.loads(covers) if covers else ())
        con.execute("UPDATE audit_chain SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                    [canonical_json(body), prev, digest, seq])
        prev = digest
    con.execute("UPDATE audit_head SET hash = ?", [prev])


def test_a_forged_record_with_recomputed_hashes(store, trail):
    con = connect(store.path)
    payload = json.loads(_payload(con, 4))
    _rechain(con, edit_seq=4, payload={**payload, "action": "none", "breached": False})
    con.close()
    problems, status = _found(store)
    assert problems == [("signature", 6), ("checkpoint", 6)]
    assert status.problems[1].message == ("record seq 6 differs from the checkpoint's: the chain "
                                          "was rewritten")


def test_a_forged_record_in_an_unsigned_trail_passes_the_store_alone(store):
    """Why the trail is signed: without a key, a rewrite from the edit onwards goes unseen."""
    _evaluate(store)
    con = connect(store.path)
    payload = json.loads(_payload(con, 4))
    _rechain(con, edit_seq=4, payload={**payload, "action": "none"})
    con.close()
    problems, status = _found(store)
    assert problems == [] and not status.signed


def test_head_rolled_back_to_an_older_signed_head(store, trail):
    old_head = _sql(store, "SELECT seq, hash, signature, key_id FROM audit_head")[0]
    second = _evaluate(store, minute=1)
    con = connect(store.path)
    con.execute("DELETE FROM audit_chain WHERE seq > 6")
    con.execute("UPDATE audit_head SET seq = ?, hash = ?, signature = ?, key_id = ?", list(old_head))
    for table, column in [("market_evaluations", "evaluation_id"), ("runs", "run_id"),
                          ("market_breaches", "evaluation_id")]:
        con.execute(f"DELETE FROM {table} WHERE {column} = ?", [second.evaluation_id])
    con.close()
    problems, status = _found(store)
    assert problems == [("checkpoint", 7)]  # the head's own signature checks out
    assert status.problems[0].message.startswith("the chain is behind its checkpoint: the "
                                                 "checkpoint holds seq 12")


def test_an_edited_breach_row(store, trail):
    breach_id = f"{trail.evaluation_id[:12]}-stress_loss"
    _sql(store, f"UPDATE market_breaches SET action = 'none' WHERE breach_id = '{breach_id}'")
    problems, status = _found(store)
    assert problems == [("row", 4)]
    assert status.problems[0].message == (f"market_breaches row {{'breach_id': '{breach_id}'}} "
                                          "was edited after record seq 4 covered it")


def test_a_deleted_breach_row(store, trail):
    breach_id = f"{trail.evaluation_id[:12]}-var_0.95"
    _sql(store, f"DELETE FROM market_breaches WHERE breach_id = '{breach_id}'")
    problems, status = _found(store)
    assert problems == [("row", 2)]
    assert status.problems[0].message == (f"market_breaches row {{'breach_id': '{breach_id}'}} "
                                          "(covered by record seq 2) was deleted")


def test_a_breach_row_inserted_behind_the_trail(store, trail):
    _sql(store, "INSERT INTO market_breaches SELECT 'forged', evaluation_id, evaluated_at, sensor,"
                " rule, metric, threshold, configured_action, action, enforced, mode, reason"
                " FROM market_breaches LIMIT 1")
    problems, status = _found(store)
    assert problems == [("row", None)]
    assert status.problems[0].message == ("market_breaches holds 1 row(s) no record covers "
                                          "(breach_id='forged'): rows were added outside StressLab")


@pytest.mark.parametrize(("table", "assignment", "seq"), [
    ("market_evaluations", "action = 'none'", 1),
    ("runs", "summary = 'all clear'", 6),
    ("market_mode_changes", "reason = 'nobody asked'", 7),
    ("market_false_positives", "confidence = 0.01", 8),
])
def test_every_decision_table_is_covered(store, trail, table, assignment, seq):
    mw.set_mode(mw.ModeRequest.build(mode="full", reason="desk review"), store=store,
                now=T0 + timedelta(minutes=1))
    mw.mark_false_positive(mw.FalsePositiveRequest.build(
        breach_id=f"{trail.evaluation_id[:12]}-var_0.95", reason="stale price", confidence=0.9),
        store=store, now=T0 + timedelta(minutes=2))
    assert _found(store)[0] == []
    _sql(store, f"UPDATE {table} SET {assignment}")
    problems, status = _found(store)
    assert problems == [("row", seq)]
    assert status.problems[0].message.startswith(f"{table} row ")


def test_an_edited_head_signature(store, trail):
    _sql(store, "UPDATE audit_head SET signature = "
                "CASE WHEN signature LIKE '0%' THEN '1' ELSE '0' END || substr(signature, 2)")
    problems, status = _found(store)
    assert problems == [("signature", 6)]
    assert status.problems[0].message == ("the head's signature (seq 6) does not check out: the "
                                          "head or the store id was edited")


def test_a_replaced_key(store, key, trail):
    new = init_keys(force=True)
    problems, status = _found(store)
    assert problems == [("signature", 6), ("checkpoint", None)]
    assert status.problems[0].message.startswith(
        f"the head is signed by key {key.key_id}, not by this key {new.key_id}")


def test_a_store_replaced_at_the_same_path(store, trail, tmp_path):
    old_id = _store_id(store)
    other = Store(tmp_path / "other.duckdb", timeout=5)
    _evaluate(other, minute=5)  # a whole other store, signed with the same key
    os.replace(other.path, store.path)
    problems, status = _found(store)
    assert problems == [("store", None)]
    assert status.problems[0].message.startswith(f"a checkpoint records store {old_id} (seq 6) at "
                                                 f"{store.path.resolve()}, but the store there is ")
    assert status.problems[0].message.endswith(f"delete checkpoints/{old_id}.json in the key "
                                               "directory")


def test_a_changed_store_id(store, trail):
    _sql(store, "UPDATE store_meta SET value = 'another' WHERE key = 'store_id'")
    problems, _ = _found(store)
    assert problems == [("signature", 6), ("store", None)]


# --------------------------------------------------------------------------- outside copies

def test_a_public_key_and_checkpoint_kept_elsewhere(store, key, trail, tmp_path):
    """Someone who holds the key directory too can delete its checkpoint and re-sign; copies
    kept elsewhere still catch the wipe and the new key."""
    exported_pub = tmp_path / "elsewhere.pub"
    shutil.copy(key.path.with_suffix(".pub"), exported_pub)
    exported_cp = tmp_path / "elsewhere.json"
    shutil.copy(keys_dir() / "checkpoints" / f"{_store_id(store)}.json", exported_cp)
    _sql(store, *(f"DELETE FROM {t}" for t in ("audit_chain", "audit_head", "runs",
                                                 "market_evaluations", "market_breaches")))
    shutil.rmtree(keys_dir() / "checkpoints")
    assert _found(store)[0] == []  # nothing left inside the machine shows it
    assert _found(store, checkpoint=exported_cp)[0] == [("checkpoint", 1)]
    init_keys(force=True)
    _evaluate(store, minute=1)  # the chain rebuilt and signed with the attacker's key
    assert _found(store)[0] == []
    assert _found(store, public_key=exported_pub)[0] == [("signature", 6), ("checkpoint", None)]


def test_a_missing_or_unreadable_copy_is_an_input_error(store, key, tmp_path):
    with pytest.raises(InputError, match="no public key file"):
        verify_audit(store=store, public_key=tmp_path / "missing.pub")
    with pytest.raises(InputError, match="no checkpoint file"):
        verify_audit(store=store, checkpoint=tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="damaged or edited"):
        verify_audit(store=store, checkpoint=tmp_path / "bad.json")


# --------------------------------------------------------------------------- unsigned

def test_without_keys_the_trail_is_unsigned(store):
    recorded = _evaluate(store)
    problems, status = _found(store)
    assert problems == [] and status.ok and not status.signed and status.key_id is None
    assert status.line() == ("Audit trail: UNSIGNED, 6 records, intact as far as the store can "
                             "tell; sign it with `stresslab keys init`")
    assert "Run `stresslab keys init` to sign every new record" in status.to_text()
    with store.read() as con:
        assert chain.head(con).signature is None
    assert not (keys_dir() / "checkpoints").exists()
    _sql(store, "UPDATE market_breaches SET action = 'none'")  # rows are still covered
    assert _found(store)[0] == [("row", 2), ("row", 4)]
    assert recorded.audit_seq == 1


def test_records_before_the_key_then_signed_from_the_next_append(store):
    _evaluate(store)
    key = init_keys()
    problems, status = _found(store)
    assert problems == [] and status.warnings == (
        "the head (seq 6) was written before a signing key existed; the next recorded action "
        "signs it",)
    _evaluate(store, minute=1)
    problems, status = _found(store)
    assert (problems, status.warnings, status.checkpoint_seq, status.key_id) == (
        [], (), 12, key.key_id)


# --------------------------------------------------------------------------- checkpoints

def test_a_rolled_back_transaction_writes_no_checkpoint(store, key):
    with store.write() as con:
        sid = chain.store_id(con)
        with pytest.raises(RuntimeError), transaction(con):
            chain.append(con, event_type="note", payload={"n": 1}, timestamp=T0)
            raise RuntimeError("the action failed after its record")
    assert read_checkpoint(sid) is None
    with store.write() as con, transaction(con):
        chain.append(con, event_type="note", payload={"n": 1}, timestamp=T0)
        chain.append(con, event_type="note", payload={"n": 2}, timestamp=T0)
        assert read_checkpoint(sid) is None  # not before the commit
    assert read_checkpoint(sid).seq == 2
    assert _found(store)[0] == []


def test_a_checkpoint_behind_the_chain_is_a_warning(store, trail):
    cp_file = keys_dir() / "checkpoints" / f"{_store_id(store)}.json"
    saved = cp_file.read_bytes()
    _evaluate(store, minute=1)
    cp_file.write_bytes(saved)  # as if the process stopped between commit and checkpoint
    problems, status = _found(store)
    assert problems == [] and status.ok and status.checkpoint_seq == 6
    assert status.warnings == ("the checkpoint (seq 6) is behind the chain (seq 12): a process "
                               "stopped between its commit and its checkpoint; the next recorded "
                               "action writes it",)


def test_checkpoint_and_key_files_are_private(trail, key):
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE((keys_dir() / "checkpoints").stat().st_mode) == 0o700


def test_the_signing_key_is_cached_until_its_file_changes(key):
    first = load_signing_key()
    assert load_signing_key() is first and first.key_id == key.key_id
    replaced = init_keys(force=True)
    assert load_signing_key().key_id == replaced.key_id != key.key_id
    os.chmod(replaced.path, 0o644)
    with pytest.raises(InputError, match="chmod 600"):
        load_signing_key()


# --------------------------------------------------------------------------- covers

def test_a_row_updated_and_covered_again_verifies(store, trail):
    breach_id = f"{trail.evaluation_id[:12]}-var_0.95"
    with store.write() as con, transaction(con):
        con.execute("UPDATE market_breaches SET reason = 'reviewed' WHERE breach_id = ?",
                    [breach_id])
        rec = chain.append(con, event_type="breach_reviewed", payload={"breach_id": breach_id},
                           timestamp=T0, covers=[("market_breaches", {"breach_id": breach_id})])
    assert rec.seq == 7 and _found(store)[0] == []
    _sql(store, f"UPDATE market_breaches SET reason = 'x' WHERE breach_id = '{breach_id}'")
    assert _found(store)[0] == [("row", 7)]  # the latest record is the one that must match


@pytest.mark.parametrize(("covers", "error", "match"), [
    ([("runs; DROP TABLE runs", {"run_id": "x"})], InputError, "not a plain identifier"),
    ([("runs", {"run_id = run_id --": "x"})], InputError, "not a plain identifier"),
    ([("runs", {})], InputError, "key of runs is empty"),
    ([("runs", {"run_id": "absent"})], StoreError, "0 rows of runs match"),
    ("runs", InputError, "sequence of"),
])
def test_covers_are_validated_and_nothing_is_stored(con, covers, error, match):
    with pytest.raises(error, match=match):
        chain.append(con, event_type="x", payload={}, timestamp=T0, covers=covers)
    assert chain.count(con) == 0


def test_every_run_is_a_covered_record(store):
    class _Request(mw.Request):
        n: int = 1

    with store.write() as con, transaction(con):
        for kind in ("credit", "mlrisk"):
            insert_run(con, RunRow(run_id=f"{kind}-1", kind=kind, request=_Request(),
                                   status="success", summary=kind, started_at=T0, finished_at=T0))
    with store.read() as con:
        records = list(chain.iter_records(con))
    assert [(r.event_type, r.payload, r.covers[0]["key"]) for r in records] == [
        ("run", {"run_id": f"{kind}-1", "kind": kind, "status": "success"}, {"run_id": f"{kind}-1"})
        for kind in ("credit", "mlrisk")]
    _sql(store, "UPDATE runs SET status = 'error' WHERE run_id = 'mlrisk-1'")
    assert _found(store)[0] == [("row", 2)]


def _store_before_0006(path):
    """A store as StressLab wrote it before migration 0006: one old-format audit record (no
    covers, unsigned head) and one run."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT"
                " NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    for version, name, sql in _migrations():
        if version < 6:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        [version, name])
    digest = chain.record_hash(seq=1, event_type="mode_change", timestamp="2023-01-01T00:00:00",
                               payload={"new_mode": "full"}, prev_hash=chain.GENESIS_HASH)
    con.execute("INSERT INTO audit_chain VALUES (1, 'mode_change', '2023-01-01T00:00:00',"
                " '{\"new_mode\":\"full\"}', ?, ?)", [chain.GENESIS_HASH, digest])
    con.execute("INSERT INTO audit_head VALUES (1, 1, ?)", [digest])
    con.execute("INSERT INTO runs (run_id, kind, inputs_hash, configuration, engine_version,"
                " status, started_at, summary) VALUES ('legacy-1', 'credit', '', '{}', '0.1',"
                " 'success', TIMESTAMP '2023-01-01 00:00:00', 'old run')")
    con.close()


def test_rows_stored_before_coverage_began_get_one_baseline(store, key):
    """A store from before migration 0006 already holds records and a run: its chain still
    verifies, and the first covering record is preceded by a baseline that lists the old rows,
    so they are checked from then on."""
    _store_before_0006(store.path)
    assert _found(store)[0] == []
    _evaluate(store)
    with store.read() as con:
        records = list(chain.iter_records(con))
    assert [r.event_type for r in records] == ["mode_change", chain.BASELINE_EVENT, *EVENTS]
    assert records[1].payload["tables"]["runs"]["rows"] == 1
    assert _found(store)[0] == []
    _sql(store, "UPDATE runs SET summary = 'edited' WHERE run_id = 'legacy-1'")
    problems, status = _found(store)
    assert problems == [("row", 2)]
    assert status.problems[0].message == ("runs: the 1 rows stored before coverage began (record "
                                          "seq 2) were changed; 1 rows are now uncovered")


def test_a_removed_coverage_marker_blesses_no_forged_row(store, trail):
    """``store_meta.coverage_from_seq`` only spares a lookup: without it the next append finds
    covered records in the chain and writes no baseline, so a row added behind the trail's back
    stays uncovered."""
    _sql(store, "DELETE FROM store_meta WHERE key = 'coverage_from_seq'")
    _evaluate(store, minute=1)
    assert _found(store)[0] == []  # the chain already covered rows: no baseline was written
    _sql(store, "INSERT INTO runs (run_id, kind, inputs_hash, configuration, engine_version,"
                " status, started_at) VALUES ('forged', 'credit', '', '{}', '0.1', 'success',"
                " TIMESTAMP '2023-01-01 00:00:00')",
         "DELETE FROM store_meta WHERE key = 'coverage_from_seq'")
    _evaluate(store, minute=2)
    assert ("row", None) in _found(store)[0]


# --------------------------------------------------------------------------- commands

def test_keys_init_show_and_verify_commands(capsys, store, monkeypatch):
    monkeypatch.setenv("STRESSLAB_DB", str(store.path))
    assert main(["keys", "show"]) == 0
    assert capsys.readouterr().out.startswith(f"no signing key in {keys_dir()}: the audit trail "
                                              "is UNSIGNED")
    assert main(["keys", "init", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["private_key"] == str(keys_dir() / "audit_ed25519")
    assert info["public_key"] == str(keys_dir() / "audit_ed25519.pub")
    assert len(info["key_id"]) == 16 and info["replaced_key_id"] is None
    assert main(["keys", "init"]) == 2
    assert "--force" in capsys.readouterr().err
    assert stat.S_IMODE((keys_dir() / "audit_ed25519").stat().st_mode) == 0o600
    assert main(["keys", "init", "--force", "--json"]) == 0
    replaced = json.loads(capsys.readouterr().out)
    assert replaced["replaced_key_id"] == info["key_id"] != replaced["key_id"]
    info = replaced
    assert main(["keys", "show"]) == 0
    assert f"key id: {info['key_id']} (Ed25519)" in capsys.readouterr().out
    _evaluate(store)
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith(f"Audit trail: signed (key {info['key_id']}), 6 "
                                              "records, verified\nhead: seq 6")
    _sql(store, "DELETE FROM audit_chain WHERE seq = 6", "DELETE FROM audit_head")
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "TAMPERED: the head row (audit_head) is missing; the chain ends at seq 5"
    assert out[1].startswith("TAMPERED: the chain is behind its checkpoint")
    assert main(["audit", "verify", "--json"]) == 1
    assert [p["reason"] for p in json.loads(capsys.readouterr().out)["problems"]] == [
        "head", "checkpoint"]
