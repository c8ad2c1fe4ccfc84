"""The live desk's user actions, called alike by ``stresslab live``, the Risk desk page and the
HTTP API.

Each action takes a typed request (:class:`engine.requests.Request`: frozen, unknown fields
refused, ``build()`` raising the engine's :class:`~engine.errors.ValidationError`) or plain
keywords for reads, and returns a frozen result.

Actions and what they store:

* :func:`replay`: replays a blotter and a price feed (or the bundled example) through the book,
  batch by batch; each batch stores its processed trades (applied and rejected), positions,
  marks, end-of-day rows, P&L history, risk snapshots, alerts (audited), circuit-breaker state
  changes (audited) and the session's cursor in one transaction; a ``runs`` row (kind ``live``)
  at the end. Resumable, pausable, paced by ``speed``, with a progress callback;
* :func:`kill_switch`, :func:`resume`: an account's trading state, with who and why (audited);
* :func:`acknowledge`: an alert's acknowledgement, who, when and a note (audited);
* :func:`compliance_check`: the compliance rules against an account (audited, and a run);
* reads: :func:`status` (the ``risk``, ``pl`` and ``portfolio`` panels), :func:`alerts`,
  :func:`desk`, :func:`history`, :func:`positions`, :func:`trades`, :func:`sessions`,
  :func:`compliance_results`;
* reads for the HTTP API (``engine.api._live``), each one frozen model: :func:`risk_trends`,
  :func:`pl_history` (a window of feed time), :func:`portfolio_performance`,
  :func:`active_alerts`, :func:`compliance_summary`, :func:`system_performance`; and the
  request bodies :class:`AlertAckBody` and :class:`ComplianceCheckBody`.

**Sessions.** A replay's session is named by the hash of its inputs (the three files' bytes, or
the bundled example's) and its settings (alerts, circuit breaker): running the same replay again
continues after the last stored event, and applies no trade twice (``live_trades`` holds one row
per session and trade id, applied or rejected). A replay stopped by ``until``, a pause, Ctrl-C
or ``kill -9`` loses at most the batch it was computing: the cursor and the book are stored in
the transaction of each batch.

**Trading states** belong to the desk: an account id's state holds for every session that has
it. A kill switch (HALTED, or REDUCING) takes effect at the next batch of a running replay: a
batch computed under the old state is computed again before it is stored, so no trade after the
switch is applied to a halted account.

**Store discipline.** Inputs are read and validated before the store is touched (bad input
stores nothing); each batch is computed with the store released and written in one short write
session (:mod:`engine.store`).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from engine.audit.runs import RunRow, insert_run, new_run_id, utc_now
from engine.bundled import data_file
from engine.canonical import canonical_bytes
from engine.errors import InputError, NotFoundError, StoreError
from engine.live import _store
from engine.live._alerts import Alert, AlertConfig
from engine.live._analytics import (
    TRADING_DAYS,
    PortfolioAnalytics,
    equity_returns,
    portfolio_analytics,
)
from engine.live._compliance import (
    ComplianceReport,
    ComplianceRules,
    RuleResult,
    check_compliance,
    read_compliance_rules,
)
from engine.live._inputs import (
    AccountsConfig,
    bundled_price_feed,
    parse_accounts,
    read_accounts,
    read_price_feed,
    read_trades,
)
from engine.live._positions import NS_PER_DAY, Book, PLSnapshot
from engine.live._replay import (
    Batch,
    EventStream,
    Replayer,
    ReplayConfig,
    alert_state_from_json,
    naive_utc,
)
from engine.live._risk import AccountRisk, CircuitBreaker, TradingState
from engine.requests import Request
from engine.store import Store, transaction

__all__ = [
    "EXAMPLE_NOTE",
    "MAX_PL_HOURS",
    "AccountStatus",
    "AckRequest",
    "ActiveAlerts",
    "AlertAckBody",
    "AlertAcknowledged",
    "AlertList",
    "ComplianceCheckBody",
    "ComplianceRecorded",
    "ComplianceRequest",
    "ComplianceSummary",
    "ComplianceView",
    "DeskView",
    "EquityPoint",
    "KillSwitchRequest",
    "PLHistory",
    "PLPoint",
    "PortfolioPerformance",
    "ReplayProgress",
    "ReplayRequest",
    "ReplayResult",
    "ResumeRequest",
    "RiskPoint",
    "RiskTrends",
    "SessionInfo",
    "SessionPerformance",
    "StateChanged",
    "SystemPerformance",
    "acknowledge",
    "active_alerts",
    "alerts",
    "compliance_check",
    "compliance_results",
    "compliance_summary",
    "desk",
    "history",
    "kill_switch",
    "pl_history",
    "portfolio_performance",
    "positions",
    "replay",
    "resume",
    "risk_trends",
    "sessions",
    "status",
    "system_performance",
    "trades",
]

#: What the bundled example is, said wherever it runs.
EXAMPLE_NOTE = ("Bundled example: real S&P 500 daily closes (data/market_equities_skfolio, "
                "2020-01-02 to 2022-12-28) with a SYNTHETIC trade blotter for three accounts "
                "(seeded, data/live/make_blotter.py; see data/live/PROVENANCE.md). The trades "
                "are invented; the prices are real.")
#: The bundled example's price window (a year before its first trade, for var_95).
EXAMPLE_PRICES = ("2020-01-02", "2022-12-28")
#: Seconds of computing after which a batch is stored (so the panels move at least this often).
BATCH_SECONDS = 0.5

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
AccountId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


# --------------------------------------------------------------------------- requests

class ReplayRequest(Request):
    """Replay a blotter and a price feed through the desk's book.

    Attributes
    ----------
    trades, prices, accounts : str, optional
        Paths of the blotter (CSV, ``.csv.gz`` or Parquet), the price feed (long or wide daily
        layout) and the accounts YAML; all three, or ``example``.
    example : bool
        The bundled example (:data:`EXAMPLE_NOTE`): real prices, synthetic trades.
    speed : float, optional
        Feed time per wall-clock time: 1 replays in real time, 86,400 one feed day a second.
        None replays as fast as it can.
    until : datetime, optional
        Stop after the last event at or before this time (UTC; a time without offset is UTC).
        A later replay of the same inputs goes on from there.
    circuit_breaker : CircuitBreaker
        Off by default.
    alerts : AlertConfig
        Trend length and escalation delay.
    batch_events : int
        Largest batch (events) stored in one transaction.
    """

    subject: ClassVar[str] = "live replay request"

    trades: str | None = None
    prices: str | None = None
    accounts: str | None = None
    example: bool = False
    speed: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    until: datetime | None = None
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    batch_events: int = Field(default=20_000, ge=1, le=1_000_000)

    @field_validator("until")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return v

    @model_validator(mode="after")
    def _sources(self) -> ReplayRequest:
        files = {"trades": self.trades, "prices": self.prices, "accounts": self.accounts}
        given = [k for k, v in files.items() if v]
        if self.example and given:
            raise ValueError(f"give either example or files, not both (got {', '.join(given)})")
        if not self.example and len(given) != 3:
            missing = [k for k in files if k not in given]
            raise ValueError(f"give trades, prices and accounts files (missing "
                             f"{', '.join(missing)}), or example")
        return self


class KillSwitchRequest(Request):
    """Halt an account (or put it in REDUCING): who does it and why."""

    subject: ClassVar[str] = "kill switch"

    account_id: AccountId
    reason: Reason
    by: Name
    state: Literal["HALTED", "REDUCING"] = "HALTED"


class ResumeRequest(Request):
    """Set a halted or reducing account ACTIVE again: who does it, and why (optional)."""

    subject: ClassVar[str] = "resume"

    account_id: AccountId
    by: Name
    reason: Reason = "resumed"


class AckRequest(Request):
    """Acknowledge an alert: who, and an optional note."""

    subject: ClassVar[str] = "acknowledgement"

    alert_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=64)]
    by: Name
    note: Note | None = None


class ComplianceRequest(Request):
    """Check an account against compliance rules.

    Attributes
    ----------
    account_id : str
    regulations : tuple of str, optional
        Rule groups (``mifid_ii``, ``cftc``, ``finra``, ``sec``, ``custom``); default all.
    rules : str, optional
        A rules YAML file; default the shipped ``data/live/compliance.yaml``.
    session_id : str, optional
        The replay to take the account from; default the latest holding it.
    """

    subject: ClassVar[str] = "compliance check"

    account_id: AccountId
    regulations: tuple[str, ...] | None = None
    rules: str | None = None
    session_id: str | None = None


# --------------------------------------------------------------------------- results

class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReplayProgress(_Result):
    """Where a replay is (sent to the progress callback after each stored batch).

    ``status``: ``running``, ``waiting`` (paced: the next event is not due yet), ``paused``,
    ``until`` (stopped at the ``until`` time) or ``finished``.
    """

    session_id: str
    status: Literal["running", "waiting", "paused", "until", "finished"]
    events_done: int
    events_total: int
    as_of: datetime | None
    trades_applied: int
    trades_rejected: int
    alerts_raised: int
    elapsed: float

    @property
    def fraction(self) -> float:
        """Events done over events in the replay, in [0, 1]."""
        return self.events_done / self.events_total if self.events_total else 1.0


class ReplayResult(_Result):
    """A replay's outcome: where it stopped, what this run did, and its run id.

    ``trades_applied``, ``trades_rejected``, ``alerts_raised`` and ``events_processed`` count
    this run; ``events_done`` is the session's cursor.
    """

    run_id: str | None
    session_id: str
    status: Literal["paused", "until", "finished"]
    resumed: bool
    events_total: int
    events_done: int
    events_processed: int
    trades_applied: int
    trades_rejected: int
    alerts_raised: int
    as_of: datetime | None
    synthetic_trades: bool
    note: str
    elapsed: float
    summary: str


class StateChanged(_Result):
    """A trading state changed by a person."""

    change_id: str
    account_id: str
    old_state: str
    new_state: str
    by: str
    reason: str
    changed_at: datetime
    audit_seq: int


class AlertAcknowledged(_Result):
    alert_id: str
    account_id: str
    acknowledged_by: str
    acknowledged_at: datetime
    note: str | None
    audit_seq: int


class AlertList(_Result):
    """Alerts, newest first: the brief's fields plus acknowledgement and escalation."""

    alerts: tuple[dict[str, Any], ...]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.alerts), columns=list(_ALERT_FIELDS))


