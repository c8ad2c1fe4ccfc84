"""A tamper-evident, append-only audit log kept in the DuckDB table ``audit_chain``, signed.

**Records.** Each record carries the SHA-256 of the record before it (``prev_hash``) and its own
hash over the canonical JSON of ``{seq, event_type, timestamp, payload, prev_hash}``, plus
``covers`` when the record covers rows (:func:`engine.canonical.canonical_json`: sorted keys,
separators ``(",", ":")``, UTF-8, ``ensure_ascii=False``, no NaN). The first record's
``prev_hash`` is 64 zeros. Editing a record changes its hash; inserting or deleting one breaks
the sequence or the link to the record before it.

**Covered rows.** A record may *cover* rows of the decision tables it describes
(``covers=[(table, key)]``): it stores ``{table, key, row_hash}`` for each, inside its hash, where
:func:`row_hash` is the SHA-256 of the row's canonical JSON. :func:`verify` reads every covered
row again; the latest record that covers a (table, key) must match it. Rows of a covered table
that no record covers (inserted behind the trail's back) are reported too, except the rows a
store held before coverage began, which one ``coverage_baseline`` record lists (count and hash of
the rows of :data:`COVERED_TABLES`), written before the first covering record. Write each covered
row right before the append that covers it, so that the baseline never takes in a new row.

**Head and signature.** ``audit_head`` holds the last record's seq and hash, written with every
record. When a signing key exists (:mod:`engine.audit.keys`, ``stresslab keys init``) every append
signs the head: Ed25519 over the canonical JSON of ``{store_id, seq, hash}``, ``store_id`` being
the store's random id (``store_meta``). After the enclosing transaction commits, a signed
*checkpoint* (store id, file path, seq, head hash) is written to the key directory, outside the
store. Without a key the trail is *unsigned*: it still detects edits inside the chain, but
anyone who can write the store can rewrite it whole.

What :func:`verify` catches, and what an attacker holding both the store and the key directory
can still do, is written in ``docs/ARCHITECTURE.md`` ("Audit trail and signatures").

References
----------
Haber & Stornetta (1991), "How to time-stamp a digital document", J. Cryptology 3(2).
RFC 8032, "Edwards-Curve Digital Signature Algorithm (EdDSA)".
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal
from uuid import UUID

import duckdb

from engine.audit import keys as _keys
from engine.canonical import canonical_bytes, canonical_json
from engine.errors import InputError, StoreError
from engine.store._connection import after_commit, transaction

__all__ = [
    "BASELINE_EVENT",
    "COVERED_TABLES",
    "GENESIS_HASH",
    "AuditRecord",
    "Head",
    "Problem",
    "Verification",
    "append",
    "count",
    "export_jsonl",
    "head",
    "head_body",
    "iter_records",
    "next_seq",
    "record_hash",
    "row_hash",
    "store_id",
    "verify",
]

#: ``prev_hash`` of the first record.
GENESIS_HASH = "0" * 64
#: The event of the one record listing the rows a store held before coverage began.
BASELINE_EVENT = "coverage_baseline"
#: The decision tables whose rows records cover; the baseline lists their earlier rows.
COVERED_TABLES = ("runs", "market_evaluations", "market_breaches", "market_false_positives",
                  "market_mode_changes", "ml_runs", "ml_signoffs")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHECKPOINT_HOOK = "audit_checkpoint"

Reason = Literal["record", "order", "head", "signature", "checkpoint", "store", "row"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored record of the chain.

    ``covers`` holds one ``{"table", "key", "row_hash"}`` per row the record covers.
    """

    seq: int
    event_type: str
    timestamp: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    covers: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The record as exported (``covers`` only when it covers rows)."""
        out = {"seq": self.seq, "event_type": self.event_type, "timestamp": self.timestamp,
               "payload": self.payload, "prev_hash": self.prev_hash, "hash": self.hash}
        if self.covers:
            out["covers"] = list(self.covers)
        return out


@dataclass(frozen=True, slots=True)
class Head:
    """The stored head: last seq, its hash, and the signature over :func:`head_body`."""

    seq: int
    hash: str
    signature: str | None
    key_id: str | None


def _canonical(obj: Any) -> str:
    """The chain's canonical JSON: :func:`engine.canonical.canonical_json`, compact, NaN refused.

    Sorted keys, separators ``(",", ":")``, ``ensure_ascii=False``: the format every stored hash
    was computed with, so it must never change.
    """
    return canonical_json(obj, nonfinite="error")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hash(*, seq: int, event_type: str, timestamp: str, payload: Any, prev_hash: str,
                covers: Sequence[Mapping[str, Any]] = ()) -> str:
    """SHA-256 (hex) of the canonical JSON of the record's fields other than ``hash``.

    ``covers`` enters the hashed object only when the record covers rows, so every record
    written before rows were covered keeps its hash.
    """
    body: dict[str, Any] = {"seq": seq, "event_type": event_type, "timestamp": timestamp,
                            "payload": payload, "prev_hash": prev_hash}
    if covers:
        body["covers"] = list(covers)
    return _sha256(_canonical(body))


def _plain(value: Any) -> Any:
    """A stored value as JSON: what DuckDB returns that JSON lacks becomes text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (Decimal, UUID, timedelta)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, time_of_day):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def row_hash(table: str, row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a stored row: the canonical JSON of ``{"table": table, "row": row}``.

    Parameters
    ----------
    table : str
        The table's name (part of the hash, so a row cannot be moved to another table).
    row : mapping
        Every column of the row by name (sorted by the canonical JSON). Datetimes and dates
        become ISO 8601 text, times ISO text, decimals, UUIDs and intervals their text, blobs
        hex, NaN and infinities ``"nan"``, ``"inf"``, ``"-inf"``; JSON columns are their text.
    """
    return _sha256(_canonical({"table": table, "row": _plain(dict(row))}))


def _identifier(name: Any, *, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise InputError(f"audit covers: {what} {name!r} is not a plain identifier "
                         "(letters, digits and _, not starting with a digit)")
    return name


def _select(con: duckdb.DuckDBPyConnection, table: str,
            key: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``table`` (those matching ``key`` when given) as dicts of every column."""
    where, params = "", []
    if key:
        where = " WHERE " + " AND ".join(f'"{c}" = ?' for c in key)
        params = list(key.values())
    cur = con.execute(f'SELECT * FROM "{table}"{where}', params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {str(r[0]) for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        " AND schema_name = current_schema()").fetchall()}


def _cover_targets(covers: Sequence[tuple[str, Mapping[str, Any]]]
                   ) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(covers, (str, bytes)) or not isinstance(covers, Sequence):
        raise InputError("audit covers must be a sequence of (table, key) pairs")
    out = []
    for item in covers:
        if not (isinstance(item, (tuple, list)) and len(item) == 2
                and isinstance(item[1], Mapping)):
            raise InputError(f"audit covers: {item!r} is not a (table, key dict) pair")
        table, key = item
        _identifier(table, what="table")
        if not key:
            raise InputError(f"audit covers: the key of {table} is empty; name the row's key "
                             "columns and values")
        out.append((table, {_identifier(c, what="column"): v for c, v in key.items()}))
    return out


def _identity(con: duckdb.DuckDBPyConnection) -> tuple[str | None, str | None]:
    """The store's id (``store_meta``, None if missing) and its file, absolute (None in memory)."""
    sid, path = con.execute(
        "SELECT (SELECT value FROM store_meta WHERE key = 'store_id'),"
        " (SELECT path FROM duckdb_databases() WHERE database_name = current_database())"
    ).fetchone()
    return (None if sid is None else str(sid)), (str(Path(path).resolve()) if path else None)


def store_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The store's random id (``store_meta``), or None if it is missing."""
    return _identity(con)[0]


def head_body(*, store: str | None, seq: int, head_hash: str) -> dict[str, Any]:
    """What a head signature covers: ``{store_id, seq, hash}`` (signed as canonical JSON)."""
    return {"store_id": store, "seq": int(seq), "hash": head_hash}


def _tail(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    row = con.execute("SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1").fetchone()
    return (1, GENESIS_HASH) if row is None else (int(row[0]) + 1, str(row[1]))


def _timestamp_text(timestamp: datetime | date | str) -> str:
    if isinstance(timestamp, (datetime, date)):
        return timestamp.isoformat()
    if isinstance(timestamp, str) and timestamp:
        return timestamp
    raise InputError(f"audit timestamp must be a datetime or ISO text, got {timestamp!r}")


def _write_record(con: duckdb.DuckDBPyConnection, *, event_type: str, timestamp: str,
                  payload: dict[str, Any], covers: tuple[dict[str, Any], ...]) -> AuditRecord:
    """Insert one record and the new head (signed when a key exists), in the open transaction."""
    seq, prev = _tail(con)
    digest = record_hash(seq=seq, event_type=event_type, timestamp=timestamp, payload=payload,
                         prev_hash=prev, covers=covers)
    con.execute(
        "INSERT INTO audit_chain (seq, event_type, timestamp, payload, prev_hash, hash, covers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [seq, event_type, timestamp, _canonical(payload), prev, digest,
         _canonical(list(covers)) if covers else None])
    key = _keys.load_signing_key()
    signature = key_id = None
    if key is not None:
        sid, path = _identity(con)
        if sid is None:
            raise StoreError("the store has no id (table store_meta): it was edited outside "
                             "StressLab; run `stresslab audit verify` and restore it from a copy")
        signature = key.sign_obj(head_body(store=sid, seq=seq, head_hash=digest))
        key_id = key.key_id
        if path is not None:
            after_commit(con, key=_CHECKPOINT_HOOK, hook=lambda: _checkpoint(
                key, store=sid, db_path=path, seq=seq, head_hash=digest))
    con.execute("INSERT OR REPLACE INTO audit_head (id, seq, hash, signature, key_id)"
                " VALUES (1, ?, ?, ?, ?)", [seq, digest, signature, key_id])
    return AuditRecord(seq, event_type, timestamp, payload, prev, digest, covers)


def _checkpoint(key: _keys.SigningKey, *, store: str, db_path: str, seq: int,
                head_hash: str) -> None:
    try:
        _keys.write_checkpoint(key, store_id=store, db_path=db_path, seq=seq, head_hash=head_hash)
    except OSError as exc:
        raise StoreError(f"the audit record seq {seq} is stored, but its checkpoint could not be "
                         f"written to the key directory {_keys.keys_dir()}: {exc}. Make it "
                         "writable (or set STRESSLAB_KEYS); the next record writes it") from exc


def _start_coverage(con: duckdb.DuckDBPyConnection,
                    covering: Sequence[tuple[str, str]] = ()) -> None:
    """Before the first covering record: list the rows stored before coverage began, once.

    ``covering`` holds the (table, row hash) of the rows the triggering append covers, written
    just before it: they are not part of the baseline.
    """
    if con.execute("SELECT 1 FROM store_meta WHERE key = 'coverage_from_seq'").fetchone():
        return
    started = con.execute("SELECT min(seq) FROM audit_chain WHERE covers IS NOT NULL"
                          " OR event_type = ?", [BASELINE_EVENT]).fetchone()[0]
    if started is None:
        existing = _tables(con)
        tables = {}
        for table in COVERED_TABLES:
            hashes = [row_hash(table, r) for r in _select(con, table)] if table in existing else []
            for t, digest in covering:
                if t == table and digest in hashes:
                    hashes.remove(digest)
            hashes.sort()
            if hashes:
                tables[table] = {"rows": len(hashes), "rows_hash": _sha256("\n".join(hashes))}
        if tables:
            now = datetime.now(UTC).replace(tzinfo=None).isoformat()
            started = _write_record(con, event_type=BASELINE_EVENT, timestamp=now,
                                    payload={"tables": tables}, covers=()).seq
        else:
            started = _tail(con)[0]
    con.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('coverage_from_seq', ?)",
                [str(started)])


