"""The market-risk user actions, called alike by ``stresslab`` and the VaR and limits page.

Each action takes a typed request (a frozen pydantic model that refuses unknown fields) and
returns a frozen result. Requests are built with ``XRequest.build(**fields)``, which turns
pydantic's errors into the engine's :class:`~engine.errors.ValidationError` (every offending
field at once). Uploaded or named files travel inside the request as :class:`DataFile` (name and
text), so a recorded run's configuration (the request's JSON, in ``runs``) rebuilds the request
that produced it (:func:`engine.audit.runs.stored_request`).

Actions and what they store:

* :func:`var_report`: VaR and ES by every method; a run of kind ``market`` when ``record``;
* :func:`backtest`: a rolling VaR backtest; a run when ``record``;
* :func:`stress_replay`: today's positions through past windows (stores nothing);
* :func:`evaluate_limits`: every limit and sensor; the evaluation, its breaches, their audit
  records and a ``runs`` row, in one transaction;
* :func:`set_mode`, :func:`mark_false_positive`: one row each and its audit record;
* read queries: :func:`market_state`, :func:`current_mode`, :func:`sensor_statuses`,
  :func:`breaches`, :func:`evaluations`, :func:`recent_evaluations`,
  :func:`market_metrics`, :func:`metric_samples`,
  :func:`metrics_exposition`; :func:`serve_metrics` serves the figures over HTTP.

Store discipline: inputs are read in a short read session, computation happens with the store
released, results are written in one short write session (:mod:`engine.store`).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from engine.audit.runs import RunRow, insert_run, new_run_id, utc_now
from engine.canonical import canonical_bytes
from engine.errors import InputError
from engine.limits import decode_text, limits, too_large
from engine.market import _store
from engine.market.backtest import BacktestResult
from engine.market.backtest import backtest as _backtest
from engine.market.data_io import (
    load_bundled_prices,
    load_default_positions,
    loss_series,
    position_values,
    read_positions_csv,
    read_prices_csv,
    simple_returns,
)
from engine.market.enforcement import Decision, Evaluation, evaluate
from engine.market.limits import LimitsConfig, Mode, load_default_limits, load_limits
from engine.market.metrics import MarketFigures, MetricSample, figures
from engine.market.sensors import RiskSnapshot, SensorStatus, compute_snapshot
from engine.market.sensors import sensor_statuses as _readiness
from engine.market.stress import PREDEFINED_WINDOWS, StressResult, StressWindow, replay_all
from engine.market.var import METHODS, Method, VaRReport, compare_methods
from engine.requests import Request
from engine.store import Store, transaction

__all__ = [
    "BacktestRequest",
    "BacktestRunResult",
    "DataFile",
    "EvaluationRecorded",
    "FalsePositiveRecorded",
    "FalsePositiveRequest",
    "InputsRequest",
    "LimitsRequest",
    "MarketInputs",
    "MarketState",
    "ModeChanged",
    "ModeRequest",
    "StressReplay",
    "StoredEvaluation",
    "StressRequest",
    "VaRRequest",
    "VaRRun",
    "backtest",
    "breaches",
    "current_mode",
    "evaluate_limits",
    "evaluations",
    "load_inputs",
    "mark_false_positive",
    "market_metrics",
    "market_state",
    "metric_samples",
    "metrics_exposition",
    "recent_evaluations",
    "serve_metrics",
    "set_mode",
    "sensor_statuses",
    "stress_replay",
    "var_report",
]

Confidence = Annotated[float, Field(gt=0, lt=1)]
Notional = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
#: Ticker of the bundled S&P 500 index: the series a backtest of the bundled prices uses by default.
BUNDLED_INDEX = "SP500"


# --------------------------------------------------------------------------- requests

class DataFile(Request):
    """An uploaded or named file: its name (for messages) and its text."""

    subject: ClassVar[str] = "file"

    name: str = Field(min_length=1)
    content: str

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str) -> DataFile:
        """A file's bytes as a :class:`DataFile`, decoded as :func:`engine.limits.decode_text`
        finds (UTF-8 with or without a byte-order mark, UTF-16 with one, cp1252 or latin-1).

        Raises
        ------
        InputError
            If the file is larger than ``STRESSLAB_MAX_INPUT_MB``, or not text in any of those
            encodings (the message names the byte offset).
        """
        if len(data) > limits().max_input_bytes:
            raise too_large(name, what="size", field="max_input_bytes", value=len(data))
        text, _ = decode_text(bytes(data), name=name)
        return cls.build(name=name, content=text)

    @classmethod
    def from_path(cls, path: str, *, what: str = "file") -> DataFile:
        """Read the file at ``path``.

        Raises
        ------
        InputError
            If the file does not exist, cannot be read, is too large or is not text.
        """
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise InputError(f"{what}: file not found: {path}") from None
        except OSError as exc:
            raise InputError(f"{what}: cannot read {path}: {exc.strerror}") from None
        return cls.from_bytes(data, name=str(path))


def _one_source(**given: object) -> None:
    named = [k for k, v in given.items() if v not in (None, False)]
    if len(named) > 1:
        raise ValueError(f"give at most one of {', '.join(given)}; got {', '.join(named)}")


class VaRRequest(Request):
    """VaR and ES of a portfolio over a window of history, by every method asked for.

    Attributes
    ----------
    prices : DataFile, optional
        Price CSV (a date column, one column per instrument); default the bundled S&P 500 data.
    positions, weights, column
        At most one: a positions CSV (account, instrument, quantity or weight), a weights CSV
        (instrument, weight; valued at ``notional``) or one price column worth ``notional``.
        Default: the shipped positions.
    start, end : date, optional
        First and last price date used.
    confidences : tuple of float
        VaR confidences, each in (0, 1).
    es_confidence : float
        ES confidence, in (0, 1).
    horizon : int
        Days; figures scale by ``sqrt(horizon)``.
    window : int
        Use the last ``window`` returns (0: all).
    methods : tuple of {"historical", "parametric", "cornish_fisher", "monte_carlo"}
    sims, seed, mc_kind
        Monte Carlo draws, seed and kind (``normal`` or ``bootstrap``).
    notional : float
        Portfolio value (currency) for weights or a single column.
    record : bool
        Store the report as a run of kind ``market``.
    """

    subject: ClassVar[str] = "VaR request"

    prices: DataFile | None = None
    positions: DataFile | None = None
    weights: DataFile | None = None
    column: str | None = None
    start: date | None = None
    end: date | None = None
    confidences: tuple[Confidence, ...] = Field(default=(0.95, 0.99, 0.999), min_length=1)
    es_confidence: Confidence = 0.975
    horizon: int = Field(default=1, ge=1)
    window: int = Field(default=0, ge=0)
    methods: tuple[Method, ...] = Field(default=METHODS, min_length=1)
    sims: int = Field(default=10_000, ge=1)
    seed: int = 0
    mc_kind: Literal["normal", "bootstrap"] = "normal"
    notional: Notional = 1_000_000.0
    record: bool = False

    @model_validator(mode="after")
    def _sources(self) -> VaRRequest:
        _one_source(positions=self.positions, weights=self.weights, column=self.column)
        return self


class BacktestRequest(Request):
    """A rolling one-day VaR backtest of one series.

    Attributes
    ----------
    prices : DataFile, optional
        Price CSV; default the bundled S&P 500 data.
    column, weights, positions, portfolio
        At most one series: a price column (losses as a fraction of value); a weights CSV
        (fixed weights, fraction of value); the positions portfolio (``positions`` or, with
        ``portfolio`` and no file, the shipped positions; losses in currency). Default: the
        ``SP500`` column of the bundled data, or the only column of a one-column file.
    start, end : date, optional
        Backtest days (inclusive); the windows may reach before ``start``.
    confidence : float
        In (0, 1).
    window : int
        Past losses per forecast, at least 2.
    method, sims, seed
        As :func:`engine.market.backtest.rolling_var`.
    notional : float
        Portfolio value for weight positions (currency).
    record : bool
        Store the backtest as a run of kind ``market``.
    """

    subject: ClassVar[str] = "backtest request"

    prices: DataFile | None = None
    column: str | None = None
    weights: DataFile | None = None
    positions: DataFile | None = None
    portfolio: bool = False
    start: date | None = None
    end: date | None = None
    confidence: Confidence = 0.99
    window: int = Field(default=250, ge=2)
    method: Method = "historical"
    sims: int = Field(default=10_000, ge=1)
    seed: int = 0
    notional: Notional = 1_000_000.0
    record: bool = False

    @model_validator(mode="after")
    def _sources(self) -> BacktestRequest:
        _one_source(column=self.column, weights=self.weights,
                    positions=self.positions is not None or self.portfolio)
        return self


class StressRequest(Request):
    """Today's positions held through past windows (buy and hold).

    Attributes
    ----------
    prices, positions : DataFile, optional
        Default the bundled prices and the shipped positions.
    notional : float, optional
        Portfolio value for weight positions.
    windows : tuple of StressWindow
        The user's windows (each must overlap the prices), replayed after the predefined ones
        (2008 crisis, 2020 crash; skipped when outside the prices).
    """

    subject: ClassVar[str] = "stress replay request"

    prices: DataFile | None = None
    positions: DataFile | None = None
    notional: Notional | None = None
    windows: tuple[StressWindow, ...] = ()


class InputsRequest(Request):
    """The page's inputs: prices, positions and limits (each default: the shipped one)."""

    subject: ClassVar[str] = "inputs"

    prices: DataFile | None = None
    positions: DataFile | None = None
    limits: DataFile | None = None