_ALERT_FIELDS = ("alert_id", "account_id", "alert_type", "severity", "title", "message",
                 "risk_score", "triggered_at", "is_acknowledged", "acknowledged_by",
                 "acknowledged_at", "ack_note", "escalated_at", "session_id")


class AccountStatus(_Result):
    """The three panels of one account (``stresslab live status``).

    ``risk`` is the last risk update's panel with the trading state of now; ``pl`` and
    ``portfolio`` are computed from the stored book at the session's last event.
    """

    account_id: str
    session_id: str
    as_of: datetime | None
    synthetic_trades: bool
    risk: AccountRisk
    pl: PLSnapshot
    portfolio: PortfolioAnalytics

    def panels(self) -> dict[str, Any]:
        """``{"risk": …, "pl": …, "portfolio": …}`` with exactly the issue's field names
        (an infinite ratio is ``None``)."""
        from engine.canonical import canonical

        return canonical({"risk": self.risk, "pl": self.pl, "portfolio": self.portfolio})


class SessionInfo(_Result):
    """A replay session: its inputs, progress and counts."""

    session_id: str
    source: str
    synthetic_trades: bool
    trades_name: str
    prices_name: str
    accounts_name: str
    events_total: int
    events_done: int
    as_of: datetime | None
    trades_applied: int
    trades_rejected: int
    alerts_raised: int
    status: str
    updated_at: datetime

    @property
    def fraction(self) -> float:
        return self.events_done / self.events_total if self.events_total else 1.0


class DeskView(BaseModel):
    """The desk for the page: the session and one row per account (its last update, its
    trading state now and its open alerts)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    session: SessionInfo | None
    accounts: pd.DataFrame


class ComplianceRecorded(_Result):
    check_id: str
    run_id: str
    session_id: str
    audit_seq: int
    report: ComplianceReport

    def to_frame(self) -> pd.DataFrame:
        return self.report.to_frame()


class ComplianceView(BaseModel):
    """A stored compliance check (None when the account has none) and its results."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    check: dict[str, Any] | None
    results: pd.DataFrame


# --------------------------------------------------------------------------- inputs