def next_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The seq the next :func:`append` on ``con`` gets, for a row that stores it (``audit_seq``).

    Call it in the transaction of that append, right before inserting the row. On a store that
    held decision rows before coverage began, the first call writes the ``coverage_baseline``
    record first.
    """
    _start_coverage(con)
    return _tail(con)[0]


def append(
    con: duckdb.DuckDBPyConnection,
    *,
    event_type: str,
    payload: Mapping[str, Any],
    timestamp: datetime | date | str,
    covers: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> AuditRecord:
    """Append one record to the chain, sign the new head, and return the record.

    Runs inside the caller's :func:`engine.store.transaction` if one is open, otherwise in its
    own. When a signing key exists the head is signed, and the checkpoint is written to the key
    directory after that transaction commits (none if it rolls back; none either inside a bare
    ``BEGIN`` that is not an ``engine.store.transaction``). The timestamp is the caller's.

    Parameters
    ----------
    con : duckdb connection or cursor
        The store, with migration 0006 applied.
    event_type : str
        What happened: ``evaluation``, ``breach``, ``action``, ``false_positive``,
        ``mode_change``, ``run``, ...
    payload : mapping
        JSON-serialisable details of the event.
    timestamp : datetime, date or ISO-8601 str
        When it happened, as the caller states it.
    covers : sequence of (table, key dict)
        Rows this record vouches for, already written in this transaction. Each key (column →
        value) must match exactly one row; the record stores its :func:`row_hash`. A row
        updated later must be covered again by a new record.

    Raises
    ------
    InputError
        If the event type is empty, the payload is not JSON-serialisable, or a table or column
        of ``covers`` is not a plain identifier.
    StoreError
        If a covered key matches no row or several rows, or a key exists but the store's id
        is missing.
    """
    if not event_type or not isinstance(event_type, str):
        raise InputError("audit event_type must be a non-empty string")
    ts = _timestamp_text(timestamp)
    payload_obj = json.loads(_canonical(dict(payload)))
    targets = _cover_targets(covers)

    def _write() -> AuditRecord:
        covered = []
        for table, key in targets:
            rows = _select(con, table, key)
            if len(rows) != 1:
                raise StoreError(f"audit covers: {len(rows)} rows of {table} match {key!r}; "
                                 "write the row first and name a key that matches exactly one")
            covered.append({"table": table, "key": json.loads(_canonical(_plain(key))),
                            "row_hash": row_hash(table, rows[0])})
        if covered:
            _start_coverage(con, [(c["table"], c["row_hash"]) for c in covered])
        return _write_record(con, event_type=event_type, timestamp=ts, payload=payload_obj,
                             covers=tuple(covered))

    if _in_transaction(con):
        return _write()  # the caller's transaction commits or rolls back
    with transaction(con):
        return _write()


def _in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether an explicit transaction is open: in auto-commit every statement gets a new id."""
    first = con.execute("SELECT txid_current()").fetchone()[0]
    return con.execute("SELECT txid_current()").fetchone()[0] == first


