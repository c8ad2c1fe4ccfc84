"""A tamper-evident, append-only audit log kept in the DuckDB table ``audit_chain``.

Each record carries the SHA-256 of the record before it (``prev_hash``) and its own hash over the
canonical JSON of ``{seq, event_type, timestamp, payload, prev_hash}``
(:func:`engine.canonical.canonical_json`: sorted keys, separators ``(",", ":")``, UTF-8,
``ensure_ascii=False``, no NaN). The first record's ``prev_hash`` is 64 zeros.
Editing a record changes its hash; inserting or deleting one breaks the sequence or the link to
the record before it. :func:`verify` walks the chain and returns the first bad sequence number.

A chain alone cannot reveal the deletion of its *last* records (nothing follows them); anchor the
head hash elsewhere (an export, a ticket) when that matters.

References
----------
Haber & Stornetta (1991), "How to time-stamp a digital document", J. Cryptology 3(2).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import duckdb

from engine.canonical import canonical_json
from engine.errors import InputError

__all__ = [
    "GENESIS_HASH",
    "AuditRecord",
    "append",
    "count",
    "export_jsonl",
    "head",
    "iter_records",
    "record_hash",
    "verify",
]

#: ``prev_hash`` of the first record.
GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored record of the chain."""

    seq: int
    event_type: str
    timestamp: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "event_type": self.event_type,
            "timestamp": self.timestamp,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _canonical(obj: Any) -> str:
    """The chain's canonical JSON: :func:`engine.canonical.canonical_json`, compact, NaN refused.

    Sorted keys, separators ``(",", ":")``, ``ensure_ascii=False``: the format every stored hash
    was computed with, so it must never change.
    """
    return canonical_json(obj, nonfinite="error")


def record_hash(*, seq: int, event_type: str, timestamp: str, payload: Any, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON of the record's fields other than ``hash``."""
    body = _canonical({"seq": seq, "event_type": event_type, "timestamp": timestamp,
                           "payload": payload, "prev_hash": prev_hash})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _timestamp_text(timestamp: datetime | date | str) -> str:
    if isinstance(timestamp, (datetime, date)):
        return timestamp.isoformat()
    if isinstance(timestamp, str) and timestamp:
        return timestamp
    raise InputError(f"audit timestamp must be a datetime or ISO text, got {timestamp!r}")


def append(
    con: duckdb.DuckDBPyConnection,
    *,
    event_type: str,
    payload: Mapping[str, Any],
    timestamp: datetime | date | str,
) -> AuditRecord:
    """Append one record to the chain and return it.

    Runs inside the caller's transaction if one is open (``engine.store.transaction``); otherwise
    opens its own. The timestamp is supplied by the caller (the CLI or page passes ``now()``).

    Parameters
    ----------
    con : duckdb connection or cursor
        The store, with migration 0003 applied.
    event_type : str
        What happened: ``evaluation``, ``breach``, ``action``, ``false_positive``,
        ``mode_change``, ...
    payload : mapping
        JSON-serialisable details of the event.
    timestamp : datetime, date or ISO-8601 str
        When it happened, as the caller states it.

    Raises
    ------
    InputError
        If the event type is empty or the payload is not JSON-serialisable.
    """
    if not event_type or not isinstance(event_type, str):
        raise InputError("audit event_type must be a non-empty string")
    ts = _timestamp_text(timestamp)
    payload_obj = json.loads(_canonical(dict(payload)))
    payload_text = _canonical(payload_obj)

    def _write() -> AuditRecord:
        row = con.execute(
            "SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (1, GENESIS_HASH) if row is None else (int(row[0]) + 1, str(row[1]))
        digest = record_hash(seq=seq, event_type=event_type, timestamp=ts, payload=payload_obj,
                             prev_hash=prev)
        con.execute(
            "INSERT INTO audit_chain (seq, event_type, timestamp, payload, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?)", [seq, event_type, ts, payload_text, prev, digest])
        con.execute("INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, ?, ?)",
                    [seq, digest])
        return AuditRecord(seq, event_type, ts, payload_obj, prev, digest)

    if _in_transaction(con):
        return _write()  # the caller's transaction commits or rolls back
    con.execute("BEGIN TRANSACTION")
    try:
        record = _write()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return record


def _in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether an explicit transaction is open: in auto-commit every statement gets a new id."""
    first = con.execute("SELECT txid_current()").fetchone()[0]
    return con.execute("SELECT txid_current()").fetchone()[0] == first


def iter_records(con: duckdb.DuckDBPyConnection) -> Iterator[AuditRecord]:
    """Every stored record in sequence order (payloads parsed)."""
    rows = con.execute(
        "SELECT seq, event_type, timestamp, payload, prev_hash, hash FROM audit_chain"
        " ORDER BY seq").fetchall()
    for seq, event_type, ts, payload, prev, digest in rows:
        try:
            parsed = json.loads(payload)
        except (TypeError, ValueError):
            parsed = {"_unparseable_payload": str(payload)}
        yield AuditRecord(int(seq), str(event_type), str(ts), parsed, str(prev), str(digest))


def verify(con: duckdb.DuckDBPyConnection) -> int | None:
    """Walk the chain; return the first bad sequence number, or ``None`` if it is intact.

    A record is bad when its ``seq`` is not the previous one plus 1 (the first is 1), when its
    ``prev_hash`` is not the previous record's ``hash``, or when its ``hash`` does not match its
    content. Reports the ``seq`` of the first such record (for a deletion: the record after the
    gap; for an insertion: the inserted record). The last record must also match the head
    (``audit_head``, written with every record): records deleted from the end are reported as
    the first missing ``seq``; a head that disagrees with the last record, as that record.
    Rewriting the whole chain and its head together is not detectable from inside the store:
    keep :func:`head` outside it (``stresslab audit verify`` prints it) to guard against that.
    """
    expected_seq, prev = 1, GENESIS_HASH
    for rec in iter_records(con):
        if rec.seq != expected_seq or rec.prev_hash != prev:
            return rec.seq
        if "_unparseable_payload" in rec.payload:
            return rec.seq
        digest = record_hash(seq=rec.seq, event_type=rec.event_type, timestamp=rec.timestamp,
                             payload=rec.payload, prev_hash=rec.prev_hash)
        if digest != rec.hash:
            return rec.seq
        expected_seq, prev = rec.seq + 1, rec.hash
    stored = head(con)
    last_seq = expected_seq - 1
    if stored is None:
        return 1 if last_seq > 0 else None
    head_seq, head_hash = stored
    if head_seq > last_seq:
        return last_seq + 1
    if head_seq < last_seq or head_hash != prev:
        return last_seq
    return None


def count(con: duckdb.DuckDBPyConnection) -> int:
    """The number of records stored in the chain."""
    return int(con.execute("SELECT count(*) FROM audit_chain").fetchone()[0])


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The chain's head as stored: (last seq, its hash), or None for an empty chain."""
    row = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


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