@dataclass(frozen=True)
class _Inputs:
    """A replay's validated inputs, their names and the sha256 of their bytes."""

    accounts: AccountsConfig
    prices: pd.DataFrame
    trades: pd.DataFrame
    names: dict[str, str]
    hashes: dict[str, str]
    synthetic: bool


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load(request: ReplayRequest) -> _Inputs:
    """Read and validate the three inputs (nothing touches the store)."""
    if request.example:
        from engine.market.data_io import BUNDLED_PRICES

        accounts_path = data_file("live", "accounts.yaml")
        trades_path = data_file("live", "trades.csv")
        accounts = read_accounts(accounts_path)
        prices = bundled_price_feed(start=EXAMPLE_PRICES[0], end=EXAMPLE_PRICES[1])
        price_files = [data_file(BUNDLED_PRICES, f) for f in ("sp500_dataset.csv.gz",
                                                               "sp500_index.csv.gz")]
        prices_hash = hashlib.sha256(canonical_bytes(
            [EXAMPLE_PRICES, [_sha256(p) for p in price_files]])).hexdigest()
        names = {"trades": "data/live/trades.csv (synthetic)",
                 "prices": f"bundled S&P 500 closes {EXAMPLE_PRICES[0]} to {EXAMPLE_PRICES[1]}",
                 "accounts": "data/live/accounts.yaml"}
        synthetic = True
    else:
        accounts_path = Path(request.accounts)  # type: ignore[arg-type]
        trades_path = Path(request.trades)  # type: ignore[arg-type]
        accounts = read_accounts(accounts_path)
        prices_path = Path(request.prices)  # type: ignore[arg-type]
        prices = read_price_feed(prices_path)
        prices_hash = _sha256(prices_path)
        names = {"trades": trades_path.name, "prices": prices_path.name,
                 "accounts": accounts_path.name}
        synthetic = False
    trades = read_trades(trades_path, prices=prices, accounts=accounts)
    hashes = {"trades": _sha256(trades_path), "prices": prices_hash,
              "accounts": _sha256(accounts_path)}
    return _Inputs(accounts=accounts, prices=prices, trades=trades, names=names, hashes=hashes,
                   synthetic=synthetic)


def _instruments(prices: pd.DataFrame) -> list[str]:
    return sorted(str(i) for i in pd.unique(prices["instrument"]))


