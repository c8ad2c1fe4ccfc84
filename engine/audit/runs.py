"""The ``runs`` table: one row per recorded run of any capability.

Every capability records its runs here, in the same transaction as its own result tables, through
:func:`insert_run`, which also appends the run's ``run`` record to the audit trail, covering the
row (:mod:`engine.audit.chain`); ``stresslab runs list`` and the pages read them with
:func:`list_runs`. A run's ``configuration`` is the JSON of the typed request that produced it
(its workflow's request model), so :func:`stored_request` rebuilds that request and the run can
be repeated.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import duckdb
import pandas as pd
from pydantic import BaseModel, ConfigDict

from engine import __version__
from engine.audit import chain
from engine.canonical import canonical_json
from engine.errors import NotFoundError, StoreError

__all__ = ["RunKind", "RunRow", "insert_run", "list_runs", "new_run_id", "stored_request",
           "utc_now"]

#: The capabilities whose runs the table holds.
RunKind = Literal["credit", "mlrisk", "market", "live"]

R = TypeVar("R", bound=BaseModel)


def utc_now() -> datetime:
    """The wall clock as naive UTC, the store's convention for timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id(kind: str) -> str:
    """A new, unique run id: ``<kind>-YYYYmmdd-HHMMSS-<12 hex>``."""
    return f"{kind}-{utc_now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}"


class RunRow(BaseModel):
    """One row of ``runs``, as every capability records it.

    ``request`` is the workflow's typed request; it is stored as its JSON (``configuration``).
    ``summary`` is one line for lists ("Credit Crisis −18.2 % NPV", "REDESIGN", …).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    run_id: str
    kind: RunKind
    request: BaseModel
    status: Literal["success", "partial", "error"]
    summary: str
    started_at: datetime
    finished_at: datetime
    inputs_hash: str = ""
    subject_id: str | None = None
    subject_name: str | None = None
    error: str | None = None
    execution_time: float | None = None
    timings: dict[str, float] | None = None
    response: Any = None
    engine_version: str = __version__


def insert_run(con: duckdb.DuckDBPyConnection, row: RunRow) -> str:
    """Insert ``row`` into ``runs`` and its ``run`` audit record; returns its run_id.

    Runs inside the caller's transaction. The audit record (event ``run``, payload
    ``{run_id, kind, status}`` and ``requested_by`` when the request names its user,
    timestamped ``finished_at``) covers the row
    (:func:`engine.audit.chain.append`), so every run of every kind is in the signed trail and
    an edit of its stored row is found by ``stresslab audit verify``.

    Raises
    ------
    StoreError
        If a run with this id is already stored.
    """
    try:
        con.execute(
            "INSERT INTO runs (run_id, kind, pool_id, pool_name, inputs_hash, configuration,"
            " engine_version, status, error, started_at, finished_at, execution_time, timings,"
            " response, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row.run_id, row.kind, row.subject_id, row.subject_name, row.inputs_hash,
             canonical_json(row.request.model_dump(mode="json")), row.engine_version, row.status,
             row.error, row.started_at, row.finished_at, row.execution_time,
             None if row.timings is None else canonical_json(row.timings),
             None if row.response is None else canonical_json(row.response), row.summary])
    except duckdb.ConstraintException as exc:
        raise StoreError(f"a run {row.run_id!r} is already stored") from exc
    payload = {"run_id": row.run_id, "kind": row.kind, "status": row.status}
    if (user := getattr(row.request, "requested_by", None)) is not None:
        payload["requested_by"] = user
    chain.append(con, event_type="run", timestamp=row.finished_at, payload=payload,
                 covers=[("runs", {"run_id": row.run_id})])
    return row.run_id


def list_runs(con: duckdb.DuckDBPyConnection, *, kind: str | None = None,
              limit: int = 200) -> pd.DataFrame:
    """Stored runs, newest first: run_id, kind, started_at, status, summary, subject, time,
    engine version and ``requested_by`` (the API's token user; None from the command line).

    Parameters
    ----------
    kind : {"credit", "mlrisk", "market", "live"}, optional
        Only this capability's runs.
    limit : int
        At most this many rows.
    """
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    return con.execute(
        "SELECT run_id, kind, started_at, status, coalesce(summary, status) AS summary,"
        " pool_id AS subject_id, pool_name AS subject_name, execution_time, engine_version,"
        " json_extract_string(configuration, '$.requested_by') AS requested_by"
        f" FROM runs {where} ORDER BY started_at DESC, run_id DESC LIMIT ?",
        [*params, int(limit)]).df()


def stored_request(con: duckdb.DuckDBPyConnection, *, run_id: str, model: type[R],
                   kind: str) -> R:
    """The typed request a stored run was made from, rebuilt from its ``configuration``.

    Raises
    ------
    NotFoundError
        If no run of ``kind`` has this id.
    StoreError
        If the stored configuration is not a valid ``model`` (a run from an older version).
    """
    row = con.execute("SELECT configuration FROM runs WHERE run_id = ? AND kind = ?",
                      [run_id, kind]).fetchone()
    if row is None:
        raise NotFoundError(f"no stored {kind} run {run_id!r}; `stresslab runs list` shows them")
    try:
        return model.model_validate_json(row[0])
    except ValueError as exc:
        raise StoreError(f"run {run_id!r} was stored with a configuration this version cannot "
                         f"read as a {model.__name__}: {exc}") from exc
