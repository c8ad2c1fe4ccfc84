"""The workbench's tables: validation runs (the ``runs`` row, kind='mlrisk', plus ``ml_runs``),
their artifacts and degradation rows, validator sign-offs and saved handbooks.

``ml_artifacts`` holds a run's evidence files: the six artifacts, ``evidence_manifest.sig``
when the run was signed, and each sign-off's addendum ``signoff_NNN.json`` (with its
``signoff_NNN.sig``). Its ``sha256`` column of ``evidence_manifest.json`` is the manifest hash
the store records for the run. The signed audit trail (:mod:`engine.audit.chain`) gets an
``ml_decision`` record per run (covering its ``ml_runs`` row, naming the manifest hash and key)
and a ``signoff`` record per sign-off (covering its ``ml_signoffs`` row, naming the addendum's
hash), written in the same transaction as the rows.

Parameterized SQL only. These functions take a DuckDB connection or cursor (a :class:`~engine.store.Store`
session, or :func:`engine.store.connect` in tests); :mod:`engine.mlrisk.workflow` opens the sessions.
Every write is one transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
from pydantic import BaseModel

from engine.audit import chain
from engine.audit.keys import SigningKey
from engine.audit.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    RecordedEvidence,
    SignOffAddendum,
    sha256_hex,
    signature_file,
    signature_key_id,
    signature_name,
    signoff_name,
)
from engine.audit.runs import RunRow, insert_run
from engine.canonical import canonical_bytes
from engine.errors import InputError, NotFoundError
from engine.mlrisk._models import Handbook, parse_handbook
from engine.store import transaction

if TYPE_CHECKING:
    from engine.mlrisk._runner import ValidationRun

__all__ = [
    "save_run", "list_runs", "load_run_row", "load_artifacts", "load_results", "recorded_evidence",
    "add_signoff", "list_signoffs", "save_handbook", "load_handbook", "list_handbooks",
]

#: Audit-trail event types written here.
DECISION_EVENT = "ml_decision"
SIGNOFF_EVENT = "signoff"


def save_run(con: duckdb.DuckDBPyConnection, *, run: ValidationRun, request: BaseModel, summary: str,
             started_at: datetime, finished_at: datetime) -> None:
    """Store a finished validation in one transaction: its ``runs`` row, ``ml_runs``, its evidence
    files (the six artifacts and the manifest's signature), the degradation rows and an
    ``ml_decision`` record of the audit trail covering the ``ml_runs`` row. Everything is
    stored, or nothing.

    Parameters
    ----------
    run : ValidationRun
        The finished validation.
    request : pydantic model
        The workflow request that made it; stored as the run's configuration.
    summary : str
        One line for lists ("REDESIGN: 3 failing scenarios").
    started_at, finished_at : datetime
        Naive UTC.

    Raises
    ------
    StoreError
        If a run with this id is already stored.
    """
    r = run.results
    response = {"decision": r["decision"]["decision"], "baseline": r["baseline"]["metrics"],
                "failing_scenarios": r["decision"]["failing_scenarios"]}
    with transaction(con):
        insert_run(con, RunRow(
            run_id=run.run_id, kind="mlrisk", request=request, status="success", summary=summary,
            started_at=started_at, finished_at=finished_at,
            inputs_hash=sha256_hex(canonical_bytes(run.inputs_hash)), subject_name=r["data"]["name"],
            execution_time=run.timings.get("total"), timings=run.timings, response=response))
        con.execute(
            "INSERT INTO ml_runs (run_id, dataset_name, dataset_sha256, task, model_kind, target, n_rows,"
            " decision, validator, generated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run.run_id, r["data"]["name"], r["data"]["sha256"], r["task"], r["model"]["kind"], r["target"],
             r["data"]["n_rows"], r["decision"]["decision"], run.user, run.generated_at],
        )
        con.executemany(
            "INSERT INTO ml_artifacts (run_id, name, sha256, content) VALUES (?, ?, ?, ?)",
            [[run.run_id, name, sha256_hex(b), b] for name, b in sorted(run.artifacts.items())],
        )
        con.executemany(
            "INSERT INTO ml_degradation (run_id, scenario_id, stress_type, severity_level, metric_name,"
            " baseline_value, stressed_value, degradation_pct, threshold, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[run.run_id, x["scenario_id"], x["stress_type"], x["severity_level"], x["metric_name"],
              x["baseline_value"], x["stressed_value"], x["degradation_pct"], x["threshold"], x["status"]]
             for x in run.rows],
        )
        chain.append(con, event_type=DECISION_EVENT, timestamp=finished_at, payload={
            "run_id": run.run_id, "decision": r["decision"]["decision"], "summary": summary,
            "dataset_sha256": r["data"]["sha256"],
            "manifest_sha256": sha256_hex(run.artifacts[MANIFEST_NAME]),
            "key_id": signature_key_id(run.artifacts.get(SIGNATURE_NAME))},
            covers=[("ml_runs", {"run_id": run.run_id})])


def list_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Stored validations, newest first: run_id, generated_at, dataset_name, task, model_kind,
    target, n_rows, decision, validator, summary, execution_time, signoffs."""
    return con.execute(
        "SELECT m.run_id, m.generated_at, m.dataset_name, m.task, m.model_kind, m.target, m.n_rows,"
        " m.decision, m.validator, r.summary, r.execution_time,"
        " (SELECT count(*) FROM ml_signoffs s WHERE s.run_id = m.run_id) AS signoffs"
        " FROM ml_runs m JOIN runs r USING (run_id) ORDER BY m.generated_at DESC, m.run_id"
    ).df()


def load_run_row(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """A stored run's ``ml_runs`` row with its ``runs`` summary and execution time.

    Raises
    ------
    NotFoundError
        If no validation run has this id.
    """
    cur = con.execute(
        "SELECT m.run_id, m.generated_at, m.dataset_name, m.dataset_sha256, m.task, m.model_kind, m.target,"
        " m.n_rows, m.decision, m.validator, r.summary, r.execution_time"
        " FROM ml_runs m JOIN runs r USING (run_id) WHERE m.run_id = ?", [run_id])
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"no model validation run {run_id!r} in the store")
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def load_artifacts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, bytes]:
    """The stored artifacts of a run, name -> bytes.

    Raises
    ------
    NotFoundError
        If no run has this id.
    """
    rows = con.execute("SELECT name, content FROM ml_artifacts WHERE run_id = ? ORDER BY name", [run_id]).fetchall()
    if not rows:
        raise NotFoundError(f"no model validation run {run_id!r} in the store")
    return {name: bytes(content) for name, content in rows}