def iter_records(con: duckdb.DuckDBPyConnection, *, event_types: tuple[str, ...] = (),
                 run_id: str | None = None) -> Iterator[AuditRecord]:
    """Stored records in sequence order (payloads and covers parsed): every record, or only
    those of ``event_types`` whose payload names ``run_id`` (filtered in the store, so finding
    one run's records does not read the whole trail)."""
    where, params = [], []
    if event_types:
        where.append(f"event_type IN ({', '.join('?' for _ in event_types)})")
        params.extend(event_types)
    if run_id is not None:
        where.append("json_extract_string(payload, '$.run_id') = ?")
        params.append(run_id)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = con.execute(
        "SELECT seq, event_type, timestamp, payload, prev_hash, hash, covers FROM audit_chain"
        f"{clause} ORDER BY seq", params).fetchall()
    for seq, event_type, ts, payload, prev, digest, covers in rows:
        try:
            parsed = json.loads(payload)
            covered = tuple(json.loads(covers)) if covers else ()
            if not all(isinstance(c, dict) for c in covered):
                raise ValueError("covers")
        except (TypeError, ValueError):
            parsed, covered = {"_unparseable_payload": str(payload), "covers": str(covers)}, ()
        yield AuditRecord(int(seq), str(event_type), str(ts), parsed, str(prev), str(digest),
                          covered)