class LimitsRequest(Request):
    """Evaluate every limit and sensor now and record it in the audit trail.

    Attributes
    ----------
    limits : DataFile, optional
        Limits YAML; default the shipped limits.
    prices, positions : DataFile, optional
        Default the bundled prices and the shipped positions.
    previous_positions : DataFile, optional
        Positions before the latest trades, for turnover.
    as_of : date, optional
        Last price date used (default the last in the file).
    mode : {"monitoring", "gradual", "full"}, optional
        Override the stored mode for this evaluation.
    notional : float, optional
        Portfolio value for weight positions.
    """

    subject: ClassVar[str] = "limits evaluation request"

    limits: DataFile | None = None
    prices: DataFile | None = None
    positions: DataFile | None = None
    previous_positions: DataFile | None = None
    as_of: date | None = None
    mode: Mode | None = None
    notional: Notional | None = None


class ModeRequest(Request):
    """Switch the enforcement mode; ``default_mode`` is the mode in force when none is stored."""

    subject: ClassVar[str] = "mode change"

    mode: Mode
    reason: Reason
    default_mode: Mode = "monitoring"


class FalsePositiveRequest(Request):
    """Mark a stored breach as a false positive; ``confidence`` in [0, 1]."""

    subject: ClassVar[str] = "false positive"

    breach_id: str = Field(min_length=1)
    reason: Reason
    confidence: float = Field(ge=0, le=1)


