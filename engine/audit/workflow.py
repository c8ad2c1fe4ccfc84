"""The audit actions, called alike by ``stresslab audit …``, ``stresslab runs list`` and pages.

* :func:`verify_audit`: walk the hash-chained audit trail (:mod:`engine.audit.chain`);
* :func:`export_audit`: the trail as JSON Lines;
* :func:`list_runs`: the recorded runs of every capability (:mod:`engine.audit.runs`).

Each reads the store in one short read session and returns a frozen result.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from engine.audit import chain
from engine.audit import runs as _runs
from engine.audit.runs import RunKind
from engine.errors import from_pydantic
from engine.store import Store

__all__ = ["AuditVerification", "RunList", "RunListRow", "RunsQuery", "export_audit",
           "list_runs", "verify_audit"]


class AuditVerification(BaseModel):
    """The outcome of walking the audit chain.

    Attributes
    ----------
    ok : bool
        True when every record links to the one before and matches its hash and the head.
    records : int
        Records stored.
    first_bad_seq : int or None
        The first bad record's sequence number (None when ``ok``).
    head_seq, head_hash : int or str, or None
        The chain's head as stored (None for an empty chain); keep them outside the store to
        detect a rewrite of the whole chain later.
    """

    model_config = ConfigDict(frozen=True)

    ok: bool
    records: int
    first_bad_seq: int | None
    head_seq: int | None
    head_hash: str | None

    def to_text(self) -> str:
        """The outcome in words, as ``stresslab audit verify`` prints it."""
        text = (f"audit chain intact: {self.records} records" if self.ok
                else f"audit chain broken: first bad record is seq {self.first_bad_seq} "
                     f"(of {self.records} records)")
        if self.head_seq is not None:
            text += (f"\nhead: seq {self.head_seq}, sha256 {self.head_hash} (keep it outside the "
                     "store to check later)")
        return text


def verify_audit(*, store: Store | None = None) -> AuditVerification:
    """Verify the audit chain (see :func:`engine.audit.chain.verify`)."""
    with (store or Store()).read() as con:
        bad = chain.verify(con)
        n = chain.count(con)
        top = chain.head(con)
    return AuditVerification(ok=bad is None, records=n, first_bad_seq=bad,
                             head_seq=None if top is None else top[0],
                             head_hash=None if top is None else top[1])


def export_audit(*, store: Store | None = None, out: str | Path | None = None) -> str:
    """The audit chain as JSON Lines (one canonical-JSON record per line, in sequence order).

    Writes the text to ``out`` (a path) too, after the store session has ended.
    """
    with (store or Store()).read() as con:
        text = chain.export_jsonl(con)
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
    return text


class RunsQuery(BaseModel):
    """Which runs to list: one capability's (``kind``) or all, newest first, at most ``limit``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: RunKind | None = None
    limit: int = Field(default=200, ge=1, le=100_000)

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """The query from its fields.

        Raises
        ------
        ValidationError
            An unknown kind or a limit outside [1, 100000] (the engine's error).
        """
        try:
            return cls(**fields)
        except pydantic.ValidationError as exc:
            raise from_pydantic(exc, subject="runs query") from None


class RunListRow(BaseModel):
    """One recorded run, as lists show it."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    kind: str
    started_at: datetime
    status: str
    summary: str
    subject_name: str | None = None
    execution_time: float | None = None

    def to_json_row(self) -> dict[str, Any]:
        """``{run_id, kind, started_at (ISO 8601), status, summary}``."""
        return {"run_id": self.run_id, "kind": self.kind,
                "started_at": self.started_at.isoformat(), "status": self.status,
                "summary": self.summary}


class RunList(BaseModel):
    """Recorded runs, newest first."""

    model_config = ConfigDict(frozen=True)

    rows: tuple[RunListRow, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per run: run_id, kind, started_at, status, summary, subject, time (s)."""
        return pd.DataFrame([r.model_dump() for r in self.rows],
                            columns=list(RunListRow.model_fields))

    def to_json_rows(self) -> list[dict[str, Any]]:
        """The rows as ``stresslab runs list --json`` prints them."""
        return [r.to_json_row() for r in self.rows]


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def list_runs(request: RunsQuery, *, store: Store | None = None) -> RunList:
    """The recorded runs of every capability (or of ``request.kind``), newest first."""
    with (store or Store()).read() as con:
        frame = _runs.list_runs(con, kind=request.kind, limit=request.limit)
    rows = []
    for rec in frame.to_dict("records"):
        started = pd.Timestamp(rec["started_at"]).to_pydatetime()
        time_s = rec.get("execution_time")
        rows.append(RunListRow(
            run_id=str(rec["run_id"]), kind=str(rec["kind"]), started_at=started,
            status=str(rec["status"]), summary=_text(rec["summary"]) or "",
            subject_name=_text(rec.get("subject_name")),
            execution_time=None if time_s is None or pd.isna(time_s) else float(time_s)))
    return RunList(rows=tuple(rows))