def _book(session: dict[str, Any], stored: _store.StoredBook) -> Book:
    """The session's book as stored (positions, marks, clock, closed days)."""
    accounts = parse_accounts(session["accounts"], subject=f"session {session['session_id']}")
    book = Book(accounts, instruments=session["instruments"])
    shape = book.quantity.shape
    q, avg, real = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for a, i, qty, cost, realized in stored.positions.itertuples(index=False):
        j, k = book.account_index(a), book.instrument_index(i)
        q[j, k], avg[j, k], real[j, k] = qty, cost, realized
    mark = np.full(shape[1], np.nan)
    for i, price in stored.marks.itertuples(index=False):
        mark[book.instrument_index(i)] = price
    eod = stored.eod
    if len(eod):
        pl = eod.pivot(index="day", columns="account_id", values="total_pl")[book.account_ids]
        eq = eod.pivot(index="day", columns="account_id", values="equity")[book.account_ids]
        stamps = pd.DatetimeIndex(pd.to_datetime(pl.index)).as_unit("ns")
        days = (stamps.asi8 // NS_PER_DAY).tolist()
        pl_arr, eq_arr = pl.to_numpy(dtype=float), eq.to_numpy(dtype=float)
    else:
        days, pl_arr, eq_arr = [], np.empty((0, shape[0])), np.empty((0, shape[0]))
    book.restore(quantity=q, avg_cost=avg, realized=real, mark=mark,
                 time=session["cursor_ns"], eod_days=days, eod_pl=pl_arr, eod_equity=eq_arr)
    return book


def _ns(at: datetime | None) -> int | None:
    return None if at is None else int(pd.Timestamp(at).value)


def _states(found: dict[str, tuple[str, str | None]]) -> dict[str, TradingState]:
    return {a: TradingState(s) for a, (s, _) in found.items()}


# --------------------------------------------------------------------------- replay

def replay(request: ReplayRequest, *, store: Store | None = None,
           progress: Callable[[ReplayProgress], None] | None = None,
           stop: threading.Event | None = None) -> ReplayResult:
    """Replay trades and prices through the book, storing each batch; resumable and pausable.

    1. read and validate the inputs (bad input: every bad row, nothing stored);
    2. one read session: the session stored for these inputs, if any (its book, alert states,
       escalatable alerts, the trading states and acknowledgements);
    3. batch after batch (:class:`engine.live._replay.Replayer`): compute with the store
       released; then one write session: if a trading state changed meanwhile, drop the batch and
       compute it again under the new state; else store it with the new cursor in one
       transaction, and read the states and acknowledgements for the next batch;
    4. one write session: the session's status and a ``runs`` row (kind ``live``).

    Parameters
    ----------
    request : ReplayRequest
    store : Store, optional
        Default: the configured store.
    progress : callable, optional
        Called with a :class:`ReplayProgress` after each stored batch, while waiting for the
        next event time (paced replays) and at the end.
    stop : threading.Event, optional
        Checked between batches and during waits: when set, the replay stops after the batch it
        is computing is stored (status ``paused``).

    Returns
    -------
    ReplayResult

    Raises
    ------
    InputError, ValidationError
        Unreadable or invalid inputs (nothing stored); another replay of the same inputs
        running at the same time.
    StoreError
        The store could not be written (the batches stored before stay stored).
    """
    started, t0 = utc_now(), time.perf_counter()
    store = store or Store()
    inputs = _load(request)
    config = ReplayConfig(alerts=request.alerts, circuit_breaker=request.circuit_breaker)
    inputs_hash = hashlib.sha256(canonical_bytes({"inputs": inputs.hashes,
                                                  "config": config.model_dump(mode="json")})
                                 ).hexdigest()
    session_id = f"live-{inputs_hash[:16]}"
    accounts = inputs.accounts
    ids = accounts.ids
    book = Book(accounts, instruments=_instruments(inputs.prices))
    events = EventStream.build(inputs.trades, prices=inputs.prices, book=book)

    with store.read() as con:
        session = _store.session_row(con, session_id)
        stored = None if session is None else _store.load_book(con, session_id)
        found = _store.trading_states(con, ids)
        acked = set() if session is None else _store.acknowledged_ids(con, session_id)
    resumed = session is not None
    now = utc_now()
    if session is None:
        session = {
            "session_id": session_id, "inputs_hash": inputs_hash,
            "source": "example" if request.example else "files",
            "synthetic_trades": inputs.synthetic, "trades_name": inputs.names["trades"],
            "prices_name": inputs.names["prices"], "accounts_name": inputs.names["accounts"],
            "accounts": accounts.model_dump(mode="json"), "instruments": book.instruments,
            "config": config.model_dump(mode="json"), "events_total": len(events),
            "trades_total": events.n_trades,
            "first_event_at": naive_utc(int(events.ts[0])) if len(events) else None,
            "last_event_at": naive_utc(int(events.ts[-1])) if len(events) else None,
            "cursor": 0, "cursor_ns": None, "cursor_at": None, "trades_applied": 0,
            "trades_rejected": 0, "alerts_raised": 0, "updates": 0, "status": "running",
            "created_at": now, "updated_at": now}
        with store.write() as con, transaction(con):
            _store.insert_session(con, session)
        replayer = Replayer(session_id=session_id, accounts=accounts, events=events,
                            prices=inputs.prices, book=book, config=config)
    else:
        if (int(session["events_total"]) != len(events)
                or session["instruments"] != book.instruments):
            raise StoreError(f"session {session_id} was stored with {session['events_total']} "
                             f"events, these inputs have {len(events)}: the store holds another "
                             "replay under this id")
        open_alerts: dict[str, list[Alert]] = {}
        for alert in stored.open_alerts:
            open_alerts.setdefault(alert.account_id, []).append(alert)
        replayer = Replayer(
            session_id=session_id, accounts=accounts, events=events, prices=inputs.prices,
            book=_book(session, stored), cursor=int(session["cursor"]), config=config,
            alert_states={a: alert_state_from_json(s) for a, s in stored.alert_states.items()},
            open_alerts=open_alerts, updates=stored.updates,
            last_update={a: _ns(t) for a, t in stored.last_update.items() if t is not None})
    replayer.forget(acked)
    states = _states(found)
    first_cursor = replayer.cursor
    until_ns = None if request.until is None else _ns(request.until)
    due = None
    if request.speed is not None and replayer.cursor < len(events):
        ts0, wall0, speed = int(events.ts[replayer.cursor]), time.monotonic(), request.speed
        due = lambda ts: wall0 + (ts - ts0) / 1e9 / speed  # noqa: E731
    done = {"applied": 0, "rejected": 0, "alerts": 0}
    as_of = session.get("cursor_at")

    def report(status: str) -> None:
        if progress is not None:
            progress(ReplayProgress(
                session_id=session_id, status=status, events_done=replayer.cursor,
                events_total=len(events), as_of=as_of, trades_applied=done["applied"],
                trades_rejected=done["rejected"], alerts_raised=done["alerts"],
                elapsed=time.perf_counter() - t0))

    status = "finished"
    while True:
        if stop is not None and stop.is_set():
            status = "paused"
            break
        batch = replayer.run(states, max_events=request.batch_events, max_seconds=BATCH_SECONDS,
                             until_ns=until_ns, due=due)
        if batch.events:
            stored_ok = _write(store, batch, session_id=session_id, states=found, ids=ids)
            if stored_ok is None:  # a trading state changed while computing: compute again
                with store.read() as con:
                    found = _store.trading_states(con, ids)
                states = _states(found)
                continue
            found, acked_now = stored_ok
            replayer.accept(batch)
            replayer.forget(acked_now)
            states = _states(found)
            done["applied"] += batch.applied
            done["rejected"] += batch.rejected
            done["alerts"] += len(batch.alerts)
            as_of = None if batch.cursor_ns is None else naive_utc(batch.cursor_ns)
            report("running")
        if batch.stop == "wait":
            report("waiting")
            wait = max(0.0, (batch.resume_at or 0.0) - time.monotonic())
            if stop is not None:
                stop.wait(min(wait, 1.0))
            else:
                time.sleep(min(wait, 1.0))
            continue
        if batch.stop in ("until", "end"):
            status = "until" if batch.stop == "until" else "finished"
            break

    processed = replayer.cursor - first_cursor
    elapsed = time.perf_counter() - t0
    summary = (f"live replay {'of the bundled example ' if request.example else ''}"
               f"{processed:,} events ({done['applied']:,} trades applied, "
               f"{done['rejected']:,} rejected, {done['alerts']:,} alerts): {status} at "
               f"{replayer.cursor:,}/{len(events):,}")
    run_id = new_run_id("live") if processed else None
    with store.write() as con, transaction(con):
        _store.set_session_status(con, session_id=session_id, status=status, at=utc_now())
        if run_id is not None:
            insert_run(con, RunRow(
                run_id=run_id, kind="live", request=request, status="success", summary=summary,
                started_at=started, finished_at=started + timedelta(seconds=elapsed),
                inputs_hash=inputs_hash, subject_id=session_id, subject_name="live replay",
                execution_time=elapsed,
                response={"session_id": session_id, "status": status,
                          "events_done": replayer.cursor, "events_processed": processed,
                          "trades_applied": done["applied"], "trades_rejected": done["rejected"],
                          "alerts_raised": done["alerts"], "synthetic_trades": inputs.synthetic}))
    report(status)
    return ReplayResult(
        run_id=run_id, session_id=session_id, status=status, resumed=resumed,
        events_total=len(events), events_done=replayer.cursor, events_processed=processed,
        trades_applied=done["applied"], trades_rejected=done["rejected"],
        alerts_raised=done["alerts"], as_of=as_of, synthetic_trades=inputs.synthetic,
        note=EXAMPLE_NOTE if request.example else "", elapsed=elapsed, summary=summary)


def _write(store: Store, batch: Batch, *, session_id: str,
           states: dict[str, tuple[str, str | None]],
           ids: list[str]) -> tuple[dict[str, tuple[str, str | None]], set[str]] | None:
    """Store a batch if the trading states it was computed under still hold; then read the
    states and acknowledgements for the next batch. None when the batch must be computed again."""
    with store.write() as con, transaction(con):
        if _store.trading_states(con, ids) != states:
            return None
        status = "running" if batch.stop not in ("end",) else "finished"
        _store.write_batch(con, batch=batch, session_id=session_id, now=utc_now(), status=status,
                           change_ids=[uuid.uuid4().hex for _ in batch.state_changes])
        found = _store.trading_states(con, ids)
        acked = _store.acknowledged_ids(con, session_id)
    return found, acked


# --------------------------------------------------------------------------- trading states

def _change_state(store: Store, *, account_id: str, new_state: str, allowed_from: tuple[str, ...],
                  action: str, by: str, reason: str, now: datetime) -> StateChanged:
    change_id = uuid.uuid4().hex
    with store.write() as con, transaction(con):
        known = _store.session_for_account(con, account_id=account_id)
        old = _store.trading_states(con, [account_id])[account_id][0]
        if old not in allowed_from:
            raise InputError(f"account {account_id} is already {old}"
                             + ("; `stresslab live resume` sets it ACTIVE" if old != "ACTIVE"
                                else ""))
        seq = _store.insert_state_change(
            con, change_id=change_id, account_id=account_id, old_state=old, new_state=new_state,
            action=action, by=by, reason=reason, at=now, session_id=known["session_id"],
            event_at=known["cursor_at"])
    return StateChanged(change_id=change_id, account_id=account_id, old_state=old,
                        new_state=new_state, by=by, reason=reason, changed_at=now, audit_seq=seq)


def kill_switch(request: KillSwitchRequest, *, store: Store | None = None,
                now: datetime | None = None) -> StateChanged:
    """Halt an account (or set it REDUCING): every later trade of it is rejected (REDUCING: every
    trade that does not reduce a position), in every replay, running or to come.

    Stored with who and why, and written to the audit trail (covering the change and the
    account's state).

    Raises
    ------
    NotFoundError
        No replay holds the account.
    InputError
        The account is already in that state (or HALTED when REDUCING is asked).
    """
    allowed = ("ACTIVE", "REDUCING") if request.state == "HALTED" else ("ACTIVE",)
    return _change_state(store or Store(), account_id=request.account_id,
                         new_state=request.state, allowed_from=allowed,
                         action="kill_switch" if request.state == "HALTED" else "reduce_only",
                         by=request.by, reason=request.reason, now=now or utc_now())


def resume(request: ResumeRequest, *, store: Store | None = None,
           now: datetime | None = None) -> StateChanged:
    """Set a HALTED or REDUCING account ACTIVE again, with who did it (audited).

    Raises
    ------
    NotFoundError
        No replay holds the account.
    InputError
        The account is already ACTIVE.
    """
    return _change_state(store or Store(), account_id=request.account_id, new_state="ACTIVE",
                         allowed_from=("HALTED", "REDUCING"), action="resume", by=request.by,
                         reason=request.reason, now=now or utc_now())


# --------------------------------------------------------------------------- alerts

def acknowledge(request: AckRequest, *, store: Store | None = None,
                now: datetime | None = None) -> AlertAcknowledged:
    """Acknowledge an alert: who, when and a note, kept in the store and the audit trail.

    An acknowledged alert no longer escalates.

    Raises
    ------
    NotFoundError
        No such alert.
    InputError
        Already acknowledged (the message says by whom and when).
    """
    now = now or utc_now()
    with (store or Store()).write() as con, transaction(con):
        row = _store.acknowledge_alert(con, alert_id=request.alert_id, by=request.by,
                                       note=request.note or None, at=now)
    return AlertAcknowledged(alert_id=row["alert_id"], account_id=row["account_id"],
                             acknowledged_by=request.by, acknowledged_at=now,
                             note=request.note or None, audit_seq=row["audit_seq"])


def _records(frame: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) or v is pd.NaT else
                        v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                    for k, v in rec.items()})
    return tuple(out)