# --------------------------------------------------------------------------- results

class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class VaRRun(_Result):
    """A VaR report and, when recorded, its run id."""

    run_id: str | None
    summary: str
    report: VaRReport

    def to_frame(self) -> pd.DataFrame:
        """Methods as rows, ``VaR 95%`` … ``ES 97.5%`` as columns (currency)."""
        return self.report.to_frame()


@dataclass(frozen=True)
class BacktestRunResult:
    """A backtest: its summary statistics, its daily series and, when recorded, its run id.

    ``series`` has columns ``loss``, ``VaR`` and ``exception``, indexed by date, in ``unit``
    (``currency`` for a positions portfolio, ``fraction of value`` otherwise).
    """

    run_id: str | None
    summary: str
    result: BacktestResult
    series: pd.DataFrame
    unit: str

    def to_frame(self) -> pd.DataFrame:
        """The daily series (loss, VaR, exception)."""
        return self.series


class StressReplay(_Result):
    """One result per replayed window (loss positive, currency)."""

    results: tuple[StressResult, ...]

    def to_frame(self) -> pd.DataFrame:
        cols = list(StressResult.model_fields)
        return pd.DataFrame([r.model_dump() for r in self.results], columns=cols)


class MarketInputs(_Result):
    """What the page's inputs hold, once validated."""

    instruments: tuple[str, ...]
    first_date: date
    last_date: date
    days: int
    positions: int
    limits: LimitsConfig


