"""The audit actions, called alike by ``stresslab audit|keys|runs …`` and the pages.

* :func:`verify_audit`: check the signed, hash-chained audit trail (:mod:`engine.audit.chain`)
  and give its status line for pages;
* :func:`create_keys`, :func:`show_keys`: the signing key (:mod:`engine.audit.keys`);
* :func:`export_audit`: the trail as JSON Lines;
* :func:`list_runs`: the recorded runs of every capability (:mod:`engine.audit.runs`).

Each reads the store in one short read session and returns a frozen result.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.audit import chain
from engine.audit import keys as _keys
from engine.audit import runs as _runs
from engine.audit.runs import RunKind
from engine.errors import InputError
from engine.requests import Request
from engine.store import Store

__all__ = ["KeyInfo", "RunList", "RunListRow", "RunsQuery", "TrailProblem", "TrailStatus",
           "create_keys", "export_audit", "list_runs", "show_keys", "verify_audit"]


class TrailProblem(BaseModel):
    """One way the audit trail does not check out (see :class:`engine.audit.chain.Problem`).

    ``reason``: ``record``, ``order``, ``head``, ``signature``, ``checkpoint``, ``store``, ``row``.
    """

    model_config = ConfigDict(frozen=True)

    reason: str
    message: str
    seq: int | None = None


class TrailStatus(BaseModel):
    """The state of the audit trail: signed or not, its figures, and whatever failed.

    Attributes
    ----------
    ok : bool
        True when nothing failed: every record matches its hash and links to the one before,
        the head matches the last record, and, when signed, the head's signature, the
        checkpoint outside the store and the store's identity check out; every covered row
        is as its latest record states.
    signed : bool
        A key exists to check the trail (and, with its private half, to sign new records).
    key_id : str or None
        The key's id (16 hex digits), None when unsigned.
    keys_dir : str
        The key directory (``$STRESSLAB_KEYS`` or the user's config directory).
    records : int
        Records stored.
    head_seq, head_hash : int or str, or None
        The chain's head as stored (None for an empty chain).
    checkpoint_seq : int or None
        The seq of this store's checkpoint in the key directory (None: none yet, or unsigned).
    first_bad_seq : int or None
        The seq the first problem names, if any.
    problems : tuple of TrailProblem
        What failed, in the order found (empty when ``ok``).
    warnings : tuple of str
        What is not a failure but worth knowing: a head written before the key existed, a
        checkpoint behind the chain (a crash between commit and checkpoint).
    """

    model_config = ConfigDict(frozen=True)

    ok: bool
    signed: bool
    key_id: str | None
    keys_dir: str
    records: int
    head_seq: int | None
    head_hash: str | None
    checkpoint_seq: int | None
    first_bad_seq: int | None
    problems: tuple[TrailProblem, ...]
    warnings: tuple[str, ...]

    def line(self) -> str:
        """One line for a page: ``Audit trail: signed (key …), N records, verified``."""
        n = f"{self.records} record{'s' if self.records != 1 else ''}"
        if not self.ok:
            return f"Audit trail: TAMPERED, {n}: {self.problems[0].message}"
        if self.signed:
            return f"Audit trail: signed (key {self.key_id}), {n}, verified"
        return (f"Audit trail: UNSIGNED, {n}, intact as far as the store can tell; sign it with "
                "`stresslab keys init`")

    def to_text(self) -> str:
        """The outcome as ``stresslab audit verify`` prints it: one ``TAMPERED:`` line per
        problem, then the head, the checkpoint and any warnings."""
        lines = [f"TAMPERED: {p.message}" for p in self.problems]
        n = f"{self.records} record{'s' if self.records != 1 else ''}"
        lines.append(self.line() if self.ok else
                     f"Audit trail: TAMPERED, {n}, {len(self.problems)} problem"
                     f"{'s' if len(self.problems) != 1 else ''} (above)")
        if not self.signed:
            lines.append(f"UNSIGNED: no signing key in {self.keys_dir}; anyone who can write the "
                         "store can rewrite the trail unseen. Run `stresslab keys init` to sign "
                         "every new record")
        if self.head_seq is not None:
            lines.append(f"head: seq {self.head_seq}, sha256 {self.head_hash}")
        if self.checkpoint_seq is not None:
            lines.append(f"checkpoint (key directory): seq {self.checkpoint_seq}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def verify_audit(*, store: Store | None = None, public_key: str | Path | None = None,
                 checkpoint: str | Path | None = None) -> TrailStatus:
    """Verify the audit trail: its records, order, head, signature, checkpoint and covered rows.

    Also the trail's status line for pages (:meth:`TrailStatus.line`).

    Parameters
    ----------
    store : Store, optional
        Default: the configured store.
    public_key : path, optional
        A public key (``audit_ed25519.pub``) kept elsewhere, to check against instead of the
        key directory's.
    checkpoint : path, optional
        A checkpoint file kept elsewhere (a copy of ``checkpoints/<store_id>.json``), checked
        with those of the key directory.

    Raises
    ------
    InputError
        If ``public_key`` or ``checkpoint`` is given but is not a readable key or checkpoint, or
        the key directory's key is unreadable.

    Notes
    -----
    See :func:`engine.audit.chain.verify` for each check and ``docs/ARCHITECTURE.md``
    ("Audit trail and signatures") for what it protects against.
    """
    key = _keys.resolve_verify_key(public_key)
    problems: list[TrailProblem] = []
    checkpoints: list[_keys.Checkpoint] = []
    if key is not None:
        try:
            checkpoints = _keys.read_checkpoints()
        except InputError as exc:
            problems.append(TrailProblem(reason="checkpoint", message=str(exc)))
        if checkpoint is not None:
            checkpoints.append(_keys.load_checkpoint(checkpoint))
    with (store or Store()).read() as con:
        found = chain.verify(con, key=key, checkpoints=checkpoints)
    problems[:0] = [TrailProblem(reason=p.reason, message=p.message, seq=p.seq)
                    for p in found.problems]
    first = next((p.seq for p in problems if p.seq is not None), None)
    top = found.head
    return TrailStatus(
        ok=not problems, signed=key is not None, key_id=None if key is None else key.key_id,
        keys_dir=str(_keys.keys_dir()), records=found.records,
        head_seq=None if top is None else top.seq, head_hash=None if top is None else top.hash,
        checkpoint_seq=found.checkpoint_seq, first_bad_seq=first, problems=tuple(problems),
        warnings=found.warnings)


class KeyInfo(BaseModel):
    """The signing key of the audit trail and evidence, as ``stresslab keys show`` prints it.

    Attributes
    ----------
    keys_dir : str
        The key directory.
    key_id : str or None
        First 16 hex digits of the SHA-256 of the raw public key; None when there is no key.
    private_key, public_key : str or None
        The key files (None when absent).
    checkpoints : int
        Checkpoints kept in the directory (one per store signed with it).
    replaced_key_id : str or None
        After ``keys init --force``: the id of the key replaced.
    """

    model_config = ConfigDict(frozen=True)

    keys_dir: str
    key_id: str | None
    private_key: str | None
    public_key: str | None
    checkpoints: int
    replaced_key_id: str | None = None

    def to_text(self) -> str:
        """The key in words."""
        if self.key_id is None:
            return (f"no signing key in {self.keys_dir}: the audit trail is UNSIGNED. Create one "
                    "with `stresslab keys init` (or set STRESSLAB_KEYS to the key directory)")
        lines = [f"key directory: {self.keys_dir}", f"key id: {self.key_id} (Ed25519)",
                 f"private key: {self.private_key or 'absent (can verify, cannot sign)'}",
                 f"public key: {self.public_key}  (keep a copy elsewhere to verify against)",
                 f"checkpoints: {self.checkpoints}"]
        if self.replaced_key_id:
            lines.append(f"replaced key {self.replaced_key_id}: heads and evidence it signed no "
                         "longer verify; each store's head is signed again by its next record")
        return "\n".join(lines)


def _key_info(*, replaced: str | None = None) -> KeyInfo:
    folder = _keys.keys_dir()
    private = folder / _keys.PRIVATE_NAME
    key = _keys.resolve_verify_key()
    try:
        n = len(_keys.read_checkpoints())
    except InputError:
        n = 0
    return KeyInfo(keys_dir=str(folder), key_id=None if key is None else key.key_id,
                   private_key=str(private) if private.is_file() else None,
                   public_key=str(key.path) if key is not None and key.path.suffix == ".pub"
                   else None, checkpoints=n, replaced_key_id=replaced)


def show_keys() -> KeyInfo:
    """The key directory, the key's id and files (``stresslab keys show``).

    Raises
    ------
    InputError
        If the key files exist but cannot be read as Ed25519 keys.
    """
    return _key_info()


def create_keys(*, force: bool = False) -> KeyInfo:
    """Create the Ed25519 key pair that signs the audit trail and evidence (``keys init``).

    Parameters
    ----------
    force : bool
        Replace an existing pair (what the old key signed then no longer verifies).

    Raises
    ------
    InputError
        If a key exists and ``force`` is false, or the key directory cannot be written.
    """
    old = _keys.resolve_verify_key() if force else None
    _keys.init_keys(force=force)
    return _key_info(replaced=None if old is None else old.key_id)


def export_audit(*, store: Store | None = None, out: str | Path | None = None) -> str:
    """The audit chain as JSON Lines (one canonical-JSON record per line, in sequence order).

    Writes the text to ``out`` (a path) too, after the store session has ended.
    """
    with (store or Store()).read() as con:
        text = chain.export_jsonl(con)
    if out is not None:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the audit trail to {str(out)!r}: {exc.strerror}") from None
    return text


class RunsQuery(Request):
    """Which runs to list: one capability's (``kind``) or all, newest first, at most ``limit``.

    ``build`` raises the engine's ValidationError for an unknown kind or a limit outside
    [1, 100000].
    """

    subject: ClassVar[str] = "runs query"

    kind: RunKind | None = None
    limit: int = Field(default=200, ge=1, le=100_000)


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
