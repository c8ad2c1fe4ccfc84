"""The hash-chained audit log: intact chains verify; an edited, inserted or deleted record is found."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from engine.audit.chain import (
    GENESIS_HASH,
    append,
    count,
    export_jsonl,
    record_hash,
    verify,
)
from engine.canonical import canonical_json
from engine.errors import InputError
from engine.store import transaction

T0 = datetime(2024, 1, 2, 9, 30)


@pytest.fixture()
def chain(con):
    for i in range(5):
        append(con, event_type="evaluation", payload={"i": i, "action": "warn"},
               timestamp=T0.replace(minute=i))
    return con


def test_canonical_json_is_sorted_and_compact():
    assert canonical_json({"b": 1, "a": [1.5, "x"]}) == '{"a":[1.5,"x"],"b":1}'


def _old_record_hash(*, seq, event_type, timestamp, payload, prev_hash):
    """The chain's hash as every stored record was computed before engine.canonical existed."""
    body = json.dumps({"seq": seq, "event_type": event_type, "timestamp": timestamp,
                       "payload": payload, "prev_hash": prev_hash},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


SAMPLE_PAYLOAD = {
    "evaluation_id": "3f2a9c", "action": "reduce_position", "mode": "gradual",
    "reason": "drawdown 0.31 above 0.2; gradual mode, sensor drawdown READY: reduce_position",
    "latency_us": 48.25, "enforced": True, "sensor": None, "count": 3,
    "snapshot": {"var": {"0.99": 111633.64609603754, "0.95": 69329.44}, "es": 1e-07},
    "note": "Zürich – 5 % ≥ limit", "list": [1, 2.5, "x", False, None],
}


def test_record_hash_is_unchanged_from_the_old_formula(con):
    """Existing chains must still verify: the canonical helper gives the same text."""
    kwargs = {"seq": 7, "event_type": "evaluation", "timestamp": "2024-01-02T09:30:00",
              "payload": SAMPLE_PAYLOAD, "prev_hash": "ab" * 32}
    assert record_hash(**kwargs) == _old_record_hash(**kwargs)
    rec = append(con, event_type="breach", payload=SAMPLE_PAYLOAD, timestamp=T0)
    assert rec.hash == _old_record_hash(seq=1, event_type="breach", timestamp=T0.isoformat(),
                                        payload=SAMPLE_PAYLOAD, prev_hash=GENESIS_HASH)
    stored = con.execute("SELECT payload FROM audit_chain").fetchone()[0]
    assert stored == json.dumps(SAMPLE_PAYLOAD, sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False)


def test_first_record_links_to_genesis_and_hash_is_sha256_of_canonical_json(con):
    rec = append(con, event_type="mode_change", payload={"new_mode": "full"}, timestamp=T0)
    assert rec.seq == 1 and rec.prev_hash == GENESIS_HASH
    body = ('{"event_type":"mode_change","payload":{"new_mode":"full"},'
            f'"prev_hash":"{GENESIS_HASH}","seq":1,"timestamp":"2024-01-02T09:30:00"}}')
    assert rec.hash == hashlib.sha256(body.encode()).hexdigest()
    assert rec.hash == record_hash(seq=1, event_type="mode_change", timestamp=rec.timestamp,
                                   payload={"new_mode": "full"}, prev_hash=GENESIS_HASH)


def test_records_link_to_the_one_before(chain):
    rows = chain.execute("SELECT seq, prev_hash, hash FROM audit_chain ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    for before, after in zip(rows, rows[1:]):
        assert after[1] == before[2]


def _first_bad(con):
    """The seq named by the first problem :func:`verify` finds, None when the chain is intact."""
    found = verify(con)
    return None if found.ok else found.problems[0].seq


def test_intact_chain_verifies(chain):
    found = verify(chain)
    assert (found.ok, found.records, found.problems, found.warnings) == (True, 5, (), ())
    assert count(chain) == 5


def test_empty_chain_verifies(con):
    assert verify(con).ok and verify(con).records == 0


def test_edited_payload_is_found(chain):
    chain.execute("UPDATE audit_chain SET payload = ? WHERE seq = 3",
                  ['{"action":"none","i":2}'])
    assert _first_bad(chain) == 3
    assert verify(chain).problems[0].reason == "record"


def test_edited_timestamp_is_found(chain):
    chain.execute("UPDATE audit_chain SET timestamp = '2030-01-01T00:00:00' WHERE seq = 4")
    assert _first_bad(chain) == 4


def test_edit_with_recomputed_own_hash_is_found_at_the_next_record(chain):
    payload = {"action": "none", "i": 1}
    row = chain.execute("SELECT event_type, timestamp, prev_hash FROM audit_chain WHERE seq = 2"
                        ).fetchone()
    new_hash = record_hash(seq=2, event_type=row[0], timestamp=row[1], payload=payload,
                           prev_hash=row[2])
    chain.execute("UPDATE audit_chain SET payload = ?, hash = ? WHERE seq = 2",
                  [canonical_json(payload), new_hash])
    assert _first_bad(chain) == 3
    assert verify(chain).problems[0].reason == "order"


def test_inserted_record_is_found(chain):
    # Shift records 3..5 up by one and forge a record 3 that links correctly to record 2.
    chain.execute("UPDATE audit_chain SET seq = seq + 100 WHERE seq >= 3")
    chain.execute("UPDATE audit_chain SET seq = seq - 99 WHERE seq >= 100")
    prev = chain.execute("SELECT hash FROM audit_chain WHERE seq = 2").fetchone()[0]
    forged = {"i": 99}
    digest = record_hash(seq=3, event_type="evaluation", timestamp="2024-01-02T09:31:30",
                         payload=forged, prev_hash=prev)
    chain.execute("INSERT INTO audit_chain (seq, event_type, timestamp, payload, prev_hash, hash)"
                  " VALUES (3, 'evaluation', '2024-01-02T09:31:30', ?, ?, ?)",
                  [canonical_json(forged), prev, digest])
    assert _first_bad(chain) == 4  # the record after the forgery no longer links to it


def test_inserted_record_at_the_gap_of_a_bad_seq_is_found(chain):
    chain.execute("INSERT INTO audit_chain (seq, event_type, timestamp, payload, prev_hash, hash)"
                  " VALUES (7, 'evaluation', 't', '{}', 'x', 'y')")
    assert _first_bad(chain) == 7
    assert verify(chain).problems[0].message == "record seq 7 follows seq 5: record 6 is missing"


def test_deleted_record_is_found(chain):
    chain.execute("DELETE FROM audit_chain WHERE seq = 2")
    assert _first_bad(chain) == 3


def test_deleted_first_record_is_found(chain):
    chain.execute("DELETE FROM audit_chain WHERE seq = 1")
    assert _first_bad(chain) == 2


def test_export_jsonl_round_trips(chain, tmp_path):
    out = tmp_path / "audit.jsonl"
    text = export_jsonl(chain, out)
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and text.splitlines() == lines
    first = json.loads(lines[0])
    assert set(first) == {"seq", "event_type", "timestamp", "payload", "prev_hash", "hash"}
    assert json.loads(lines[1])["prev_hash"] == first["hash"]


def test_append_inside_a_caller_transaction_rolls_back_with_it(con):
    with pytest.raises(RuntimeError):
        with transaction(con):
            append(con, event_type="breach", payload={"x": 1}, timestamp=T0)
            raise RuntimeError("boom")
    assert con.execute("SELECT count(*) FROM audit_chain").fetchone()[0] == 0


@pytest.mark.parametrize("payload", [{"x": float("nan")}, {"x": object()}])
def test_unserialisable_payload_is_refused_and_nothing_stored(con, payload):
    with pytest.raises(InputError):
        append(con, event_type="breach", payload=payload, timestamp=T0)
    assert con.execute("SELECT count(*) FROM audit_chain").fetchone()[0] == 0


def test_records_deleted_from_the_end_are_found(chain):
    chain.execute("DELETE FROM audit_chain WHERE seq >= 4")
    assert _first_bad(chain) == 4
    assert verify(chain).problems[0].message == ("the head says seq 5 but the chain ends at seq "
                                                 "3: records 4–5 are missing, deleted from the end")


def test_a_head_that_disagrees_with_the_last_record_is_found(chain):
    chain.execute("UPDATE audit_head SET hash = 'x'")
    assert _first_bad(chain) == 5
    chain.execute("DELETE FROM audit_head")
    assert _first_bad(chain) == 5
    assert verify(chain).problems[0].message.startswith("the head row (audit_head) is missing")


def test_head_follows_every_append(chain):
    from engine.audit.chain import head

    last = list(chain.execute("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1").fetchone())
    top = head(chain)
    assert (top.seq, top.hash) == (last[0], last[1])
    assert (top.signature, top.key_id) == (None, None)  # no key: the trail is unsigned