class EvaluationRecorded(_Result):
    """A stored limit evaluation; ``evaluation_id`` is also its run id."""

    evaluation_id: str
    evaluated_at: datetime
    summary: str
    audit_seq: int
    evaluation: Evaluation
    snapshot: RiskSnapshot

    @property
    def run_id(self) -> str:
        return self.evaluation_id

    def to_frame(self) -> pd.DataFrame:
        """One row per rule's decision."""
        return self.evaluation.to_frame()


class ModeChanged(_Result):
    mode: str
    previous_mode: str
    audit_seq: int
    changed_at: datetime


class FalsePositiveRecorded(_Result):
    fp_id: str
    breach_id: str
    sensor: str
    audit_seq: int
    recorded_at: datetime


@dataclass(frozen=True)
class MarketState:
    """What the store holds for the page: mode, sensor readiness, evaluations and breaches."""

    mode: str
    statuses: tuple[SensorStatus, ...]
    evaluations: pd.DataFrame
    breaches: pd.DataFrame

    def sensors_frame(self) -> pd.DataFrame:
        """One row per sensor: status, false-positive rate and threshold, breaches, metric."""
        return pd.DataFrame([s.model_dump() for s in self.statuses])[
            ["sensor", "status", "false_positive_rate_per_week", "threshold_per_week",
             "false_positives", "breaches", "weeks_observed", "metric"]]


# --------------------------------------------------------------------------- inputs

def _prices(f: DataFile | None) -> pd.DataFrame:
    if f is None:
        return load_bundled_prices()
    return read_prices_csv(f.content.encode("utf-8"), subject=f"price file {f.name}")


def _positions(f: DataFile | None, *, instruments: list[str],
               what: str = "positions file") -> pd.DataFrame:
    if f is not None:
        return read_positions_csv(f.content.encode("utf-8"), instruments=instruments,
                                  subject=f"{what} {f.name}")
    pos = load_default_positions()
    if set(pos["instrument"]) - set(instruments):
        return read_positions_csv(pos.to_csv(index=False).encode(), instruments=instruments,
                                  subject="default positions (upload positions for these prices)")
    return pos


def _limits(f: DataFile | None) -> LimitsConfig:
    if f is None:
        return load_default_limits()
    return load_limits(f.content.encode("utf-8"), subject=f"limits file {f.name}")


def _window(prices: pd.DataFrame, *, start: date | None, end: date | None) -> pd.DataFrame:
    out = prices.loc[pd.Timestamp(start) if start else None: pd.Timestamp(end) if end else None]
    if len(out) < 3:
        raise InputError(f"fewer than three prices between {start or 'the first date'} and "
                         f"{end or 'the last date'}")
    return out


def _inputs_hash(request: BaseModel) -> str:
    fields = request.model_dump(mode="json", exclude={"record", "requested_by"})
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def _record_run(store: Store, *, request: BaseModel, summary: str, subject: str,
                started: datetime, elapsed: float, response: Any) -> str:
    run_id = new_run_id("market")
    row = RunRow(run_id=run_id, kind="market", request=request, status="success",
                 summary=summary, started_at=started,
                 finished_at=started + timedelta(seconds=elapsed),
                 inputs_hash=_inputs_hash(request), subject_name=subject,
                 execution_time=elapsed, response=response)
    with store.write() as con, transaction(con):
        insert_run(con, row)
    return run_id