def load_results(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[dict, list[dict]]:
    """The stored robustness results and degradation rows of a run (parsed JSON).

    Raises
    ------
    NotFoundError
        If no run has this id.
    """
    a = load_artifacts(con, run_id)
    return json.loads(a["robustness_results.json"]), json.loads(a["performance_degradation_report.json"])


def recorded_evidence(con: duckdb.DuckDBPyConnection, *, run_id: str, where: str) -> RecordedEvidence:
    """What the store recorded about a run's evidence (``found`` False if the run is not stored).

    Parameters
    ----------
    run_id : str
    where : str
        The store's path, for messages.

    Returns
    -------
    RecordedEvidence
        The stored manifest's SHA-256 and signing key, the stored sign-off addenda (name ->
        SHA-256), the manifest hash the audit trail's latest ``ml_decision`` record of the run
        names (None if the trail has none) and the addenda its ``signoff`` records name.
    """
    rows = con.execute("SELECT name, sha256, content FROM ml_artifacts WHERE run_id = ? AND"
                       " (name IN (?, ?) OR name LIKE 'signoff\\_%' ESCAPE '\\')",
                       [run_id, MANIFEST_NAME, SIGNATURE_NAME]).fetchall()
    stored = {name: (digest, bytes(content)) for name, digest, content in rows}
    if MANIFEST_NAME not in stored:
        return RecordedEvidence(where=where, found=False)
    decisions, signoffs = [], {}
    for rec in chain.iter_records(con, event_types=(DECISION_EVENT, SIGNOFF_EVENT), run_id=run_id):
        if rec.event_type == DECISION_EVENT:
            decisions.append(rec)
        elif rec.event_type == SIGNOFF_EVENT and isinstance(rec.payload.get("seq"), int):
            signoffs[signoff_name(rec.payload["seq"])] = (str(rec.payload.get("addendum_sha256")), rec.seq)
    return RecordedEvidence(
        where=where, found=True, manifest_sha256=stored[MANIFEST_NAME][0],
        key_id=signature_key_id(stored.get(SIGNATURE_NAME, (None, None))[1]),
        trail_manifest_sha256=decisions[-1].payload.get("manifest_sha256") if decisions else None,
        trail_seq=decisions[-1].seq if decisions else None,
        addenda={n: d for n, (d, _) in stored.items() if n.startswith("signoff_")}, trail_addenda=signoffs)


def add_signoff(con: duckdb.DuckDBPyConnection, *, run_id: str, name: str, comment: str,
                signed_at: datetime, key: SigningKey | None) -> SignOffAddendum:
    """Record a validator's sign-off on a stored run, in one transaction.

    Stores the ``ml_signoffs`` row; the addendum ``signoff_NNN.json`` (run, manifest hash,
    decision, validator, comment, time) and, with a key, its signature ``signoff_NNN.sig`` as
    evidence files in ``ml_artifacts``; and a ``signoff`` record of the audit trail covering
    the row.

    Parameters
    ----------
    run_id, name, comment : str
        Name and comment are stored trimmed.
    signed_at : datetime
        Naive UTC.
    key : SigningKey or None
        Signs the addendum; None leaves it unsigned.

    Returns
    -------
    SignOffAddendum

    Raises
    ------
    InputError
        If the name is blank, or this validator already signed off this run at this time.
    NotFoundError
        If the run is not stored.
    """
    who, said = name.strip(), comment.strip()
    if not who:
        raise InputError("a sign-off needs the validator's name")
    row = con.execute("SELECT m.decision, a.sha256 FROM ml_runs m JOIN ml_artifacts a USING (run_id)"
                      " WHERE m.run_id = ? AND a.name = ?", [run_id, MANIFEST_NAME]).fetchone()
    if row is None:
        raise NotFoundError(f"no model validation run {run_id!r} in the store")
    with transaction(con):
        if con.execute("SELECT count(*) FROM ml_signoffs WHERE run_id = ? AND signed_at = ? AND name = ?",
                       [run_id, signed_at, who]).fetchone()[0]:
            raise InputError(f"{who} already signed off run {run_id} at {signed_at.isoformat()}; "
                             "sign off again at another time")
        n = con.execute("SELECT count(*) FROM ml_artifacts WHERE run_id = ? AND name LIKE 'signoff\\_%.json'"
                        " ESCAPE '\\'", [run_id]).fetchone()[0]
        addendum = SignOffAddendum(seq=int(n) + 1, run_id=run_id, manifest_sha256=row[1], decision=row[0],
                                   validator=who, comment=said, signed_at=signed_at.isoformat())
        content = addendum.to_bytes()
        files = {addendum.file_name: content}
        if key is not None:
            files[signature_name(addendum.file_name)] = signature_file(key, name=addendum.file_name, content=content)
        con.execute("INSERT INTO ml_signoffs (run_id, signed_at, name, comment, decision) VALUES (?, ?, ?, ?, ?)",
                    [run_id, signed_at, who, said, row[0]])
        con.executemany("INSERT INTO ml_artifacts (run_id, name, sha256, content) VALUES (?, ?, ?, ?)",
                        [[run_id, f, sha256_hex(b), b] for f, b in sorted(files.items())])
        chain.append(con, event_type=SIGNOFF_EVENT, timestamp=signed_at, payload={
            "run_id": run_id, "seq": addendum.seq, "validator": who, "decision": row[0],
            "manifest_sha256": row[1], "addendum_sha256": sha256_hex(content),
            "key_id": None if key is None else key.key_id},
            covers=[("ml_signoffs", {"run_id": run_id, "signed_at": signed_at, "name": who})])
    return addendum


def list_signoffs(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """A run's sign-offs in the order they were made: signed_at (naive UTC), name, comment, decision."""
    return con.execute("SELECT signed_at, name, comment, decision FROM ml_signoffs WHERE run_id = ?"
                       " ORDER BY signed_at, name", [run_id]).df()


def save_handbook(con: duckdb.DuckDBPyConnection, *, name: str, handbook: Handbook, updated_at: datetime) -> None:
    """Save (or replace) a named handbook.

    Raises
    ------
    InputError
        If the name is blank.
    """
    if not name.strip():
        raise InputError("a saved handbook needs a name")
    with transaction(con):
        con.execute("DELETE FROM ml_handbooks WHERE name = ?", [name.strip()])
        con.execute("INSERT INTO ml_handbooks (name, content, updated_at) VALUES (?, ?, ?)",
                    [name.strip(), handbook.to_json(), updated_at])


def load_handbook(con: duckdb.DuckDBPyConnection, name: str) -> Handbook:
    """A saved handbook.

    Raises
    ------
    NotFoundError
        If no handbook is saved under ``name``.
    """
    row = con.execute("SELECT content FROM ml_handbooks WHERE name = ?", [name]).fetchone()
    if row is None:
        raise NotFoundError(f"no saved handbook {name!r}")
    return parse_handbook(row[0], subject=f"saved handbook {name!r}")


def list_handbooks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the saved handbooks, in alphabetical order."""
    return [r[0] for r in con.execute("SELECT name FROM ml_handbooks ORDER BY name").fetchall()]