def _positive_limit(limit: int | None) -> int | None:
    """``limit`` if it is None or at least 1; the reads' LIMIT cannot be negative or zero."""
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    return limit


def alerts(*, account_id: str | None = None, include_acknowledged: bool = False,
           session_id: str | None = None, limit: int = 500,
           store: Store | None = None) -> AlertList:
    """Alerts, newest first (by event time); unacknowledged ones unless ``include_acknowledged``.

    Each has the brief's fields (``alert_id, account_id, alert_type, severity, title, message,
    risk_score, triggered_at, is_acknowledged``) and ``acknowledged_by``, ``acknowledged_at``,
    ``ack_note``, ``escalated_at``, ``session_id``.
    """
    with (store or Store()).read() as con:
        frame = _store.alerts_frame(con, account_id=account_id,
                                    include_acknowledged=include_acknowledged,
                                    session_id=session_id, limit=_positive_limit(limit))
    return AlertList(alerts=_records(frame[list(_ALERT_FIELDS)] if len(frame) else frame))


# --------------------------------------------------------------------------- reads

def status(account_id: str, *, session_id: str | None = None,
           store: Store | None = None) -> AccountStatus:
    """The ``risk``, ``pl`` and ``portfolio`` panels of an account, from one read session.

    ``risk`` is the account's last risk update with the trading state of now; ``pl`` and
    ``portfolio`` come from the stored book (positions, marks and end-of-day equity) at the
    session's last event (:func:`engine.live.portfolio_analytics`).

    Raises
    ------
    NotFoundError
        No replay holds the account, or it has had no update yet.
    """
    with (store or Store()).read() as con:
        session = _store.session_for_account(con, account_id=account_id, session_id=session_id)
        sid = session["session_id"]
        stored = _store.load_book(con, sid)
        risk = _store.latest_risk(con, session_id=sid, account_id=account_id)
        state = _store.trading_states(con, [account_id])[account_id][0]
    if risk is None:
        raise NotFoundError(f"account {account_id!r} has no update yet in session {sid}; "
                            "replay further")
    book = _book(session, stored)
    j = book.account_index(account_id)
    snap = book.snapshot(j)
    account = book.accounts.account(account_id)
    portfolio = portfolio_analytics(book.equity_curve(j), equity=snap.equity,
                                    initial_capital=account.initial_capital,
                                    pl_by_instrument=book.pl_by_instrument(j),
                                    total_positions=snap.instrument_count)
    return AccountStatus(account_id=account_id, session_id=sid, as_of=session["cursor_at"],
                         synthetic_trades=bool(session["synthetic_trades"]),
                         risk=risk.model_copy(update={"trading_state": TradingState(state)}),
                         pl=snap.pl, portfolio=portfolio)


def _session_info(row: dict[str, Any]) -> SessionInfo:
    return SessionInfo(session_id=row["session_id"], source=row["source"],
                       synthetic_trades=bool(row["synthetic_trades"]),
                       trades_name=row["trades_name"], prices_name=row["prices_name"],
                       accounts_name=row["accounts_name"], events_total=row["events_total"],
                       events_done=row["cursor"], as_of=row["cursor_at"],
                       trades_applied=row["trades_applied"],
                       trades_rejected=row["trades_rejected"],
                       alerts_raised=row["alerts_raised"], status=row["status"],
                       updated_at=row["updated_at"])


def sessions(*, store: Store | None = None) -> pd.DataFrame:
    """Every replay session, the latest first (progress, counts, status)."""
    with (store or Store()).read() as con:
        return _store.sessions_frame(con)


def desk(*, session_id: str | None = None, store: Store | None = None) -> DeskView:
    """The desk of a session (default the latest updated): the session's progress and one row
    per account (risk score and level, exposure, leverage, margin, VaR, P&L total and daily,
    equity, trading state, open alerts), from one read session. ``session`` is None when the
    store holds no replay."""
    with (store or Store()).read() as con:
        session_id = session_id or _store.latest_session_id(con)
        if session_id is None:
            return DeskView(session=None, accounts=pd.DataFrame())
        row = _store.session_row(con, session_id)
        if row is None:
            raise NotFoundError(f"no live session {session_id!r}")
        accounts = _store.desk_frame(con, session_id)
    return DeskView(session=_session_info(row), accounts=accounts)


def history(account_id: str, *, session_id: str | None = None, limit: int | None = None,
            store: Store | None = None) -> pd.DataFrame:
    """The account's updates in time order (``event_at``, ``total_pl``, ``daily_pl``,
    ``equity``, ``total_exposure``, ``risk_score``, ``risk_level``, ``trading_state``): the
    P&L chart and the risk-score history. ``limit`` keeps the last updates only."""
    with (store or Store()).read() as con:
        session = _store.session_for_account(con, account_id=account_id, session_id=session_id)
        return _store.history_frame(con, session_id=session["session_id"],
                                    account_id=account_id, limit=_positive_limit(limit))