def load_inputs(request: InputsRequest) -> MarketInputs:
    """Validate the page's prices, positions and limits and describe them.

    Raises
    ------
    ValidationError
        Every bad row and field of a file (prices, positions or limits).
    InputError
        A file that cannot be read.
    """
    prices = _prices(request.prices)
    instruments = [str(c) for c in prices.columns]
    positions = _positions(request.positions, instruments=instruments)
    config = _limits(request.limits)
    return MarketInputs(instruments=tuple(instruments), first_date=prices.index[0].date(),
                        last_date=prices.index[-1].date(), days=len(prices),
                        positions=len(positions), limits=config)


# --------------------------------------------------------------------------- VaR, backtest, stress

def _var_summary(report: VaRReport) -> str:
    methods = list(dict.fromkeys(f.method for f in report.figures))
    method = "historical" if "historical" in methods else methods[0]
    confs = sorted({f.confidence for f in report.figures if f.measure == "VaR"})
    conf = 0.99 if 0.99 in confs else confs[-1]
    value = report.value(method, measure="VaR", confidence=conf)
    return f"VaR {conf * 100:g} % ({method}) {value:,.0f} on {report.as_of}"


def var_report(request: VaRRequest, *, store: Store | None = None) -> VaRRun:
    """VaR at each confidence and ES by every method asked for; recorded when ``request.record``.

    The positions are valued at the last price used; returns are simple returns of the window
    (``request.window`` last returns, or all between ``start`` and ``end``). See
    :func:`engine.market.var.compare_methods` for the methods.

    Returns
    -------
    VaRRun
        ``run_id`` is None unless recorded (a run of kind ``market``).

    Raises
    ------
    InputError
        Unreadable files, too few prices, a window longer than the history, a column or
        instrument not in the prices.
    ValidationError
        Every bad row and field of an uploaded file.
    StoreError
        Recording failed (nothing stored).
    """
    started, t0 = utc_now(), time.perf_counter()
    prices = _window(_prices(request.prices), start=request.start, end=request.end)
    instruments = [str(c) for c in prices.columns]
    if request.column is not None:
        if request.column not in instruments:
            raise InputError(f"column {request.column!r} is not in the prices; choose one of "
                             f"{', '.join(instruments)}")
        values = pd.Series([request.notional], index=[request.column])
    else:
        if request.weights is not None:
            pos = _positions(request.weights, instruments=instruments, what="weights file")
        else:
            pos = _positions(request.positions, instruments=instruments)
        values = position_values(pos, prices=prices, notional=request.notional)
    rets = simple_returns(prices[list(values.index)])
    if request.window:
        if request.window > len(rets):
            raise InputError(f"window of {request.window} days is longer than the history "
                             f"({len(rets)} returns)")
        rets = rets.iloc[-request.window:]
    report = compare_methods(rets, values=values, confidences=request.confidences,
                             es_confidence=request.es_confidence, horizon_days=request.horizon,
                             methods=request.methods, n_sims=request.sims, seed=request.seed,
                             mc_kind=request.mc_kind)
    summary = _var_summary(report)
    run_id = None
    if request.record:
        run_id = _record_run(store or Store(), request=request, summary=summary,
                             subject="VaR report", started=started,
                             elapsed=time.perf_counter() - t0, response=report.model_dump())
    return VaRRun(run_id=run_id, summary=summary, report=report)


