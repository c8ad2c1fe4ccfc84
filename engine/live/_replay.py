"""The replay loop: trades and price ticks through the book, the pre-trade check before each trade,
and a risk update of each account an event time changed. Pure computation: no store, no clock
(the caller gives the wall-clock pacing it wants); :mod:`engine.live.workflow` stores each batch.

**Order.** Events in time order; at equal times trades before prices, each in file order
(:func:`engine.live.merge_events`).

**Pre-trade check.** Before each trade, :func:`engine.live.check_trade` with the account's trading
state: an accepted trade is applied; a rejected one is recorded with its state and reason and
leaves the book as it was (it still moves the clock: the first event of a new UTC day closes the
previous day, whatever the event is).

**Updates.** After the last event of each event time, every account that time changed is
updated: one that traded, one holding an instrument that was priced, and every account at the
first time of a new UTC day (its daily P&L and drawdown are measured from the day's start, and
the return window moves). An update computes the account's snapshot, var_95 and correlation over
the window of completed days, the risk panel (:func:`engine.live.assess_risk`), the circuit
breaker (which may raise the trading state for the next trades), the alerts it raises
(:func:`engine.live.evaluate_alerts`), and, for every account, the alerts that escalate at that
time (:func:`engine.live.escalate`, the replay's event time being the desk's clock). Update
points depend on the events alone, so a replay cut into batches anywhere, stopped and resumed,
raises the same alerts as one run from start to end.

**Batches.** :meth:`Replayer.run` processes whole event times from a cursor until a limit (events,
seconds, the ``until`` time, or a pacing wait) and returns a :class:`Batch`: what to store and the
state after it, computed on copies. The caller stores the batch and then :meth:`Replayer.accept`
it, or drops it (a trading state changed meanwhile) and runs it again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from engine.canonical import canonical_json
from engine.errors import InputError
from engine.live._alerts import Alert, AlertConfig, AlertState, escalate, evaluate_alerts
from engine.live._inputs import AccountsConfig
from engine.live._positions import NS_PER_DAY, Book, merge_events
from engine.live._risk import (
    AccountRisk,
    CircuitBreaker,
    RiskScoreConfig,
    TradingState,
    assess_risk,
    check_trade,
    circuit_breaker_state,
)
from engine.live._var import (
    VAR_LOOKBACK_DAYS,
    ReturnWindow,
    daily_closes,
    exposure_correlation,
    var_95,
)

__all__ = ["Batch", "EventStream", "ReplayConfig", "Replayer", "StateChange",
           "alert_state_from_json", "alert_state_json", "naive_utc"]

_EPOCH = datetime(1970, 1, 1)


def naive_utc(ns: int) -> datetime:
    """ns since the epoch as a naive UTC datetime (the store's convention), to the microsecond."""
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


class ReplayConfig(BaseModel):
    """What a replay computes with besides its inputs: alert, circuit-breaker and risk settings.

    Part of a replay session's identity (a replay with other settings is another session).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alerts: AlertConfig = Field(default_factory=AlertConfig)
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    risk: RiskScoreConfig = Field(default_factory=RiskScoreConfig)


@dataclass(frozen=True)
class EventStream:
    """The events of a replay in replay order, as plain lists (fast to index one by one).

    Attributes
    ----------
    ts : ndarray of shape (n_events,)
        int64 ns UTC.
    last_of_time : ndarray of shape (n_events,)
        True at the last event of each event time (where updates happen).
    """

    ts: np.ndarray
    kind: list[int]
    account: list[int]
    instrument: list[int]
    quantity: list[float]
    price: list[float]
    fees: list[float]
    trade_id: list[str | None]
    side: list[str | None]
    last_of_time: np.ndarray
    n_trades: int

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def build(cls, trades: pd.DataFrame, *, prices: pd.DataFrame, book: Book) -> EventStream:
        """The merged stream of a validated blotter and price feed (:func:`merge_events`)."""
        events = merge_events(trades, prices=prices, book=book)
        ts = events["ts"].to_numpy(dtype=np.int64)
        kind = events["kind"].to_numpy()
        rows = events["source_row"].to_numpy()
        is_trade = kind == 0
        trade_id = np.full(len(events), None, dtype=object)
        side = np.full(len(events), None, dtype=object)
        trade_id[is_trade] = trades["trade_id"].to_numpy(dtype=object)[rows[is_trade]]
        side[is_trade] = trades["side"].to_numpy(dtype=object)[rows[is_trade]]
        last = np.ones(len(ts), dtype=bool)
        last[:-1] = ts[1:] != ts[:-1]
        return cls(ts=ts, kind=kind.tolist(), account=events["account"].tolist(),
                   instrument=events["instrument"].tolist(),
                   quantity=events["quantity"].astype(float).tolist(),
                   price=events["price"].astype(float).tolist(),
                   fees=events["fees"].astype(float).tolist(), trade_id=trade_id.tolist(),
                   side=side.tolist(), last_of_time=last, n_trades=int(is_trade.sum()))


@dataclass(frozen=True)
class StateChange:
    """A trading state the circuit breaker changed during a replay."""

    account_id: str
    old_state: str
    new_state: str
    reason: str
    event_ns: int


@dataclass
class Batch:
    """What one call of :meth:`Replayer.run` computed: rows to store and the state after them.

    ``start`` and ``end`` are event positions: the batch processed events ``start … end - 1``.
    ``stop`` says why it ended: ``events`` or ``seconds`` (the batch limits), ``until`` (the next
    event is after the ``until`` time), ``end`` (no event left) or ``wait`` (pacing: the next
    event time is due at ``resume_at``, a ``time.monotonic()`` value).
    """

    start: int
    end: int
    stop: str = "events"
    resume_at: float | None = None
    trades: list[tuple] = field(default_factory=list)
    eod: list[tuple] = field(default_factory=list)
    pl: list[tuple] = field(default_factory=list)
    risk: list[tuple] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    escalations: list[Alert] = field(default_factory=list)
    state_changes: list[StateChange] = field(default_factory=list)
    positions: list[tuple] = field(default_factory=list)
    marks: list[tuple] = field(default_factory=list)
    account_state: list[tuple] = field(default_factory=list)
    applied: int = 0
    rejected: int = 0
    cursor_ns: int | None = None
    # the replay's state after the batch
    book: Book | None = None
    states: dict[str, TradingState] = field(default_factory=dict)
    alert_states: dict[str, AlertState] = field(default_factory=dict)
    open_alerts: dict[str, list[Alert]] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)
    last_update: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return self.end - self.start


def alert_state_json(state: AlertState) -> str:
    """An :class:`AlertState` as stored (floats round-trip exactly)."""
    return canonical_json({"active": sorted(state.active), "scores": list(state.scores)})


def alert_state_from_json(text: str) -> AlertState:
    """The :class:`AlertState` stored by :func:`alert_state_json`."""
    import json

    data = json.loads(text)
    return AlertState(active=frozenset(data["active"]),
                      scores=tuple(float(s) for s in data["scores"]))


class Replayer:
    """A replay between batches: the book, trading states, alert states and the return window.

    Parameters
    ----------
    session_id : str
        Qualifies alert ids (two sessions never share one).
    accounts : AccountsConfig
    events : EventStream
    prices : DataFrame
        The validated long feed (for the daily closes of the return window).
    book : Book
        The book after the events before ``cursor`` (a new book for a new replay).
    cursor : int
        Events already processed.
    config : ReplayConfig
    alert_states, open_alerts, updates, last_update : mappings by account id, optional
        What the alert rules remember, the unacknowledged alerts that may still escalate, and
        each account's number of updates and last update (ns); empty for a new replay.
    """

    def __init__(self, *, session_id: str, accounts: AccountsConfig, events: EventStream,
                 prices: pd.DataFrame, book: Book, cursor: int = 0,
                 config: ReplayConfig | None = None,
                 alert_states: Mapping[str, AlertState] | None = None,
                 open_alerts: Mapping[str, Sequence[Alert]] | None = None,
                 updates: Mapping[str, int] | None = None,
                 last_update: Mapping[str, int] | None = None) -> None:
        self.session_id = session_id
        self.accounts = accounts
        self.events = events
        self.book = book
        self.cursor = int(cursor)
        self.config = config or ReplayConfig()
        ids = accounts.ids
        self.alert_states = {a: (alert_states or {}).get(a, AlertState()) for a in ids}
        self.open_alerts = {a: list((open_alerts or {}).get(a, ())) for a in ids}
        self.updates = {a: int((updates or {}).get(a, 0)) for a in ids}
        self.last_update = dict(last_update or {})
        self._limits = [a.limits for a in accounts.accounts]
        closes = daily_closes(prices).reindex(columns=book.instruments).astype(float)
        self._close_days = (pd.DatetimeIndex(closes.index).as_unit("ns").asi8 // NS_PER_DAY
                            if len(closes) else np.empty(0, dtype=np.int64))
        values = closes.to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            self._returns = (values[1:] / values[:-1] - 1.0 if len(values) > 1
                             else np.empty((0, len(book.instruments))))
        self._windows: dict[int, ReturnWindow] = {}

    # ----------------------------------------------------------------- window

    def window(self, day: int) -> ReturnWindow:
        """The return window of UTC day ``day`` (days since the epoch): the last 252 daily
        returns of the closes of the days before it (:mod:`engine.live._var`)."""
        k = int(np.searchsorted(self._close_days, day, side="left"))
        if k not in self._windows:
            hi = max(0, k - 1)
            rows = self._returns[max(0, hi - VAR_LOOKBACK_DAYS):hi]
            self._windows = {k: ReturnWindow(tuple(self.book.instruments), rows)}
        return self._windows[k]

    # ----------------------------------------------------------------- acknowledgements

    def forget(self, alert_ids: set[str]) -> None:
        """Drop acknowledged alerts from those that may escalate."""
        if alert_ids:
            for a, open_ in self.open_alerts.items():
                self.open_alerts[a] = [x for x in open_ if x.alert_id not in alert_ids]

    # ----------------------------------------------------------------- the loop

    def run(self, states: Mapping[str, TradingState | str], *, max_events: int = 50_000,
            max_seconds: float = 0.5, until_ns: int | None = None,
            due: Callable[[int], float | None] | None = None) -> Batch:
        """Process whole event times from the cursor, on copies of the replay's state.

        Parameters
        ----------
        states : mapping of str to TradingState
            Each account's trading state now (accounts not named are ACTIVE).
        max_events : int, default 50,000
            End the batch at the first event time that reaches this many events.
        max_seconds : float, default 0.5
            End the batch at the first event time after this much computing (wall clock).
        until_ns : int, optional
            Process no event after this time (ns UTC).
        due : callable, optional
            Pacing: ``due(ts)`` gives the ``time.monotonic()`` at which the event time ``ts`` may
            be processed, or None for at once. The batch ends before an event time that is not
            yet due (``stop="wait"``, ``resume_at`` set).

        Returns
        -------
        Batch
            Not yet part of the replay: call :meth:`accept` once it is stored.
        """
        ev = self.events
        n = len(ev)
        book = self.book.copy()
        ids = self.accounts.ids
        st = {a: TradingState(states.get(a, TradingState.ACTIVE)) for a in ids}
        batch = Batch(start=self.cursor, end=self.cursor, book=book, states=st,
                      alert_states=dict(self.alert_states),
                      open_alerts={a: list(v) for a, v in self.open_alerts.items()},
                      updates=dict(self.updates), last_update=dict(self.last_update))
        if self.cursor >= n:
            batch.stop = "end"
            return batch
        started = time.perf_counter()
        ts, kind, acc, ins = ev.ts, ev.kind, ev.account, ev.instrument
        qty, px, fee, last = ev.quantity, ev.price, ev.fees, ev.last_of_time
        ts_list = ts.tolist()
        affected: set[int] = set()
        dirty_cells: set[tuple[int, int]] = set()
        dirty_marks: set[int] = set()
        updated: set[int] = set()
        n_eod = len(book.eod_days)
        day = None if book.time is None else book.time // NS_PER_DAY
        k = self.cursor
        while k < n:
            t = ts_list[k]
            if k == self.cursor or last[k - 1]:
                # the first event of an event time: limits and pacing are checked here
                if until_ns is not None and t > until_ns:
                    batch.stop = "until"
                    break
                if k > self.cursor:
                    if k - self.cursor >= max_events:
                        batch.stop = "events"
                        break
                    if time.perf_counter() - started >= max_seconds:
                        batch.stop = "seconds"
                        break
                if due is not None:
                    at = due(t)
                    if at is not None and at > time.monotonic():
                        batch.stop, batch.resume_at = "wait", at
                        break
            if t // NS_PER_DAY != day:
                day = t // NS_PER_DAY
                affected.update(range(len(ids)))
            a, i = acc[k], ins[k]
            if kind[k] == 0:
                account_id = ids[a]
                state = st[account_id]
                position = float(book.quantity[a, i])
                check = check_trade(state, position=position, quantity=qty[k])
                if check.accepted:
                    realized = book.apply_trade(a, instrument=i, quantity=qty[k], price=px[k],
                                                fees=fee[k], ts=t)
                    dirty_cells.add((a, i))
                    affected.add(a)
                    batch.applied += 1
                    batch.trades.append((ev.trade_id[k], account_id, t, book.instruments[i],
                                         ev.side[k], abs(qty[k]), px[k], fee[k], "applied",
                                         realized, state.value, None, k))
                else:
                    book.advance(t)
                    batch.rejected += 1
                    batch.trades.append((ev.trade_id[k], account_id, t, book.instruments[i],
                                         ev.side[k], abs(qty[k]), px[k], fee[k], "rejected",
                                         None, state.value, check.reason, k))
            else:
                book.set_price(i, price=px[k], ts=t)
                dirty_marks.add(i)
                affected.update(np.flatnonzero(book.quantity[:, i]).tolist())
            if len(book.eod_days) > n_eod:
                for d, eq in zip(book.eod_days[n_eod:], book.eod_equity[n_eod:]):
                    day_ts = pd.Timestamp(d * NS_PER_DAY, unit="ns").date()
                    batch.eod += [(day_ts, ids[j], float(book.prev_day_pl[j]), float(eq[j]))
                                  for j in range(len(ids))]
                n_eod = len(book.eod_days)
            k += 1
            if last[k - 1]:
                for j in sorted(affected):
                    self._update(batch, j, ts=t, event_index=k)
                    updated.add(j)
                affected.clear()
                self._escalate(batch, now=naive_utc(t))
        batch.end = k
        batch.cursor_ns = book.time
        if k >= n and batch.stop not in ("until",):
            batch.stop = "end"
        batch.positions = [(ids[a], book.instruments[i], float(book.quantity[a, i]),
                            float(book.avg_cost[a, i]), float(book.realized[a, i]))
                           for a, i in sorted(dirty_cells)]
        batch.marks = [(book.instruments[i], float(book.mark[i])) for i in sorted(dirty_marks)]
        batch.account_state = [(ids[j], alert_state_json(batch.alert_states[ids[j]]),
                                batch.updates[ids[j]], batch.last_update.get(ids[j]))
                               for j in sorted(updated)]
        return batch

    def _update(self, batch: Batch, j: int, *, ts: int, event_index: int) -> None:
        """One risk update of account ``j`` at event time ``ts`` (module docstring)."""
        book, cfg = batch.book, self.config
        account_id = self.accounts.ids[j]
        at = naive_utc(ts)
        snap = book.snapshot(j)
        values = book.values(j)
        window = self.window(ts // NS_PER_DAY)
        risk: AccountRisk = assess_risk(
            snap, values=values, instruments=book.instruments, limits=self._limits[j],
            var=var_95(values, window=window),
            correlation=exposure_correlation(values, window=window),
            state=batch.states[account_id], config=cfg.risk)
        state = circuit_breaker_state(risk.trading_state, breaches=risk.risk_limit_breaches,
                                      rule=cfg.circuit_breaker)
        if state != risk.trading_state:
            tripped = sorted({b.limit for b in risk.risk_limit_breaches
                              if b.limit in cfg.circuit_breaker.limits})
            batch.state_changes.append(StateChange(
                account_id=account_id, old_state=risk.trading_state.value, new_state=state.value,
                reason=f"circuit breaker: {', '.join(tripped)} breached", event_ns=ts))
            batch.states[account_id] = state
            risk = risk.model_copy(update={"trading_state": state})
        alert_state, new = evaluate_alerts(batch.alert_states[account_id], account_id=account_id,
                                           risk=risk, at=at, config=cfg.alerts)
        batch.alert_states[account_id] = alert_state
        for alert in new:
            alert = alert.model_copy(update={"alert_id": self._alert_id(alert.alert_id)})
            batch.alerts.append(alert)
            if alert.severity != "info":
                batch.open_alerts[account_id].append(alert)
        pl = snap.pl
        batch.pl.append((account_id, event_index, ts, pl.total_pl, pl.unrealized_pl,
                         pl.realized_pl, pl.daily_pl, pl.market_value, snap.total_exposure,
                         snap.equity, pl.position_count))
        batch.risk.append((account_id, event_index, ts, risk.risk_score, risk.risk_level,
                           risk.trading_state.value, risk.model_dump_json()))
        batch.updates[account_id] += 1
        batch.last_update[account_id] = ts

    def _alert_id(self, core_id: str) -> str:
        return hashlib.sha256(f"{self.session_id}:{core_id}".encode()).hexdigest()[:16]

    def _escalate(self, batch: Batch, *, now: datetime) -> None:
        after = self.config.alerts.escalate_after
        for account_id, open_ in batch.open_alerts.items():
            if open_ and now - open_[0].triggered_at >= after:
                up = escalate(open_, now=now, config=self.config.alerts)
                if up:
                    done = {x.alert_id for x in up}
                    batch.escalations.extend(up)
                    batch.open_alerts[account_id] = [x for x in open_ if x.alert_id not in done]

    def accept(self, batch: Batch) -> None:
        """Make a stored batch part of the replay (its state becomes the replay's)."""
        if batch.start != self.cursor:
            raise InputError(f"batch starts at event {batch.start}, the replay is at "
                             f"{self.cursor}")
        self.book = batch.book  # type: ignore[assignment]
        self.cursor = batch.end
        self.alert_states = batch.alert_states
        self.open_alerts = batch.open_alerts
        self.updates = batch.updates
        self.last_update = batch.last_update