def positions(account_id: str, *, session_id: str | None = None,
              store: Store | None = None) -> pd.DataFrame:
    """The account's stored positions (instrument, quantity, avg_cost, mark, realized_pl)."""
    with (store or Store()).read() as con:
        session = _store.session_for_account(con, account_id=account_id, session_id=session_id)
        return _store.positions_frame(con, session_id=session["session_id"],
                                      account_id=account_id)


def trades(*, session_id: str | None = None, account_id: str | None = None,
           status: Literal["applied", "rejected"] | None = None, limit: int = 1000,
           store: Store | None = None) -> pd.DataFrame:
    """Processed trades of a session (default the latest), latest first; ``status="rejected"``
    lists the rejected trades with the state and the reason."""
    with (store or Store()).read() as con:
        session_id = session_id or _store.latest_session_id(con)
        if session_id is None:
            return pd.DataFrame()
        return _store.trades_frame(con, session_id=session_id, account_id=account_id,
                                   status=status, limit=_positive_limit(limit))


# --------------------------------------------------------------------------- compliance

def _rules(path: str | None) -> ComplianceRules:
    return read_compliance_rules(Path(path) if path else data_file("live", "compliance.yaml"))


def compliance_check(request: ComplianceRequest, *, store: Store | None = None,
                     now: datetime | None = None) -> ComplianceRecorded:
    """Check an account against the compliance rules and store the outcome (audited, a run).

    The account is taken at its session's last event: the stored book, the last risk update
    (``var_95``, ``risk_score``) and its applied trades of that UTC day and calendar month.

    Raises
    ------
    InputError, ValidationError
        An unreadable or invalid rules file, or a regulation with no rules (nothing stored).
    NotFoundError
        No replay holds the account.
    """
    started, t0 = now or utc_now(), time.perf_counter()
    rules = _rules(request.rules)
    rules.select(request.regulations)  # an unknown regulation fails before the store is read
    store = store or Store()
    with store.read() as con:
        session = _store.session_for_account(con, account_id=request.account_id,
                                              session_id=request.session_id)
        sid = session["session_id"]
        stored = _store.load_book(con, sid)
        risk = _store.latest_risk(con, session_id=sid, account_id=request.account_id)
        as_of = session["cursor_at"]
        traded = None
        if as_of is not None:
            day = pd.Timestamp(as_of).normalize()
            month = day.replace(day=1)
            traded = _store.traded_totals(
                con, session_id=sid, account_id=request.account_id,
                day=(day.to_pydatetime(), (day + pd.Timedelta(days=1)).to_pydatetime()),
                month=(month.to_pydatetime(), (month + pd.offsets.MonthBegin(1)).to_pydatetime()))
    book = _book(session, stored)
    j = book.account_index(request.account_id)
    report = check_compliance(rules, account_id=request.account_id, snapshot=book.snapshot(j),
                              quantities=book.quantity[j], values=book.values(j),
                              instruments=book.instruments, risk=risk, traded=traded,
                              regulations=request.regulations)
    report = report.model_copy(update={"as_of": as_of})  # naive UTC, as the store keeps times
    check_id = uuid.uuid4().hex
    run_id = new_run_id("live")
    elapsed = time.perf_counter() - t0
    summary = (f"compliance {request.account_id}: "
               f"{'compliant' if report.compliant else f'{report.non_compliant} non-compliant'}"
               f" of {len(report.results)} rules ({', '.join(report.regulations)})")
    with store.write() as con, transaction(con):
        seq = _store.insert_compliance(con, report=report, check_id=check_id, session_id=sid,
                                       rules_hash=rules.sha256, checked_at=started)
        insert_run(con, RunRow(
            run_id=run_id, kind="live", request=request, status="success", summary=summary,
            started_at=started, finished_at=started + timedelta(seconds=elapsed),
            inputs_hash=rules.sha256, subject_id=request.account_id,
            subject_name="compliance check", execution_time=elapsed,
            response={"check_id": check_id, "compliant": report.compliant,
                      "non_compliant": report.non_compliant}))
    return ComplianceRecorded(check_id=check_id, run_id=run_id, session_id=sid, audit_seq=seq,
                              report=report)


def compliance_results(account_id: str, *, check_id: str | None = None,
                       store: Store | None = None) -> ComplianceView:
    """The account's latest stored compliance check (or ``check_id``) and its results."""
    with (store or Store()).read() as con:
        check, results = _store.compliance_frame(con, account_id=account_id, check_id=check_id)
    return ComplianceView(check=check, results=results)


# --------------------------------------------------------------------------- views for the API

#: The widest P&L history window (:func:`pl_history`), hours: one year of feed time.
MAX_PL_HOURS = 8760


class AlertAckBody(BaseModel):
    """The body of ``POST /api/v1/alerts/{alert_id}/acknowledge``, as the trading risk service
    documents it.

    The acknowledgement is recorded as the caller's (the bearer token's user); ``acknowledged_by``
    is accepted for compatibility and, when it names someone else, kept in the note
    (:meth:`request`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    acknowledged_by: Name
    note: Note | None = None

    def request(self, alert_id: str, *, user: str) -> AckRequest:
        """The acknowledgement by ``user``.

        The note is the body's note; if ``acknowledged_by`` differs from ``user`` the note ends
        with ``acknowledged_by given as '<name>'`` (after ``"; "`` when there is a note).

        Raises
        ------
        ValidationError
            An invalid alert id, or a note that the addition makes longer than 2,000 characters.
        """
        note = self.note or None
        if self.acknowledged_by != user:
            given = f"acknowledged_by given as {self.acknowledged_by!r}"
            note = f"{note}; {given}" if note else given
        return AckRequest.build(alert_id=alert_id, by=user, note=note, requested_by=user)


class ComplianceCheckBody(BaseModel):
    """The body of ``POST /api/v1/compliance/{account_id}/check``: the rule groups to check
    (``mifid_ii``, ``cftc``, ``finra``, ``sec``, ``custom``), default all. The rules are the
    shipped ``data/live/compliance.yaml``: an HTTP caller cannot name a file on the server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regulations: tuple[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                        max_length=64)], ...] | None = None

    def request(self, account_id: str, *, user: str) -> ComplianceRequest:
        """The check of ``account_id`` as asked by ``user``."""
        return ComplianceRequest.build(account_id=account_id, regulations=self.regulations,
                                       requested_by=user)