def backtest(request: BacktestRequest, *, store: Store | None = None) -> BacktestRunResult:
    """Backtest a rolling one-day VaR: exceptions, Kupiec POF, Christoffersen, traffic light.

    See :func:`engine.market.backtest.backtest`; recorded as a run of kind ``market`` when
    ``request.record``.

    Raises
    ------
    InputError
        Unreadable files, an unknown column, a window longer than the history, no backtest day
        between ``start`` and ``end``.
    ValidationError
        Every bad row and field of an uploaded file.
    """
    started, t0 = utc_now(), time.perf_counter()
    prices = _prices(request.prices)
    instruments = [str(c) for c in prices.columns]
    unit = "fraction of value"
    if request.weights is not None:
        pos = _positions(request.weights, instruments=instruments, what="weights file")
        losses = loss_series(prices, weights=position_values(pos, prices=prices, notional=1.0))
    elif request.positions is not None or request.portfolio:
        pos = _positions(request.positions, instruments=instruments)
        losses = loss_series(prices, weights=position_values(pos, prices=prices,
                                                              notional=request.notional))
        unit = "currency"
    else:
        column = request.column
        if column is None and request.prices is None:
            column = BUNDLED_INDEX
        losses = loss_series(prices, column=column)
    run = _backtest(losses, confidence=request.confidence, window=request.window,
                    method=request.method, start=request.start, end=request.end,
                    n_sims=request.sims, seed=request.seed)
    r = run.result
    summary = (f"backtest {r.method} VaR {r.confidence * 100:g} % on {losses.name}: "
               f"{r.exceptions} exceptions in {r.observations} days ({r.traffic_light})")
    run_id = None
    if request.record:
        run_id = _record_run(store or Store(), request=request, summary=summary,
                             subject="VaR backtest", started=started,
                             elapsed=time.perf_counter() - t0, response=r.model_dump())
    return BacktestRunResult(run_id=run_id, summary=summary, result=r, series=run.series,
                             unit=unit)


def stress_replay(request: StressRequest) -> StressReplay:
    """Replay the predefined windows that the prices cover, then the user's windows.

    Raises
    ------
    InputError
        A user's window that the prices do not cover; unreadable files.
    ValidationError
        Every bad row and field of an uploaded file.
    """
    prices = _prices(request.prices)
    pos = _positions(request.positions, instruments=[str(c) for c in prices.columns])
    values = position_values(pos, prices=prices, notional=request.notional)
    rows = replay_all(prices, values=values, windows=PREDEFINED_WINDOWS)
    rows += replay_all(prices, values=values, windows=request.windows, skip_uncovered=False)
    return StressReplay(results=tuple(rows))


# --------------------------------------------------------------------------- limits

def _statuses(history: _store.SensorHistory, config: LimitsConfig) -> list[SensorStatus]:
    return _readiness(as_of=history.as_of, first_seen=history.first_seen,
                      breaches=history.breaches,
                      false_positive_times=history.false_positive_times, config=config)


def evaluate_limits(request: LimitsRequest, *, store: Store | None = None,
                    now: datetime | None = None) -> EvaluationRecorded:
    """Evaluate every limit and sensor and record it: the one place this sequence lives.

    1. read the inputs (files, no store);
    2. one read session: the stored mode (unless ``request.mode``) and the sensors' history;
    3. compute the risk snapshot, the sensors' readiness and the evaluation (store released);
    4. one write session, one transaction: the evaluation, its breaches, their audit records
       and a ``runs`` row (kind ``market``, run id = evaluation id).

    Parameters
    ----------
    now : datetime, optional
        The evaluation's timestamp (naive UTC); default the wall clock.

    Raises
    ------
    InputError, ValidationError
        Bad files or too little history for the configured windows; nothing is stored.
    StoreError
        Recording failed; nothing is stored.
    """
    store = store or Store()
    t0 = time.perf_counter()
    config = _limits(request.limits)
    prices = _prices(request.prices)
    instruments = [str(c) for c in prices.columns]
    positions = _positions(request.positions, instruments=instruments)
    previous = (None if request.previous_positions is None else
                _positions(request.previous_positions, instruments=instruments,
                           what="previous positions file"))
    now = now or utc_now()
    with store.read() as con:
        mode = request.mode or _store.current_mode(con, default=config.mode)
        history = _store.sensor_history(con, as_of=now)
    as_of = None if request.as_of is None else pd.Timestamp(request.as_of)
    snapshot = compute_snapshot(prices, positions=positions, config=config, as_of=as_of,
                                previous_positions=previous, notional=request.notional)
    statuses = {s.sensor: s.status for s in _statuses(history, config)}
    evaluation = evaluate(snapshot, config=config, mode=mode, statuses=statuses)
    evaluation_id = uuid.uuid4().hex
    summary = f"limit evaluation ({evaluation.mode} mode): {evaluation.action}"
    elapsed = time.perf_counter() - t0
    row = RunRow(run_id=evaluation_id, kind="market", request=request, status="success",
                 summary=summary, started_at=now, finished_at=now + timedelta(seconds=elapsed),
                 inputs_hash=_inputs_hash(request), subject_name="limit evaluation",
                 execution_time=elapsed,
                 response={"as_of": evaluation.as_of, "mode": evaluation.mode,
                           "action": evaluation.action, "sensor": evaluation.sensor,
                           "reason": evaluation.reason})
    with store.write() as con, transaction(con):
        seq = _store.insert_evaluation(con, evaluation_id=evaluation_id, evaluation=evaluation,
                                       snapshot=snapshot, timestamp=now)
        insert_run(con, row)
    return EvaluationRecorded(evaluation_id=evaluation_id, evaluated_at=now, summary=summary,
                              audit_seq=seq, evaluation=evaluation, snapshot=snapshot)