def count(con: duckdb.DuckDBPyConnection) -> int:
    """The number of records stored in the chain."""
    return int(con.execute("SELECT count(*) FROM audit_chain").fetchone()[0])


def head(con: duckdb.DuckDBPyConnection) -> Head | None:
    """The chain's head as stored, or None for an empty chain."""
    row = con.execute("SELECT seq, hash, signature, key_id FROM audit_head WHERE id = 1").fetchone()
    if row is None:
        return None
    return Head(int(row[0]), str(row[1]), None if row[2] is None else str(row[2]),
                None if row[3] is None else str(row[3]))


def export_jsonl(con: duckdb.DuckDBPyConnection, out: str | Path | IO[str] | None = None) -> str:
    """The chain as JSON Lines (one canonical-JSON record per line, in sequence order).

    Writes to ``out`` (a path or an open text file) when given; always returns the text.
    """
    text = "".join(_canonical(r.as_dict()) + "\n" for r in iter_records(con))
    if isinstance(out, (str, Path)):
        Path(out).write_text(text, encoding="utf-8")
    elif out is not None:
        out.write(text)
    return text


# --------------------------------------------------------------------------- verification

@dataclass(frozen=True, slots=True)
class Problem:
    """One way the trail does not check out.

    ``reason`` is one of ``record`` (a record's content against its hash), ``order`` (a seq gap
    or a broken link), ``head`` (the head against the last record), ``signature`` (the head's
    signature or its key), ``checkpoint`` (the chain against the checkpoint outside the store),
    ``store`` (the store's identity), ``row`` (a covered row edited, deleted or added).
    """

    reason: Reason
    message: str
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify` found: the chain's figures, its problems and its warnings."""

    records: int
    head: Head | None
    store_id: str | None
    db_path: str | None
    checkpoint_seq: int | None
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing failed (warnings allowed)."""
        return not self.problems


def _short(text: str | None) -> str:
    return "none" if text is None else f"{text[:12]}…"


def _span(first: int, last: int) -> str:
    return f"record {first} is" if first == last else f"records {first}–{last} are"


def verify(con: duckdb.DuckDBPyConnection, *, key: _keys.VerifyKey | None = None,
           checkpoints: Sequence[_keys.Checkpoint] = ()) -> Verification:
    """Check the chain, its head, its signature, its covered rows and its checkpoints.

    Parameters
    ----------
    con : duckdb connection or cursor
        The store.
    key : VerifyKey, optional
        The public key that signs the trail; None checks the chain unsigned (a whole rewrite
        of the chain and its head together then goes unseen).
    checkpoints : sequence of Checkpoint
        The checkpoints of the key directory (and any kept elsewhere); used only with ``key``.

    Returns
    -------
    Verification
        Problems in the order found: the first broken record (``record`` or ``order``), the
        head, its signature, the checkpoints, the store's identity, then covered rows.
        Warnings: a head not yet signed, a checkpoint behind the chain (a crash between commit
        and checkpoint), a signed head without a key to check it.
    """
    records = list(iter_records(con))
    problems: list[Problem] = []
    warnings: list[str] = []
    expected, prev = 1, GENESIS_HASH
    for rec in records:
        if rec.seq != expected:
            gap = (f"{_span(expected, rec.seq - 1)} missing" if rec.seq > expected
                   else "it is out of order")
            problems.append(Problem("order", f"record seq {rec.seq} follows seq {expected - 1}: "
                                             f"{gap}", rec.seq))
        elif rec.prev_hash != prev:
            problems.append(Problem("order", f"record seq {rec.seq} does not link to the record "
                                             "before it: a record was inserted, removed or "
                                             "replaced", rec.seq))
        elif "_unparseable_payload" in rec.payload or rec.hash != record_hash(
                seq=rec.seq, event_type=rec.event_type, timestamp=rec.timestamp,
                payload=rec.payload, prev_hash=rec.prev_hash, covers=rec.covers):
            problems.append(Problem("record", f"record seq {rec.seq} does not match its hash: "
                                              "its content was edited", rec.seq))
        if problems:
            break
        expected, prev = rec.seq + 1, rec.hash
    last_seq, last_hash = (records[-1].seq, records[-1].hash) if records else (0, None)

    top = head(con)
    if top is None and records:
        problems.append(Problem("head", f"the head row (audit_head) is missing; the chain ends "
                                        f"at seq {last_seq}", last_seq))
    elif top is not None and top.seq > last_seq:
        problems.append(Problem("head", f"the head says seq {top.seq} but the chain ends at seq "
                                        f"{last_seq}: {_span(last_seq + 1, top.seq)}"
                                        " missing, deleted from the end", last_seq + 1))
    elif top is not None and (top.seq != last_seq or top.hash != last_hash):
        problems.append(Problem("head", f"the head (seq {top.seq}, sha256 {_short(top.hash)}) "
                                        f"does not match the last record (seq {last_seq})",
                                top.seq))

    sid, path = _identity(con)
    mine = [c for c in checkpoints if c.store_id == sid] if key is not None else []
    if key is not None:
        if sid is None:
            problems.append(Problem("store", "the store's id is missing (table store_meta): the "
                                             "store was edited outside StressLab"))
        if top is not None and top.signature is None:
            if mine:
                problems.append(Problem("signature", f"the head (seq {top.seq}) is unsigned, yet "
                                                     "a signed checkpoint exists for this store: "
                                                     "its signature was removed", top.seq))
            else:
                warnings.append(f"the head (seq {top.seq}) was written before a signing key "
                                "existed; the next recorded action signs it")
        elif top is not None and top.key_id != key.key_id:
            problems.append(Problem("signature", f"the head is signed by key {top.key_id}, not by "
                                                 f"this key {key.key_id} ({key.path}): the key "
                                                 "was replaced, or the head forged", top.seq))
        elif top is not None and not key.verify(
                canonical_bytes(head_body(store=sid, seq=top.seq, head_hash=top.hash)),
                top.signature or ""):
            problems.append(Problem("signature", f"the head's signature (seq {top.seq}) does not "
                                                 "check out: the head or the store id was edited",
                                    top.seq))
        by_seq = {r.seq: r for r in records}
        for cp in mine:
            if not cp.verified_by(key):
                problems.append(Problem("checkpoint", f"the checkpoint of this store (seq "
                                                      f"{cp.seq}) is not signed by this key "
                                                      f"{key.key_id}"))
            elif cp.seq > last_seq:
                problems.append(Problem(
                    "checkpoint", f"the chain is behind its checkpoint: the checkpoint holds seq "
                                  f"{cp.seq} (sha256 {_short(cp.head_hash)}), the store's chain "
                                  f"ends at seq {last_seq}: records were deleted or the chain "
                                  "wiped", last_seq + 1))
            elif cp.seq and (cp.seq not in by_seq or by_seq[cp.seq].hash != cp.head_hash):
                problems.append(Problem("checkpoint", f"record seq {cp.seq} differs from the "
                                                      "checkpoint's: the chain was rewritten",
                                        cp.seq))
            elif cp.seq < last_seq:
                warnings.append(f"the checkpoint (seq {cp.seq}) is behind the chain (seq "
                                f"{last_seq}): a process stopped between its commit and its "
                                "checkpoint; the next recorded action writes it")
        if path is not None:
            for cp in checkpoints:
                if cp.db_path == path and cp.store_id != sid:
                    problems.append(Problem(
                        "store", f"a checkpoint records store {cp.store_id} (seq {cp.seq}) at "
                                 f"{path}, but the store there is {sid}: the file was replaced. "
                                 "If you replaced it on purpose, delete checkpoints/"
                                 f"{cp.store_id}.json in the key directory"))
            if top is not None and top.signature is not None and not mine and sid is not None:
                warnings.append("no checkpoint of this store in the key directory; the next "
                                "recorded action writes one")
    elif top is not None and top.signature is not None:
        warnings.append(f"the head is signed by key {top.key_id}, but there is no key to check "
                        f"it in {_keys.keys_dir()}: set STRESSLAB_KEYS to the key directory")

    problems.extend(_row_problems(con, records))
    return Verification(records=len(records), head=top, store_id=sid, db_path=path,
                        checkpoint_seq=max((c.seq for c in mine), default=None),
                        problems=tuple(problems), warnings=tuple(warnings))


def _describe(row: Mapping[str, Any]) -> str:
    name, value = next(iter(row.items()))
    return f"{name}={str(value)[:40]!r}"


def _row_problems(con: duckdb.DuckDBPyConnection, records: list[AuditRecord]) -> list[Problem]:
    """Covered rows edited, deleted or duplicated; rows no record covers."""
    latest: dict[tuple[str, str], tuple[int, dict[str, Any], str]] = {}
    baselines = [r for r in records if r.event_type == BASELINE_EVENT]
    first_cover = next((r.seq for r in records if r.covers), None)
    problems = []
    if len(baselines) > 1 or (baselines and first_cover is not None
                              and baselines[0].seq > first_cover):
        problems.append(Problem("record", f"the coverage baseline at seq {baselines[-1].seq} was "
                                          "added after rows were covered: the store was edited",
                                baselines[-1].seq))
    baseline = baselines[0].payload.get("tables", {}) if baselines else {}
    for rec in records:
        for c in rec.covers:
            latest[(str(c.get("table")), _canonical(c.get("key")))] = (rec.seq, c.get("key") or {},
                                                                      str(c.get("row_hash")))
    existing = _tables(con)
    for table in sorted({t for t, _ in latest} | set(baseline)):
        if not _IDENTIFIER.match(table):
            problems.append(Problem("record", f"a record covers a table named {table!r}"))
            continue
        rows = _select(con, table) if table in existing else []
        columns = set(rows[0]) if rows else set()
        covered_rows: set[int] = set()
        index: dict[tuple[str, ...], dict[str, list[int]]] = {}
        for (t, _), (seq, key, digest) in latest.items():
            if t != table:
                continue
            cols = tuple(sorted(key))
            if cols not in index:
                index[cols] = {}
                if rows and set(cols) <= columns:
                    for i, r in enumerate(rows):
                        k = _canonical(_plain({c: r[c] for c in cols}))
                        index[cols].setdefault(k, []).append(i)
            found = index[cols].get(_canonical(key), [])
            if not found:
                problems.append(Problem("row", f"{table} row {key} (covered by record seq {seq}) "
                                               "was deleted", seq))
            elif len(found) > 1:
                problems.append(Problem("row", f"{table} holds {len(found)} rows {key} (covered "
                                               f"by record seq {seq}): rows were added", seq))
            elif row_hash(table, rows[found[0]]) != digest:
                problems.append(Problem("row", f"{table} row {key} was edited after record seq "
                                               f"{seq} covered it", seq))
            covered_rows.update(found)
        loose = [r for i, r in enumerate(rows) if i not in covered_rows]
        hashes = sorted(row_hash(table, r) for r in loose)
        expected = baseline.get(table)
        if expected is None and loose:
            shown = ", ".join(_describe(r) for r in loose[:3])
            problems.append(Problem("row", f"{table} holds {len(loose)} row(s) no record covers "
                                           f"({shown}): rows were added outside StressLab"))
        elif expected is not None and (expected.get("rows") != len(hashes) or
                                       expected.get("rows_hash") != _sha256("\n".join(hashes))):
            problems.append(Problem("row", f"{table}: the {expected.get('rows')} rows stored "
                                           f"before coverage began (record seq "
                                           f"{baselines[0].seq}) were changed; {len(hashes)} "
                                           "rows are now uncovered",
                                    baselines[0].seq))
    return problems