class RiskPoint(_Result):
    """One risk update of an account (event time ``event_at``).

    ``total_exposure`` and ``var_95`` are currency; ``current_leverage`` and
    ``margin_utilization`` multiples, None when infinite (equity <= 0 with exposure);
    ``trading_state`` is the state the update was computed under.
    """

    event_index: int
    event_at: datetime
    risk_score: float
    risk_level: str
    total_exposure: float
    var_95: float | None
    current_leverage: float | None
    margin_utilization: float | None
    trading_state: str


class RiskTrends(_Result):
    """The last risk updates of an account, oldest first (``GET /risk/{account_id}/trends``)."""

    account_id: str
    session_id: str
    as_of: datetime | None
    points: tuple[RiskPoint, ...]


class PLPoint(_Result):
    """One P&L update of an account (event time ``event_at``); currency except
    ``position_count``."""

    event_index: int
    event_at: datetime
    total_pl: float
    unrealized_pl: float
    realized_pl: float
    daily_pl: float
    market_value: float
    total_exposure: float
    equity: float
    position_count: int


class PLHistory(_Result):
    """An account's P&L updates with ``since <= event_at <= as_of``, oldest first.

    ``as_of`` is the session's last event (feed time, naive UTC) and ``since`` is ``as_of``
    minus ``hours``; both None (and no points) before the session's first event.
    """

    account_id: str
    session_id: str
    hours: int
    as_of: datetime | None
    since: datetime | None
    points: tuple[PLPoint, ...]


class EquityPoint(_Result):
    """One point of an account's equity curve: the equity at the end of the UTC ``day``
    (``closed``), or now (the day in progress, not closed); ``daily_return`` against the point
    before (the initial capital before the first), decimal, None when that equity is <= 0."""

    day: date
    equity: float
    daily_return: float | None
    closed: bool


class PortfolioPerformance(_Result):
    """An account's performance from its equity curve (``GET /portfolio/{account_id}/performance``).

    The definitions are :mod:`engine.live._analytics`' (quantstats/empyrical): ``sharpe_ratio``,
    ``volatility`` (annualised, :data:`~engine.live._analytics.TRADING_DAYS` = 252 periods, risk
    free rate 0), ``max_drawdown`` (fraction <= 0) and ``daily_return`` are the ``portfolio``
    panel's; ``total_return = total_value / initial_capital - 1`` (= ``total_pl /
    initial_capital``, decimal); ``return_days`` counts the daily returns behind the Sharpe ratio
    and the volatility; ``equity_curve`` lists the closed days and then the equity now.
    """

    account_id: str
    session_id: str
    as_of: datetime | None
    synthetic_trades: bool
    initial_capital: float
    total_value: float
    total_pl: float
    total_return: float
    daily_return: float | None
    sharpe_ratio: float | None
    volatility: float | None
    max_drawdown: float
    return_days: int
    periods_per_year: int
    risk_free_rate: float
    equity_curve: tuple[EquityPoint, ...]


class ActiveAlerts(_Result):
    """Unacknowledged alerts, newest first (``GET /api/v1/alerts/active``).

    ``total_active_alerts`` counts every unacknowledged alert (of the account, if one is
    named), also those beyond the listed ``limit``; each alert has :func:`alerts`' fields.
    """

    total_active_alerts: int
    alerts: tuple[dict[str, Any], ...]


class ComplianceSummary(_Result):
    """An account's latest stored compliance check (``GET /compliance/{account_id}/summary``).

    Without a stored check: ``check_id`` and ``compliant`` are None and ``results`` is empty.
    ``requested_by`` is the API caller who asked for it (None from the command line),
    ``checked_at`` the wall clock and ``as_of`` the feed time of the account's state (naive UTC).
    """

    account_id: str
    check_id: str | None
    run_id: str | None
    requested_by: str | None
    session_id: str | None
    checked_at: datetime | None
    as_of: datetime | None
    regulations: tuple[str, ...]
    compliant: bool | None
    rules_checked: int
    non_compliant: int
    results: tuple[RuleResult, ...]


class SessionPerformance(_Result):
    """One replay session's progress and throughput.

    ``progress`` is ``events_done / events_total`` in [0, 1]; ``replay_runs``,
    ``replay_events`` and ``replay_seconds`` sum the session's finished replay runs (a replay
    still running is counted when it ends); ``events_per_second`` is ``replay_events /
    replay_seconds`` (wall clock, including the waits of a paced replay), None before a run has
    finished. ``active_alerts`` are its unacknowledged alerts.
    """

    session_id: str
    source: str
    status: str
    synthetic_trades: bool
    events_total: int
    events_done: int
    progress: float
    as_of: datetime | None
    trades_applied: int
    trades_rejected: int
    alerts_raised: int
    active_alerts: int
    risk_updates: int
    replay_runs: int
    replay_events: int
    replay_seconds: float
    events_per_second: float | None
    created_at: datetime
    updated_at: datetime


class SystemPerformance(_Result):
    """The desk's replay sessions and the store's answer time (``GET /system/performance``).

    ``store_status`` and ``store_latency_ms`` come from :func:`engine.store.store_health` (a read
    session opened, the schema version read, closed; ms); the totals sum the sessions (events
    processed = the sessions' cursors). ``measured_at`` is the wall clock, naive UTC.
    """

    measured_at: datetime
    store_status: str
    store_latency_ms: float
    sessions_count: int
    events_processed: int
    trades_applied: int
    trades_rejected: int
    alerts_raised: int
    active_alerts: int
    sessions: tuple[SessionPerformance, ...]


def risk_trends(account_id: str, *, limit: int = 500, session_id: str | None = None,
                store: Store | None = None) -> RiskTrends:
    """The account's last ``limit`` risk updates, oldest first: risk score and level, exposure,
    var_95 and the ratios, as stored with each update.

    Raises
    ------
    NotFoundError
        No replay holds the account.
    InputError
        ``limit`` below 1.
    """
    limit = _positive_limit(limit)
    with (store or Store()).read() as con:
        session = _store.session_for_account(con, account_id=account_id, session_id=session_id)
        frame = _store.risk_trend_frame(con, session_id=session["session_id"],
                                        account_id=account_id, limit=limit)
    return RiskTrends(account_id=account_id, session_id=session["session_id"],
                      as_of=session["cursor_at"],
                      points=tuple(RiskPoint(**r) for r in _records(frame)))