def set_mode(request: ModeRequest, *, store: Store | None = None,
             now: datetime | None = None) -> ModeChanged:
    """Switch the enforcement mode and record the change in the audit trail.

    Raises
    ------
    InputError
        Unknown mode or empty reason (nothing stored).
    """
    now = now or utc_now()
    with (store or Store()).write() as con, transaction(con):
        old, seq = _store.insert_mode_change(con, mode=request.mode, reason=request.reason,
                                             timestamp=now, default=request.default_mode,
                                             by=request.requested_by)
    return ModeChanged(mode=request.mode, previous_mode=old, audit_seq=seq, changed_at=now)


def mark_false_positive(request: FalsePositiveRequest, *, store: Store | None = None,
                        now: datetime | None = None) -> FalsePositiveRecorded:
    """Record that a stored breach was a false positive, in the audit trail.

    Raises
    ------
    NotFoundError
        No such breach.
    InputError
        The breach is already marked (nothing stored).
    """
    now = now or utc_now()
    fp_id = uuid.uuid4().hex
    with (store or Store()).write() as con, transaction(con):
        sensor, seq = _store.insert_false_positive(
            con, fp_id=fp_id, breach_id=request.breach_id, reason=request.reason,
            confidence=request.confidence, timestamp=now, by=request.requested_by)
    return FalsePositiveRecorded(fp_id=fp_id, breach_id=request.breach_id, sensor=sensor,
                                 audit_seq=seq, recorded_at=now)


# --------------------------------------------------------------------------- read queries

def current_mode(*, default: str = "monitoring", store: Store | None = None) -> str:
    """The enforcement mode last set in the store, else ``default``."""
    with (store or Store()).read() as con:
        return _store.current_mode(con, default=default)


def sensor_statuses(*, config: LimitsConfig | None = None, store: Store | None = None,
                    now: datetime | None = None) -> tuple[SensorStatus, ...]:
    """Every sensor's false-positive rate and readiness on ``now`` (default the wall clock)."""
    config = config or load_default_limits()
    now = now or utc_now()
    with (store or Store()).read() as con:
        history = _store.sensor_history(con, as_of=now)
    return tuple(_statuses(history, config))


def breaches(*, limit: int = 500, store: Store | None = None) -> pd.DataFrame:
    """Stored breaches, newest first, with their false-positive mark."""
    with (store or Store()).read() as con:
        return _store.breaches_frame(con, limit=limit)


def evaluations(*, limit: int = 200, store: Store | None = None) -> pd.DataFrame:
    """Stored evaluations, newest first (id, time, mode, action, latency, audit seq)."""
    with (store or Store()).read() as con:
        return _store.evaluations_frame(con, limit=limit)


