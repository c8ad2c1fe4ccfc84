"""The model-validation user actions, called alike by ``stresslab`` and the two ML pages.

Each action takes typed arguments (a run takes a :class:`ValidateRequest`, a frozen pydantic
model that refuses unknown fields) and returns a frozen result. Build a request with
:meth:`ValidateRequest.build`, which turns pydantic's errors into the engine's
:class:`~engine.errors.ValidationError` (every offending field at once).

Actions and what they store:

* :func:`validate`: train (or load) the model, stress it with the handbook, decide and render
  the six artifacts, and sign the manifest (``evidence_manifest.sig``) when a signing key
  exists (:mod:`engine.audit.keys`); when ``request.record``, one ``runs`` row (kind
  ``mlrisk``) with ``ml_runs``, ``ml_artifacts``, ``ml_degradation`` and an ``ml_decision``
  audit record in one transaction;
* :func:`sign_off`: one validator sign-off on a stored run, appended to its evidence as a
  signed addendum (``signoff_NNN.json`` and ``.sig``) and to the audit trail;
* :func:`save_handbook`: a named scenario handbook;
* read queries: :func:`preview_data`, :func:`list_runs`, :func:`load_run`, :func:`evidence_zip`,
  :func:`list_signoffs`, :func:`load_handbook`, :func:`list_handbooks`;
* :func:`verify_evidence`: check a run's evidence (a folder, its manifest, a zip, an upload or a
  stored run): signatures, listed hashes, unlisted files, sign-off addenda and what the store
  recorded (:func:`engine.audit.manifest.check_evidence`);
* the HTTP API's: :func:`start_validation_task` (a validation as a background task, its file
  paths confined to the data root by :func:`confine_paths`), :func:`validation_view` and
  :func:`validation_artifact` (a stored run's decision, sign-offs and evidence files).

Store discipline: data and model are read and the validation computed with the store released;
results are written in one short write session (:mod:`engine.store`). An input error raises
before the store is opened, so it records nothing.

What a recorded run's configuration keeps
------------------------------------------
The stored configuration is the request's JSON (:func:`engine.audit.runs.stored_request` rebuilds
it). File *bytes* are not stored in it: ``data_content`` and ``model_content`` are left out, and
the request is recorded with ``data_sha256`` (and ``model_sha256`` for a loaded model) filled in
from the bytes actually used. A rebuilt request therefore names its data (``data_name`` for an
upload, ``config.data`` relative to ``base_dir`` for a file, neither for the bundled data set) and
the hash it must match; to repeat an uploaded-data run, attach the same bytes again
(``request.model_copy(update={"data_content": ...})``): :func:`validate` refuses bytes whose
SHA-256 differs. The handbook the app edited is kept whole in ``handbook``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.audit import manifest as _manifest
from engine.audit.keys import SigningKey, keys_dir, load_signing_key, resolve_verify_key
from engine.audit.runs import new_run_id, stored_request, utc_now
from engine.errors import InputError, Issue, NotFoundError, StoreError, ValidationError
from engine.limits import parse_json
from engine.mlrisk import _store
from engine.mlrisk._artifacts import REQUIRED_OUTPUTS, artifacts_zip
from engine.mlrisk._data import (
    DEFAULT_DATASET_NAME,
    DEFAULT_SUBGROUPS,
    DEFAULT_TARGET,
    default_dataset_bytes,
    load_default_dataset,
    read_table,
)
from engine.mlrisk._models import Handbook, ValidationConfig, parse_handbook
from engine.mlrisk._training import check_skops_archive
from engine.requests import ExecutorChoice, Request
from engine.store import Store

if TYPE_CHECKING:
    from engine.mlrisk._runner import ValidationRun
    from engine.tasks.workflow import TaskReporter, TaskRunner

__all__ = [
    "ValidateRequest",
    "ValidationRecorded",
    "DataPreview",
    "StoredValidation",
    "SignOff",
    "preview_data",
    "validate",
    "list_runs",
    "load_run",
    "evidence_zip",
    "sign_off",
    "list_signoffs",
    "save_handbook",
    "load_handbook",
    "list_handbooks",
    "verify_evidence",
    "DATA_ROOT_ENV",
    "DEFAULT_DATA_ROOT",
    "PATH_RULE",
    "EVIDENCE_ZIP",
    "ValidationTaskAccepted",
    "ValidationView",
    "ArtifactLink",
    "SignOffView",
    "api_data_root",
    "confine_paths",
    "start_validation_task",
    "validation_task_data",
    "validation_view",
    "validation_artifact",
]

Source = Literal["cli", "app", "api"]


# --------------------------------------------------------------------------- request

class ValidateRequest(ExecutorChoice, Request):
    """One model validation: the configuration and where its data, model and handbook come from.

    Attributes
    ----------
    config : ValidationConfig
        Target, features, subgroups, model kind, split, seed, thresholds, ECE binning; its
        ``data``, ``model_path`` and ``handbook`` are file paths (relative to ``base_dir``).
    base_dir : Path, optional
        Folder the paths in ``config`` are relative to (the CLI: the config file's folder);
        default the working directory.
    data_content, data_name : bytes, str, optional
        An uploaded table (CSV, CSV.gz or Parquet; the name's extension picks the reader).
        Neither this nor ``config.data``: the bundled UCI credit-card default data set. Never
        stored in the run's configuration (see the module docstring).
    data_sha256 : str, optional
        SHA-256 (hex) the data's bytes must have; filled in when the run is recorded.
    model_content, model_name : bytes, str, optional
        A model saved with skops, evaluated instead of training ``config.model``. Never stored
        in the run's configuration.
    model_sha256 : str, optional
        SHA-256 (hex) the model's bytes must have; filled in when the run is recorded.
    handbook : Handbook, optional
        The scenario handbook (the app's edited one); else ``config.handbook``; else the default.
    user : str
        The validator, written into the manifest and the decision.
    record : bool
        Store the run (``runs`` kind ``mlrisk`` and the ``ml_*`` tables).
    source : {"cli", "app", "api"}
        The front end that made the request.
    executor : {"local", "dask"}
        Where the handbook's scenarios are evaluated: one after the other in this process
        (default), or as Dask tasks (:mod:`engine.mlrisk._dask`: the model and the test data
        scattered once, one task per scenario). The artifacts and their hashes are the same.
    scheduler : str, optional
        Dask only: a running scheduler's address, ``tcp://HOST:PORT`` (or ``tls://``).
    local_workers : int, optional
        Dask only: worker processes (1 to 64, one thread each) of a LocalCluster started for
        the run and shut down afterwards. Neither this nor ``scheduler``: a LocalCluster with one
        worker per CPU core.

    Notes
    -----
    In JSON, ``data_content`` and ``model_content`` are base64 text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, val_json_bytes="base64", ser_json_bytes="base64")
    subject: ClassVar[str] = "validation settings"

    config: ValidationConfig
    base_dir: Path | None = None
    data_content: bytes | None = Field(default=None, exclude=True, repr=False)
    data_name: str | None = Field(default=None, min_length=1)
    data_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    model_content: bytes | None = Field(default=None, exclude=True, repr=False)
    model_name: str | None = Field(default=None, min_length=1)
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    handbook: Handbook | None = None
    user: str = Field(default="unknown", min_length=1)
    record: bool = True
    source: Source = "api"


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class ValidationRecorded:
    """A finished validation and whether it was stored.

    Attributes
    ----------
    run_id, decision, summary : str
        The run's id, DEPLOY / RESTRICT / REDESIGN, and its one-line summary
        ("REDESIGN: 3 failing scenarios").
    recorded : bool
        Whether the run was stored.
    request : ValidateRequest
        The request as its run's configuration keeps it: without the uploaded bytes, with the
        SHA-256 of the data (and model) bytes used.
    run : ValidationRun
        Results, degradation rows and the evidence files' bytes (the six artifacts, and
        ``evidence_manifest.sig`` when signed).
    key_id : str or None
        The key that signed the manifest; None when no signing key exists (unsigned).
    timings : dict of str to float
        Seconds per stage: load, prepare, train, baseline, scenarios, artifacts, total
        (validation), store; with the dask executor also cluster (connecting to the scheduler,
        or starting the LocalCluster, and checking its workers) and cluster_close.
    """

    run_id: str
    decision: str
    summary: str
    recorded: bool
    request: ValidateRequest
    run: ValidationRun
    key_id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def artifacts(self) -> dict[str, bytes]:
        """The evidence files, name -> bytes: the six artifacts (and the manifest's signature)."""
        return self.run.artifacts

    @property
    def results(self) -> dict:
        """robustness_results.json, parsed."""
        return self.run.results

    @property
    def rows(self) -> list[dict]:
        """performance_degradation_report.json, parsed (one row per scenario x metric)."""
        return self.run.rows

    def to_frame(self) -> pd.DataFrame:
        """The degradation report, one row per scenario x metric."""
        from engine.mlrisk._views import report_table

        return report_table(self.rows)

    def zip_bytes(self) -> bytes:
        """The evidence files as one zip (fixed member times: same files, same bytes)."""
        return artifacts_zip(self.artifacts)


@dataclass(frozen=True)
class DataPreview:
    """What a table offers before a validation: its name, size and columns."""

    name: str
    n_rows: int
    columns: tuple[str, ...]
    bundled: bool

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def default_target(self) -> str:
        """The bundled data's target when present, else the last column."""
        return DEFAULT_TARGET if DEFAULT_TARGET in self.columns else self.columns[-1]

    @property
    def default_subgroups(self) -> tuple[str, ...]:
        """The bundled data's subgroup columns (SEX, EDUCATION, MARRIAGE) that are present."""
        return tuple(c for c in DEFAULT_SUBGROUPS if c in self.columns)


@dataclass(frozen=True)
class StoredValidation:
    """A stored validation, read back without recomputation.

    Attributes
    ----------
    run_id, generated_at, decision, summary, validator : str
    dataset_name, dataset_sha256, task, model_kind, target : str
    n_rows : int
    execution_time : float or None
        Seconds the validation took.
    request : ValidateRequest or None
        The request rebuilt from the stored configuration; None for a run stored before
        requests were recorded.
    results : dict
        robustness_results.json, parsed.
    rows : list of dict
        performance_degradation_report.json, parsed.
    artifacts : dict of str to bytes
        The evidence files: the six artifacts, ``evidence_manifest.sig`` when signed, and each
        sign-off's addendum ``signoff_NNN.json`` (with its ``.sig`` when signed).
    signoffs : DataFrame
        signed_at (naive UTC), name, comment, decision.
    """

    run_id: str
    generated_at: str
    decision: str
    summary: str
    validator: str
    dataset_name: str
    dataset_sha256: str
    task: str
    model_kind: str
    target: str
    n_rows: int
    execution_time: float | None
    request: ValidateRequest | None
    results: dict
    rows: list[dict]
    artifacts: dict[str, bytes]
    signoffs: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The degradation report, one row per scenario x metric."""
        from engine.mlrisk._views import report_table

        return report_table(self.rows)

    @property
    def key_id(self) -> str | None:
        """The key that signed the manifest; None for unsigned evidence."""
        return _manifest.signature_key_id(self.artifacts.get(_manifest.SIGNATURE_NAME))

    def zip_bytes(self) -> bytes:
        """The evidence files as one zip (what :func:`evidence_zip` returns)."""
        return artifacts_zip(self.artifacts)


@dataclass(frozen=True)
class SignOff:
    """A recorded sign-off: who, what they said, on which decision, when (naive UTC), and its
    addendum in the run's evidence (``signoff_NNN.json``), signed by ``key_id`` (None: unsigned)."""

    run_id: str
    name: str
    comment: str
    decision: str
    signed_at: datetime
    addendum: str
    key_id: str | None


# --------------------------------------------------------------------------- inputs

def _read_file(path: str, *, base: Path, what: str) -> tuple[Path, bytes]:
    p = Path(path)
    full = p if p.is_absolute() else base / p
    if not full.is_file():
        raise InputError(f"{what} file {str(full)!r} not found; paths in a configuration are relative "
                         "to the configuration file's folder.")
    try:
        return full, full.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {what} file {str(full)!r}: {exc.strerror}") from None


@dataclass(frozen=True)
class _Inputs:
    frame: pd.DataFrame
    config: ValidationConfig
    data_name: str
    data_bytes: bytes
    handbook: Handbook | None
    model_bytes: bytes | None
    model_name: str | None


def _check_hash(expected: str | None, content: bytes, *, what: str) -> None:
    if expected is not None and (actual := _manifest.sha256_hex(content)) != expected:
        raise InputError(f"the {what} does not match the request: its SHA-256 is {actual}, the request "
                         f"expects {expected}. Attach the same file the run was made with.")


def _load_inputs(request: ValidateRequest) -> _Inputs:
    """Read the data, model and handbook a request names (no store involved)."""
    cfg = request.config
    base = request.base_dir if request.base_dir is not None else Path(".")
    if request.data_content is not None and cfg.data is not None:
        raise InputError("give the data either as uploaded content or as config.data, not both")
    if request.model_content is not None and cfg.model_path is not None:
        raise InputError("give the model either as uploaded content or as config.model_path, not both")
    if request.handbook is not None and cfg.handbook is not None:
        raise InputError("give the handbook either in the request or as config.handbook, not both")
    if request.data_content is None and cfg.data is None and request.data_name is not None:
        raise InputError(f"the request names uploaded data {request.data_name!r} but carries no data_content; "
                         "attach the file's bytes (they are not kept with a stored run)")
    if request.model_content is None and cfg.model_path is None and request.model_name is not None:
        raise InputError(f"the request names an uploaded model {request.model_name!r} but carries no "
                         "model_content; attach the file's bytes (they are not kept with a stored run)")

    handbook = request.handbook
    if cfg.handbook is not None:
        hpath, hbytes = _read_file(cfg.handbook, base=base, what="handbook")
        handbook = parse_handbook(hbytes, subject=f"handbook {hpath.name}")
    model_bytes, model_name = request.model_content, request.model_name
    if cfg.model_path is not None:
        mpath, model_bytes = _read_file(cfg.model_path, base=base, what="model")
        model_name = mpath.name
    if model_bytes is not None:
        _check_hash(request.model_sha256, model_bytes, what="model")
        model_name = model_name or "model.skops"
        check_skops_archive(model_bytes, model_name)  # refuse a bomb before the data is read
    elif request.model_sha256 is not None:
        raise InputError("the request expects a loaded model (model_sha256) but names none; attach the "
                         "model's bytes as model_content")

    config = cfg
    if request.data_content is not None:
        name, content = request.data_name or "upload.csv", request.data_content
        _check_hash(request.data_sha256, content, what="data")
        frame = read_table(content, filename=name, row_limit=cfg.row_limit, seed=cfg.seed)
        config = cfg.model_copy(update={"data": name})  # the manifest's configuration names the upload
    elif cfg.data is not None:
        path, content = _read_file(cfg.data, base=base, what="data")
        name = path.name
        _check_hash(request.data_sha256, content, what="data")
        frame = read_table(content, filename=name, row_limit=cfg.row_limit, seed=cfg.seed)
    else:
        name, content = DEFAULT_DATASET_NAME, default_dataset_bytes()
        _check_hash(request.data_sha256, content, what="bundled data set")
        frame = load_default_dataset(row_limit=cfg.row_limit, seed=cfg.seed)
    return _Inputs(frame=frame, config=config, data_name=name, data_bytes=content, handbook=handbook,
                   model_bytes=model_bytes, model_name=model_name)


def preview_data(*, data_content: bytes | None = None, data_name: str | None = None,
                 row_limit: int | None = None, seed: int = 42) -> DataPreview:
    """Read a table (the bundled one when ``data_content`` is None) to offer its columns.

    Parameters
    ----------
    data_content, data_name : bytes, str, optional
        An uploaded CSV, CSV.gz or Parquet table and its file name.
    row_limit : int, optional
        Keep a seeded sample of this many rows (as the validation will).
    seed : int
        Seed of the sample.

    Raises
    ------
    InputError
        If the file is not a readable table.
    """
    if data_content is None:
        frame = load_default_dataset(row_limit=row_limit, seed=seed)
        name, bundled = DEFAULT_DATASET_NAME, True
    else:
        name, bundled = data_name or "upload.csv", False
        frame = read_table(data_content, filename=name, row_limit=row_limit, seed=seed)
    return DataPreview(name=name, n_rows=len(frame), columns=tuple(str(c) for c in frame.columns),
                       bundled=bundled)


# --------------------------------------------------------------------------- run

def _summary(decision: str, failing: list[str]) -> str:
    n = len(failing)
    return f"{decision}: {n} failing scenario{'' if n == 1 else 's'}"


def validate(request: ValidateRequest, *, store: Store | None = None, run_id: str | None = None,
             generated_at: str | None = None) -> ValidationRecorded:
    """Validate a model: baseline, every scenario x metric x subgroup, decision, six artifacts.

    Reads the data, model and handbook, computes with the store released, then (when
    ``request.record``) stores the run in one write session and one transaction: its ``runs`` row
    (kind ``mlrisk``, the request as its configuration, summary "DECISION: n failing
    scenarios"), ``ml_runs``, ``ml_artifacts`` and ``ml_degradation``.

    Parameters
    ----------
    request : ValidateRequest
    store : Store, optional
        Default ``Store()`` ($STRESSLAB_DB); opened only when the run is recorded.
    run_id : str, optional
        Default a new id ``mlrisk-YYYYmmdd-HHMMSS-<12 hex>``.
    generated_at : str, optional
        ISO-8601 time written into the manifest and the decision; default now (UTC, seconds).

    Returns
    -------
    ValidationRecorded

    Raises
    ------
    InputError, ValidationError
        A missing or unreadable file, bad data, columns, handbook or model, or bytes whose
        SHA-256 differs from the request's; with the dask executor, Dask not installed
        (``pip install 'stresslab[dask]'``), a scheduler that does not answer or has no worker, or
        workers on another StressLab version. Raised before the store is opened, so nothing is
        stored.
    StoreError
        If the store cannot be written (StoreBusyError when it stayed busy).

    Notes
    -----
    With a signing key (``stresslab keys init``), ``evidence_manifest.sig`` signs the exact bytes
    of evidence_manifest.json (:func:`engine.audit.manifest.signature_file`); without one the
    evidence is unsigned and ``key_id`` is None.
    """
    started = utc_now()
    t0 = time.perf_counter()
    key = load_signing_key()
    inputs = _load_inputs(request)
    return _validate_loaded(request, inputs=inputs, key=key, started=started,
                            load_time=time.perf_counter() - t0, store=store, run_id=run_id,
                            generated_at=generated_at)


def _validate_loaded(request: ValidateRequest, *, inputs: _Inputs, key: SigningKey | None,
                     started: datetime, load_time: float, store: Store | None,
                     run_id: str | None, generated_at: str | None) -> ValidationRecorded:
    """:func:`validate` once its inputs are read (the API reads them before queueing a task)."""
    from engine.mlrisk._runner import run_validation

    run_id = run_id or new_run_id("mlrisk")
    generated_at = generated_at or started.replace(microsecond=0, tzinfo=UTC).isoformat()
    executor_timings: dict[str, float] = {}

    def run_with(scenario_map=None):
        return run_validation(inputs.config, frame=inputs.frame, data_name=inputs.data_name,
                              data_bytes=inputs.data_bytes, handbook=inputs.handbook,
                              model_bytes=inputs.model_bytes, model_name=inputs.model_name, user=request.user,
                              run_id=run_id, generated_at=generated_at, scenario_map=scenario_map)

    if request.executor == "dask":
        from engine.mlrisk._dask import DaskScenarioMap, dask_client

        t = time.perf_counter()
        with dask_client(scheduler=request.scheduler, local_workers=request.local_workers) as client:
            executor_timings["cluster"] = time.perf_counter() - t
            run = run_with(DaskScenarioMap(client))
            t = time.perf_counter()
        executor_timings["cluster_close"] = time.perf_counter() - t
    else:
        run = run_with()
    if key is not None:
        name = _manifest.MANIFEST_NAME
        sig = _manifest.signature_file(key, name=name, content=run.artifacts[name])
        run = dataclasses.replace(run, artifacts={**run.artifacts, _manifest.SIGNATURE_NAME: sig})
    recorded_request = request.model_copy(update={
        "data_content": None, "data_sha256": _manifest.sha256_hex(inputs.data_bytes), "model_content": None,
        "model_sha256": None if inputs.model_bytes is None else _manifest.sha256_hex(inputs.model_bytes)})
    summary = _summary(run.decision, run.results["decision"]["failing_scenarios"])
    timings = {"load": load_time, **executor_timings, **run.timings}
    if request.record:
        finished = utc_now()
        t = time.perf_counter()
        with (store or Store()).write() as con:
            _store.save_run(con, run=run, request=recorded_request, summary=summary,
                            started_at=started, finished_at=finished)
        timings["store"] = time.perf_counter() - t
    return ValidationRecorded(run_id=run.run_id, decision=run.decision, summary=summary, recorded=request.record,
                              request=recorded_request, run=run, key_id=None if key is None else key.key_id,
                              timings=timings)


# --------------------------------------------------------------------------- stored runs

def list_runs(*, store: Store | None = None) -> pd.DataFrame:
    """Stored validations, newest first.

    Returns
    -------
    DataFrame
        run_id, generated_at, dataset_name, task, model_kind, target, n_rows, decision,
        validator, summary, execution_time (s), signoffs (count).
    """
    with (store or Store()).read() as con:
        return _store.list_runs(con)


def load_run(run_id: str, *, store: Store | None = None) -> StoredValidation:
    """A stored validation: results, degradation rows, artifacts, sign-offs and its request.

    Raises
    ------
    NotFoundError
        If no validation run has this id.
    """
    with (store or Store()).read() as con:
        row = _store.load_run_row(con, run_id)
        artifacts = _store.load_artifacts(con, run_id)
        signoffs = _store.list_signoffs(con, run_id)
        try:
            request: ValidateRequest | None = stored_request(con, run_id=run_id, model=ValidateRequest,
                                                             kind="mlrisk")
        except StoreError:  # stored before requests were recorded: its configuration is a ValidationConfig
            request = None
    return StoredValidation(
        run_id=row["run_id"], generated_at=row["generated_at"], decision=row["decision"],
        summary=row["summary"] or row["decision"], validator=row["validator"], dataset_name=row["dataset_name"],
        dataset_sha256=row["dataset_sha256"], task=row["task"], model_kind=row["model_kind"], target=row["target"],
        n_rows=int(row["n_rows"]), execution_time=row["execution_time"], request=request,
        results=json.loads(artifacts["robustness_results.json"]),
        rows=json.loads(artifacts["performance_degradation_report.json"]),
        artifacts=artifacts, signoffs=signoffs)


def evidence_zip(run_id: str, *, store: Store | None = None) -> bytes:
    """A stored run's evidence as one zip: the six artifacts, the manifest's signature (when
    signed) and every sign-off addendum with its signature.

    Raises
    ------
    NotFoundError
        If no validation run has this id.
    """
    with (store or Store()).read() as con:
        artifacts = _store.load_artifacts(con, run_id)
    return artifacts_zip(artifacts)


def sign_off(run_id: str, *, name: str, comment: str = "", store: Store | None = None,
             signed_at: datetime | None = None) -> SignOff:
    """Record a validator's sign-off on a stored run (one transaction).

    Stores the ``ml_signoffs`` row; appends the addendum ``signoff_NNN.json`` (run, manifest
    SHA-256, decision, validator, comment, time) to the run's evidence, signed in
    ``signoff_NNN.sig`` when a signing key exists; and appends a ``signoff`` record to the audit
    trail.

    Parameters
    ----------
    run_id : str
    name : str
        The validator; blank is refused.
    comment : str
    signed_at : datetime, optional
        Naive UTC; default now.

    Raises
    ------
    InputError
        If the name is blank or the signing key is unusable (nothing is stored; the store is
        not opened); or if this validator already signed off the run at ``signed_at``.
    NotFoundError
        If the run is not stored.
    """
    if not name.strip():
        raise InputError("a sign-off needs the validator's name")
    key = load_signing_key()
    when = signed_at or utc_now()
    with (store or Store()).write() as con:
        addendum = _store.add_signoff(con, run_id=run_id, name=name, comment=comment, signed_at=when, key=key)
    return SignOff(run_id=run_id, name=addendum.validator, comment=addendum.comment, decision=addendum.decision,
                   signed_at=when, addendum=addendum.file_name, key_id=None if key is None else key.key_id)


def list_signoffs(run_id: str, *, store: Store | None = None) -> pd.DataFrame:
    """A run's sign-offs in order: signed_at (naive UTC), name, comment, decision."""
    with (store or Store()).read() as con:
        return _store.list_signoffs(con, run_id)


# --------------------------------------------------------------------------- handbooks

def save_handbook(handbook: Handbook, *, name: str, store: Store | None = None,
                  updated_at: datetime | None = None) -> str:
    """Save (or replace) ``handbook`` under ``name``; returns the name as stored (trimmed).

    Raises
    ------
    InputError
        If the name is blank (the store is not opened).
    """
    if not name.strip():
        raise InputError("a saved handbook needs a name")
    with (store or Store()).write() as con:
        _store.save_handbook(con, name=name, handbook=handbook, updated_at=updated_at or utc_now())
    return name.strip()


def load_handbook(name: str, *, store: Store | None = None) -> Handbook:
    """A saved handbook.

    Raises
    ------
    NotFoundError
        If no handbook is saved under ``name``.
    """
    with (store or Store()).read() as con:
        return _store.load_handbook(con, name)


def list_handbooks(*, store: Store | None = None) -> list[str]:
    """Names of the saved handbooks, alphabetical."""
    with (store or Store()).read() as con:
        return _store.list_handbooks(con)


# --------------------------------------------------------------------------- evidence

def verify_evidence(
    path: str | Path | None = None,
    *,
    run_id: str | None = None,
    upload: bytes | None = None,
    upload_name: str = "evidence.zip",
    public_key: str | Path | None = None,
    store: Store | None = None,
    allow_unsigned: bool = False,
) -> _manifest.EvidenceCheck:
    """Check a validation run's evidence (``stresslab verify-manifest`` and the page's "Verify
    evidence" action).

    Give exactly one of ``path`` (the evidence folder, its evidence_manifest.json or the evidence
    zip), ``run_id`` (the evidence stored with a run) or ``upload`` (an uploaded zip or manifest).

    Checks (:func:`engine.audit.manifest.check_evidence`): the manifest's signature against the
    public key; every listed hash; that the four outputs are listed and no unlisted file is
    present; each sign-off addendum (signature, run, manifest hash, decision, numbering); and,
    when the run is in the store, the manifest hash, signing key and addenda the store recorded
    and the manifest hash the audit trail's ``ml_decision`` record names. A run that is not in
    the store is reported as such; no store file is created to look.

    Parameters
    ----------
    path : path, optional
    run_id : str, optional
    upload, upload_name : bytes, str, optional
        An uploaded evidence zip, or an evidence_manifest.json alone (its files are then missing).
    public_key : path, optional
        A ``.pub`` PEM file or a key directory; default the key directory's public key
        (``$STRESSLAB_KEYS``). With no public key, signatures cannot be checked: signed evidence
        then fails, unsigned evidence is reported as unsigned.
    store : Store, optional
        Default ``Store()`` ($STRESSLAB_DB).
    allow_unsigned : bool
        Accept unsigned evidence although a public key exists (evidence made before the keys).

    Returns
    -------
    EvidenceCheck
        ``ok``, ``signed``, ``key_id``, one line per check, the ``problems`` and a ``verdict``.

    Raises
    ------
    InputError
        If not exactly one source is given; the path or upload is not evidence; the public key
        given does not exist or is not an Ed25519 PEM key.
    NotFoundError
        If ``run_id`` is not a stored validation run.
    """
    if sum(x is not None for x in (path, run_id, upload)) != 1:
        raise InputError("give exactly one of: the evidence's path, a stored run id, or an uploaded file")
    key = resolve_verify_key(public_key)
    store = store or Store()
    recorded: _manifest.RecordedEvidence | None = None
    if run_id is not None:
        with store.read() as con:
            files = _store.load_artifacts(con, run_id)
            recorded = _store.recorded_evidence(con, run_id=run_id, where=str(store.path))
        source = f"run {run_id} in {store.path}"
    elif upload is not None:
        files, source = _manifest.evidence_from_upload(upload, name=upload_name), f"upload {upload_name}"
    else:
        files, source = _manifest.read_evidence(path)
    manifest_run = _manifest_run_id(files.get(_manifest.MANIFEST_NAME, b""))
    if recorded is None and manifest_run is not None:
        if store.path.exists():
            with store.read() as con:
                recorded = _store.recorded_evidence(con, run_id=manifest_run, where=str(store.path))
        else:
            recorded = _manifest.RecordedEvidence(where=f"no store at {store.path}", found=False)
    results = "robustness_results.json"
    return _manifest.check_evidence(
        files, source=source, key=key, required=list(REQUIRED_OUTPUTS),
        decision=_manifest.decision_of(files, results_name=results) if results in files else None,
        recorded=recorded, allow_unsigned=allow_unsigned)


def _manifest_run_id(content: bytes) -> str | None:
    """The run id a manifest names, or None when it names none (its check says why)."""
    try:
        value = parse_json(content, name=_manifest.MANIFEST_NAME).get("run_id")
    except (InputError, AttributeError):
        return None
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- the HTTP API

#: The folder whose files an HTTP client may name in a validation (``config.data``,
#: ``config.model_path``, ``config.handbook``, ``base_dir``): ``$STRESSLAB_API_DATA_ROOT``, else
#: :data:`DEFAULT_DATA_ROOT` under the server's working directory.
DATA_ROOT_ENV = "STRESSLAB_API_DATA_ROOT"
DEFAULT_DATA_ROOT = "data"
_SEND_INSTEAD = "send the file itself: data_content or model_content (base64) or handbook (JSON)"
#: The rule a refused path breaks (an issue's ``rule``).
PATH_RULE = (f"must lie under the API's data root (${DATA_ROOT_ENV}, default "
             f"'{DEFAULT_DATA_ROOT}/' under the server's working directory), named relative to "
             "it; '..', an absolute path or a symbolic link may not lead out of it; or "
             + _SEND_INSTEAD)
#: The artifact name of a run's whole evidence as one zip.
EVIDENCE_ZIP = "evidence.zip"
_MEDIA_TYPES = {".json": "application/json", ".sig": "application/json",
                ".md": "text/markdown; charset=utf-8", ".zip": "application/zip",
                ".html": "text/html; charset=utf-8"}
_PATH_FIELDS = (("config.data", "data"), ("config.model_path", "model_path"),
                ("config.handbook", "handbook"))


class ValidationTaskAccepted(BaseModel):
    """The answer to ``POST /api/v1/validation/run``: the queued task, the run id it will record
    and where to follow it (``websocket_url``) and read it once completed (``result_url``)."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    status: Literal["queued"] = "queued"
    message: str
    run_id: str
    websocket_url: str
    result_url: str


class ArtifactLink(BaseModel):
    """One downloadable evidence file of a stored validation: ``size`` in bytes, ``sha256`` hex
    (empty for the evidence zip, which is assembled on request)."""

    model_config = ConfigDict(frozen=True)

    name: str
    media_type: str
    size: int
    sha256: str
    url: str


class SignOffView(BaseModel):
    """One validator sign-off (``signed_at`` naive UTC)."""

    model_config = ConfigDict(frozen=True)

    signed_at: datetime
    name: str
    comment: str
    decision: str


class ValidationView(BaseModel):
    """A stored validation as the API shows it (``GET /api/v1/validation/{run_id}``).

    Attributes
    ----------
    decision : {"DEPLOY", "RESTRICT", "REDESIGN"}
    summary : str
        "REDESIGN: 3 failing scenarios".
    validator : str
        The name in the manifest and the decision.
    requested_by : str or None
        The API token's user that asked for the run (None from the command line or the app).
    execution_time : float or None
        Seconds.
    key_id : str or None
        The key that signed the manifest; None for unsigned evidence.
    baseline : dict of str to float or None
        The baseline metrics (AUC, accuracy, Brier, log_loss, ECE; or RMSE, MAE, R2, ECE).
    signoffs : list of SignOffView
        In order.
    artifacts : list of ArtifactLink
        Every stored evidence file, then ``evidence.zip`` (all of them in one zip).
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    decision: str
    summary: str
    generated_at: str
    validator: str
    requested_by: str | None
    dataset_name: str
    dataset_sha256: str
    task: str
    model_kind: str
    target: str
    n_rows: int
    execution_time: float | None
    key_id: str | None
    failing_scenarios: list[str]
    baseline: dict[str, float | None]
    signoffs: list[SignOffView]
    artifacts: list[ArtifactLink]


def api_data_root() -> Path:
    """The API's data root: ``$STRESSLAB_API_DATA_ROOT``, else ``data/`` under the working
    directory (the bundled data when the server runs from the checkout). Not resolved."""
    return Path(os.environ.get(DATA_ROOT_ENV, "").strip() or DEFAULT_DATA_ROOT)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _confine(value: str | Path, *, base: Path, root: Path | None, field: str,
             want: Literal["file", "dir"]) -> tuple[Path | None, Issue | None]:
    """``value`` (relative to ``base``) resolved, or the issue that refuses it."""
    refused = Issue(row=None, column=field, value=str(value), rule=PATH_RULE, where="field")
    if root is None:
        return None, Issue(row=None, column=field, value=str(value), where="field",
                           rule=f"the server has no data root to read files from (set "
                                f"${DATA_ROOT_ENV} on the server); {_SEND_INSTEAD}")
    try:
        full = (base / Path(value)).resolve()  # follows every symbolic link; '..' collapses
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a loop, a name too long
        return None, refused
    if not _inside(full, root):
        return None, refused
    keys = keys_dir().resolve()
    if _inside(full, keys):
        return None, Issue(row=None, column=field, value=str(value), where="field",
                           rule="may not name the signing key directory")
    found = full.is_file() if want == "file" else full.is_dir()
    if not found:
        return None, Issue(row=None, column=field, value=str(value), where="field",
                           rule=f"no such {'file' if want == 'file' else 'folder'} under the "
                                "API's data root")
    return full, None


def confine_paths(request: ValidateRequest, *, root: str | Path) -> ValidateRequest:
    """The request with every file path it names checked against a data root.

    An HTTP client may not make the server read a file of its choice (``/etc/passwd``, the key
    directory). ``base_dir`` (relative to ``root``) and ``config.data``, ``config.model_path``
    and ``config.handbook`` (relative to ``base_dir``, else ``root``) must resolve, symbolic links
    followed, to files (a folder for ``base_dir``) inside ``root`` and outside the signing key
    directory. An absolute path is accepted only when it resolves inside ``root``. A path outside
    gets the same answer whether or not it exists, so nothing about the rest of the file system is
    told.

    Parameters
    ----------
    request : ValidateRequest
    root : path
        The data root (see :func:`api_data_root`); resolved here.

    Returns
    -------
    ValidateRequest
        ``base_dir`` the resolved root and each path relative to it (resolved), so the run reads
        the files checked and its recorded configuration names them; unchanged when the request
        names no file.

    Raises
    ------
    ValidationError
        One issue per refused field (``config.data``, …): the field, the value sent and the rule.
    """
    cfg = request.config
    named = {field: getattr(cfg, attr) for field, attr in _PATH_FIELDS
             if getattr(cfg, attr) is not None}
    if request.base_dir is None and not named:
        return request
    try:
        top: Path | None = Path(root).resolve()
    except (OSError, ValueError, RuntimeError):
        top = None
    if top is not None and not top.is_dir():
        top = None
    issues: list[Issue] = []
    base = top
    if request.base_dir is not None:
        base, issue = _confine(request.base_dir, base=top or Path("."), root=top,
                               field="base_dir", want="dir")
        issues += [issue] if issue else []
    update: dict[str, str] = {}
    for field, attr in _PATH_FIELDS:
        if field not in named:
            continue
        full, issue = _confine(named[field], base=base or top or Path("."), root=top,
                               field=field, want="file")
        if issue:
            issues.append(issue)
        elif top is not None and full is not None:
            update[attr] = full.relative_to(top).as_posix()
    if issues:
        raise ValidationError(issues, subject=ValidateRequest.subject)
    return request.model_copy(update={"config": cfg.model_copy(update=update), "base_dir": top})


def _media_type(name: str) -> str:
    return _MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream")


def validation_task_data(done: ValidationRecorded, *,
                         prefix: str = "/api/v1/validation") -> dict[str, object]:
    """A completed validation task's ``data``: ``{run_id, decision, summary, failing_scenarios,
    key_id, recorded, result_url, artifacts: {name: url}}``."""
    urls = {n: f"{prefix}/{done.run_id}/artifacts/{n}" for n in [*sorted(done.artifacts), EVIDENCE_ZIP]}
    return {"run_id": done.run_id, "decision": done.decision, "summary": done.summary,
            "failing_scenarios": list(done.results["decision"]["failing_scenarios"]),
            "key_id": done.key_id, "recorded": done.recorded,
            "result_url": f"{prefix}/{done.run_id}", "artifacts": urls}


def start_validation_task(request: ValidateRequest, *, tasks: TaskRunner, user: str,
                          store: Store | None = None, data_root: str | Path | None = None,
                          prefix: str = "/api/v1/validation") -> ValidationTaskAccepted:
    """Check a validation asked for over HTTP, queue it as a task, and say where to follow it.

    Before anything is queued: the request's file paths are confined to the data root
    (:func:`confine_paths`); its ``user`` (the validator in the manifest), ``requested_by`` and
    ``source`` become the token's user and ``"api"`` whatever the body said; and its data, model
    and handbook are read and checked, so bad input is refused here (422), not in an ``error``
    message later. The task then trains, stresses, decides and records the run under the
    ``run_id`` returned now.

    The task's messages: ``running`` (``data = {progress, stage}``), then ``completed`` with
    :func:`validation_task_data`, or ``error`` (``data = {error, issues}``).

    Parameters
    ----------
    request : ValidateRequest
        As ``stresslab validate`` builds it from a configuration; ``record`` must stay true (the
        API serves the evidence from the store).
    tasks : TaskRunner
    user : str
        The bearer token's user.
    store : Store, optional
    data_root : path, optional
        Default :func:`api_data_root`.
    prefix : str
        Where the API serves validations (for the links).

    Raises
    ------
    ValidationError
        A path outside the data root (one issue per field); ``record`` false; ``local_workers``
        or ``scheduler`` given (over HTTP the Dask executor uses the server's
        ``$STRESSLAB_DASK_SCHEDULER``, and is refused when that is not set).
    InputError
        A missing or unreadable file, bad data, handbook or model, a SHA-256 mismatch, an
        unusable signing key; nothing is queued or stored.
    """
    from engine.tasks.workflow import websocket_url

    store = store if store is not None else Store()
    if not request.record:
        raise ValidationError([Issue(row=None, column="record", value=False, where="field",
                                     rule="a validation over the API is always recorded (its "
                                          "evidence is served from the store); leave it out")],
                              subject=ValidateRequest.subject)
    if request.local_workers is not None or request.scheduler is not None:
        # Over HTTP a body may not make the server start worker processes, nor connect it to
        # an address of the caller's choosing; the server's own cluster is its configuration.
        raise ValidationError([Issue(
            row=None, column="local_workers" if request.local_workers is not None else "scheduler",
            value=request.local_workers if request.local_workers is not None else request.scheduler,
            where="field", rule="not accepted over the API: with executor 'dask' the server uses "
                                "the cluster of $STRESSLAB_DASK_SCHEDULER")],
            subject=ValidateRequest.subject)
    if request.executor == "dask":
        configured = os.environ.get("STRESSLAB_DASK_SCHEDULER")
        if not configured:
            raise ValidationError([Issue(
                row=None, column="executor", value="dask", where="field",
                rule="this server has no Dask cluster: set STRESSLAB_DASK_SCHEDULER=tcp://HOST:PORT "
                     "where the server runs, or leave executor out")], subject=ValidateRequest.subject)
        request = request.model_copy(update={"scheduler": configured})
    request = confine_paths(request, root=data_root if data_root is not None else api_data_root())
    request = request.asked_by(user).model_copy(update={"user": user, "source": "api"})
    t0 = time.perf_counter()
    key = load_signing_key()
    inputs = _load_inputs(request)
    load_time = time.perf_counter() - t0
    run_id = new_run_id("mlrisk")
    n_scenarios = "the default" if inputs.handbook is None else str(len(inputs.handbook.scenarios))

    def work(reporter: TaskReporter) -> tuple[str | None, dict[str, object]]:
        reporter.running(progress=5.0, message=f"training and stressing on {inputs.data_name} "
                                               f"({len(inputs.frame)} rows, {n_scenarios} scenarios)",
                         data={"stage": "validating"})
        done = _validate_loaded(request, inputs=inputs, key=key, started=utc_now(),
                                load_time=load_time, store=store, run_id=run_id,
                                generated_at=None)
        return done.run_id, validation_task_data(done, prefix=prefix)

    state = tasks.submit(work, kind="mlrisk_validation", user_id=user, label=inputs.data_name,
                         message=f"validation of {inputs.config.target} on {inputs.data_name} queued")
    return ValidationTaskAccepted(task_id=state.task_id, message=state.message, run_id=run_id,
                                  websocket_url=websocket_url(user, state.task_id),
                                  result_url=f"{prefix}/{run_id}")


def validation_view(run_id: str, *, store: Store | None = None,
                    prefix: str = "/api/v1/validation") -> ValidationView:
    """A stored validation's decision, summary, sign-offs and artifact links (read, never
    recomputed).

    Raises
    ------
    NotFoundError
        If no validation run has this id.
    """
    stored = load_run(run_id, store=store)
    links = [ArtifactLink(name=name, media_type=_media_type(name), size=len(content),
                          sha256=_manifest.sha256_hex(content),
                          url=f"{prefix}/{run_id}/artifacts/{name}")
             for name, content in sorted(stored.artifacts.items())]
    links.append(ArtifactLink(name=EVIDENCE_ZIP, media_type=_media_type(EVIDENCE_ZIP),
                              size=len(stored.zip_bytes()), sha256="",
                              url=f"{prefix}/{run_id}/artifacts/{EVIDENCE_ZIP}"))
    signoffs = [SignOffView(signed_at=pd.Timestamp(r["signed_at"]).to_pydatetime(), name=r["name"],
                            comment=r["comment"], decision=r["decision"])
                for r in stored.signoffs.to_dict("records")]
    return ValidationView(
        run_id=stored.run_id, decision=stored.decision, summary=stored.summary,
        generated_at=stored.generated_at, validator=stored.validator,
        requested_by=None if stored.request is None else stored.request.requested_by,
        dataset_name=stored.dataset_name, dataset_sha256=stored.dataset_sha256, task=stored.task,
        model_kind=stored.model_kind, target=stored.target, n_rows=stored.n_rows,
        execution_time=stored.execution_time, key_id=stored.key_id,
        failing_scenarios=list(stored.results["decision"]["failing_scenarios"]),
        baseline=dict(stored.results["baseline"]["metrics"]), signoffs=signoffs, artifacts=links)


def validation_artifact(run_id: str, *, name: str, store: Store | None = None) -> tuple[bytes, str]:
    """One stored evidence file of a run, by its name, and its media type.

    ``name`` is looked up among the run's stored files (never used as a path); ``evidence.zip``
    is all of them in one zip (:func:`evidence_zip`).

    Returns
    -------
    (bytes, str)
        The file's bytes as stored and its media type (``application/json``,
        ``text/markdown; charset=utf-8``, ``application/zip``).

    Raises
    ------
    NotFoundError
        If the run is not stored, or has no file of this name.
    """
    with (store or Store()).read() as con:
        artifacts = _store.load_artifacts(con, run_id)
    if name == EVIDENCE_ZIP:
        return artifacts_zip(artifacts), _media_type(name)
    if name not in artifacts:
        raise NotFoundError(f"run {run_id!r} has no evidence file {name!r}; it has "
                            f"{', '.join([*sorted(artifacts), EVIDENCE_ZIP])}")
    return artifacts[name], _media_type(name)