def pl_history(account_id: str, *, hours: int = 24, session_id: str | None = None,
               store: Store | None = None) -> PLHistory:
    """The account's P&L updates in the last ``hours`` of FEED time.

    The window is closed, ``as_of - hours <= event_at <= as_of``, where ``as_of`` is the time of
    the session's last processed event (not the wall clock: a replay of 2022 has a 2022 window).

    Parameters
    ----------
    account_id : str
    hours : int, default 24
        1 to :data:`MAX_PL_HOURS` (8,760, a year).
    session_id : str, optional
        Default the latest session holding the account.
    store : Store, optional

    Raises
    ------
    NotFoundError
        No replay holds the account.
    InputError
        ``hours`` outside 1 … 8,760.
    """
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_PL_HOURS:
        raise InputError(f"hours must be a whole number from 1 to {MAX_PL_HOURS}, got {hours!r}")
    with (store or Store()).read() as con:
        session = _store.session_for_account(con, account_id=account_id, session_id=session_id)
        as_of = session["cursor_at"]
        since = None if as_of is None else as_of - timedelta(hours=hours)
        frame = pd.DataFrame() if as_of is None else _store.pl_history_frame(
            con, session_id=session["session_id"], account_id=account_id, since=since,
            until=as_of)
    return PLHistory(account_id=account_id, session_id=session["session_id"], hours=hours,
                     as_of=as_of, since=since,
                     points=tuple(PLPoint(**r) for r in _records(frame)))


def portfolio_performance(account_id: str, *, session_id: str | None = None,
                          store: Store | None = None) -> PortfolioPerformance:
    """The account's returns, Sharpe ratio, volatility and drawdown from the stored book at the
    session's last event, with its equity curve (:class:`PortfolioPerformance`).

    The figures are :func:`engine.live.portfolio_analytics`' on the same curve as
    :func:`status`' ``portfolio`` panel, so they are equal to it.

    Raises
    ------
    NotFoundError
        No replay holds the account.
    """
    with (store or Store()).read() as con:
        session = _store.session_for_account(con, account_id=account_id, session_id=session_id)
        stored = _store.load_book(con, session["session_id"])
    book = _book(session, stored)
    j = book.account_index(account_id)
    snap = book.snapshot(j)
    capital = book.accounts.account(account_id).initial_capital
    curve = book.equity_curve(j)
    panel = portfolio_analytics(curve, equity=snap.equity, initial_capital=capital,
                                pl_by_instrument=book.pl_by_instrument(j),
                                total_positions=snap.instrument_count)
    days = [d.date() for d in curve.index]
    values = [float(v) for v in curve]
    closed = [True] * len(days)
    if session["cursor_at"] is not None:
        days.append(session["cursor_at"].date())
        values.append(snap.equity)
        closed.append(False)
    previous = [capital, *values[:-1]]
    points = tuple(EquityPoint(day=d, equity=v, daily_return=v / p - 1.0 if p > 0.0 else None,
                               closed=c)
                   for d, v, p, c in zip(days, values, previous, closed, strict=True))
    returns = equity_returns(np.array([capital, *values]))
    return PortfolioPerformance(
        account_id=account_id, session_id=session["session_id"], as_of=session["cursor_at"],
        synthetic_trades=bool(session["synthetic_trades"]), initial_capital=capital,
        total_value=panel.total_value, total_pl=snap.pl.total_pl,
        total_return=panel.total_value / capital - 1.0, daily_return=panel.daily_return,
        sharpe_ratio=panel.sharpe_ratio, volatility=panel.volatility,
        max_drawdown=panel.max_drawdown, return_days=int(returns.size),
        periods_per_year=TRADING_DAYS, risk_free_rate=0.0, equity_curve=points)


def active_alerts(*, account_id: str | None = None, limit: int = 500,
                  store: Store | None = None) -> ActiveAlerts:
    """Unacknowledged alerts, newest first (at most ``limit``), and how many there are in all,
    from one read session.

    Raises
    ------
    NotFoundError
        ``account_id`` is named and no replay holds it.
    InputError
        ``limit`` below 1.
    """
    limit = _positive_limit(limit)
    with (store or Store()).read() as con:
        if account_id is not None:
            _store.session_for_account(con, account_id=account_id)
        total = _store.active_alert_count(con, account_id=account_id)
        frame = _store.alerts_frame(con, account_id=account_id, include_acknowledged=False,
                                    limit=limit)
    return ActiveAlerts(total_active_alerts=total,
                        alerts=_records(frame[list(_ALERT_FIELDS)] if len(frame) else frame))


def compliance_summary(account_id: str, *, check_id: str | None = None,
                       store: Store | None = None) -> ComplianceSummary:
    """The account's latest stored compliance check (or ``check_id``), its results, and the
    run it was recorded with.

    Raises
    ------
    NotFoundError
        No replay holds the account, or ``check_id`` is not a check of it.
    """
    with (store or Store()).read() as con:
        _store.session_for_account(con, account_id=account_id)
        check, results = _store.compliance_frame(con, account_id=account_id, check_id=check_id)
        if check is not None and check["account_id"] != account_id:
            check = None
        run = None if check is None else _store.compliance_run(
            con, account_id=account_id, check_id=check["check_id"])
    if check is None:
        if check_id is not None:
            raise NotFoundError(f"no compliance check {check_id!r} of account {account_id!r}")
        return ComplianceSummary(account_id=account_id, check_id=None, run_id=None,
                                 requested_by=None, session_id=None, checked_at=None,
                                 as_of=None, regulations=(), compliant=None, rules_checked=0,
                                 non_compliant=0, results=())
    return ComplianceSummary(
        account_id=account_id, check_id=check["check_id"],
        run_id=None if run is None else run[0], requested_by=None if run is None else run[1],
        session_id=check["session_id"], checked_at=check["checked_at"], as_of=check["as_of"],
        regulations=tuple(json.loads(check["regulations"])), compliant=bool(check["compliant"]),
        rules_checked=int(check["rules_checked"]), non_compliant=int(check["non_compliant"]),
        results=tuple(RuleResult(**r) for r in _records(results)))


def system_performance(*, store: Store | None = None,
                       now: datetime | None = None) -> SystemPerformance:
    """Every replay session's progress, counts and throughput, their totals and the store's
    answer time (:class:`SystemPerformance`).

    Raises
    ------
    StoreBusyError
        A writer holds the store longer than its timeout.
    """
    from engine.store import store_health

    store = store or Store()
    health = store_health(store=store)
    with store.read() as con:
        frame = _store.session_performance_frame(con)
    sessions = []
    for r in _records(frame):
        seconds = float(r["replay_seconds"])
        sessions.append(SessionPerformance(
            **r, progress=r["events_done"] / r["events_total"] if r["events_total"] else 1.0,
            events_per_second=r["replay_events"] / seconds if seconds > 0.0 else None))
    return SystemPerformance(
        measured_at=now or utc_now(), store_status=str(health["status"]),
        store_latency_ms=float(health["latency_ms"]), sessions_count=len(sessions),
        events_processed=sum(s.events_done for s in sessions),
        trades_applied=sum(s.trades_applied for s in sessions),
        trades_rejected=sum(s.trades_rejected for s in sessions),
        alerts_raised=sum(s.alerts_raised for s in sessions),
        active_alerts=sum(s.active_alerts for s in sessions), sessions=tuple(sessions))