@dataclass(frozen=True)
class StoredEvaluation:
    """A stored limit evaluation read back, nothing recomputed.

    Attributes
    ----------
    evaluation_id : str
        Also its run id.
    evaluated_at : datetime
        Naive UTC.
    mode, action : str
        The enforcement mode it ran under and its overall action.
    snapshot : RiskSnapshot
        The risk figures it judged (VaR and ES in currency).
    decisions : tuple of Decision
        Every rule's decision, in sensor order (metric, threshold, utilisation, breached).
    breaches : DataFrame
        Its breaches: breach_id, sensor, rule, metric, threshold, action, false_positive.
    """

    evaluation_id: str
    evaluated_at: datetime
    mode: str
    action: str
    snapshot: RiskSnapshot
    decisions: tuple[Decision, ...]
    breaches: pd.DataFrame


def recent_evaluations(*, limit: int = 2, store: Store | None = None) -> tuple[StoredEvaluation, ...]:
    """The latest ``limit`` stored evaluations, newest first, each with its snapshot, decisions
    and breaches (with their false-positive mark), from one read session."""
    with (store or Store()).read() as con:
        rows = _store.recent_evaluations(con, limit=limit)
    return tuple(StoredEvaluation(
        evaluation_id=r["evaluation_id"], evaluated_at=r["evaluated_at"], mode=r["mode"],
        action=r["action"], snapshot=RiskSnapshot.model_validate(r["snapshot"]),
        decisions=tuple(Decision.model_validate(d) for d in r["decisions"]),
        breaches=r["breaches"]) for r in rows)


def market_state(*, config: LimitsConfig | None = None, store: Store | None = None,
                 now: datetime | None = None) -> MarketState:
    """The stored mode (default ``config.mode``), sensor readiness, evaluations and breaches,
    read in one session."""
    config = config or load_default_limits()
    now = now or utc_now()
    with (store or Store()).read() as con:
        mode = _store.current_mode(con, default=config.mode)
        history = _store.sensor_history(con, as_of=now)
        evals = _store.evaluations_frame(con)
        brs = _store.breaches_frame(con)
    return MarketState(mode=mode, statuses=tuple(_statuses(history, config)), evaluations=evals,
                       breaches=brs)


def market_metrics(*, config: LimitsConfig | None = None, store: Store | None = None,
                   now: datetime | None = None) -> MarketFigures:
    """Every Prometheus figure on ``now`` (default the wall clock), from one read session.

    See :mod:`engine.market.metrics` for the figures; ``config`` gives the sensors' readiness
    policy (default the shipped limits).
    """
    config = config or load_default_limits()
    now = now or utc_now()
    with (store or Store()).read() as con:
        stored = _store.stored_figures(con, as_of=now)
    return figures(stored, statuses=_statuses(stored.sensors, config))


def metric_samples(*, config: LimitsConfig | None = None, store: Store | None = None,
                   now: datetime | None = None) -> tuple[MetricSample, ...]:
    """The exposed gauges and counters (the latency histogram aside)."""
    return market_metrics(config=config, store=store, now=now).samples


def metrics_exposition(*, config: LimitsConfig | None = None, store: Store | None = None,
                       now: datetime | None = None) -> str:
    """The Prometheus text exposition, as ``stresslab metrics show`` prints it."""
    return market_metrics(config=config, store=store, now=now).exposition()


def serve_metrics(*, port: int, host: str = "127.0.0.1", config: LimitsConfig | None = None,
                  store: Store | None = None):
    """Serve ``/metrics`` on ``host:port``; each scrape reads the store in one short session.

    The store is created (and its schema brought up to date) before the server starts; the
    server holds nothing between scrapes. Returns prometheus-client's server.
    """
    from engine.market.metrics import serve

    store = store or Store()
    config = config or load_default_limits()
    with store.read():
        pass
    return serve(lambda: market_metrics(config=config, store=store), port=port, addr=host)
