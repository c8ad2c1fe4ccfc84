"""The live risk desk over HTTP: the trading risk service's paths, and a WebSocket per account
(``/ws/risk/{account_id}``) streaming risk and P&L updates and alert notifications.

Every figure comes from :mod:`engine.live.workflow`; the endpoints compute nothing. The JSON is
the engine models' (the same as ``stresslab live status --json``: an infinite ratio is ``null``).
Times are naive UTC; ``as_of`` and event times are the replayed feed's times.

| path | role | answer |
|---|---|---|
| ``GET /api/v1/risk/{account_id}/metrics`` | any | the ``risk`` panel (:class:`AccountRisk`) |
| ``GET /api/v1/risk/{account_id}/trends?limit=`` | any | :class:`RiskTrends` |
| ``GET /api/v1/portfolio/{account_id}/analytics`` | any | the ``portfolio`` panel |
| ``GET /api/v1/portfolio/{account_id}/performance`` | any | :class:`PortfolioPerformance` |
| ``GET /api/v1/pl/{account_id}/current`` | any | the ``pl`` panel (:class:`PLSnapshot`) |
| ``GET /api/v1/pl/{account_id}/history?hours=`` | any | :class:`PLHistory` (feed hours) |
| ``GET /api/v1/alerts/active?account_id=`` | any | ``{total_active_alerts, alerts}`` |
| ``POST /api/v1/alerts/{alert_id}/acknowledge`` | analyst | :class:`AlertAcknowledged` |
| ``GET /api/v1/compliance/{account_id}/summary`` | any | :class:`ComplianceSummary` |
| ``POST /api/v1/compliance/{account_id}/check`` | analyst | :class:`ComplianceSummary` |
| ``GET /api/v1/system/performance`` | any | :class:`SystemPerformance` |
| ``POST /api/v1/system/emergency/kill-switch/{account_id}?reason=`` | admin | StateChanged |
| ``POST /api/v1/system/emergency/resume/{account_id}`` | admin | StateChanged |

``admin`` may do everything. The token's user is recorded as who acknowledged, checked, halted
or resumed. An unknown account is 404.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from engine.api._deps import close_code, close_reason, get_store, require_action, socket_caller
from engine.api._errors import error_body
from engine.canonical import canonical
from engine.errors import (
    StoreBusyError,
    StressLabError,
)
from engine.live import workflow as live
from engine.live._analytics import PortfolioAnalytics
from engine.live._positions import PLSnapshot
from engine.live._risk import AccountRisk
from engine.store import Store

__all__ = ["router", "socket_router", "POLL_SECONDS", "ALERT_WINDOW"]

router = APIRouter(prefix="/api/v1", tags=["risk desk"])
socket_router = APIRouter(tags=["risk desk"])

#: How often a risk socket reads the account again, s.
POLL_SECONDS = 0.5
#: The newest alerts of the account a risk socket watches for new ones and for changes.
ALERT_WINDOW = 500

_read = require_action("read")
_acknowledge = require_action("acknowledge_alert")
_check = require_action("run_compliance")
_kill = require_action("kill_switch")  # the kill switch and resuming an account alike

AccountId = Annotated[str, Path(min_length=1, max_length=128, description="The account's id.")]


# --------------------------------------------------------------------------- risk

@router.get("/risk/{account_id}/metrics", response_model=AccountRisk,
            summary="The account's risk panel")
def risk_metrics(account_id: AccountId, *, _: Any = Depends(_read),
                 store: Store = Depends(get_store)) -> AccountRisk:
    """The last risk update (score, level, its six components, exposure, leverage, margin,
    var_95, correlation, breaches) with the trading state of now: ``stresslab live status
    --json``'s ``risk``."""
    return live.status(account_id, store=store).risk


@router.get("/risk/{account_id}/trends", response_model=live.RiskTrends,
            summary="The account's risk score, VaR and exposure over time")
def risk_trends(account_id: AccountId, *,
                limit: int = Query(500, ge=1, le=100_000,
                                   description="The last this many risk updates."),
                _: Any = Depends(_read), store: Store = Depends(get_store)) -> live.RiskTrends:
    """The last ``limit`` risk updates, oldest first, each at its event time."""
    return live.risk_trends(account_id, limit=limit, store=store)


# --------------------------------------------------------------------------- portfolio

@router.get("/portfolio/{account_id}/analytics", response_model=PortfolioAnalytics,
            summary="The account's portfolio panel")
def portfolio_analytics(account_id: AccountId, *, _: Any = Depends(_read),
                        store: Store = Depends(get_store)) -> PortfolioAnalytics:
    """Total value, daily return, Sharpe ratio, volatility, max drawdown, positions and the
    attribution by instrument and sector: ``stresslab live status --json``'s ``portfolio``."""
    return live.status(account_id, store=store).portfolio


@router.get("/portfolio/{account_id}/performance", response_model=live.PortfolioPerformance,
            summary="The account's returns, Sharpe ratio, volatility, drawdown and equity curve")
def portfolio_performance(account_id: AccountId, *, _: Any = Depends(_read),
                          store: Store = Depends(get_store)) -> live.PortfolioPerformance:
    """The portfolio panel's figures (quantstats/empyrical definitions, 252 periods a year, risk
    free rate 0) with the total return since the initial capital, the number of daily returns
    behind them and the equity curve (each closed UTC day, then now)."""
    return live.portfolio_performance(account_id, store=store)


# --------------------------------------------------------------------------- P&L

@router.get("/pl/{account_id}/current", response_model=PLSnapshot,
            summary="The account's P&L panel")
def pl_current(account_id: AccountId, *, _: Any = Depends(_read),
               store: Store = Depends(get_store)) -> PLSnapshot:
    """Total, realized, unrealized and daily P&L, positions and market value at the session's
    last event: ``stresslab live status --json``'s ``pl``."""
    return live.status(account_id, store=store).pl


@router.get("/pl/{account_id}/history", response_model=live.PLHistory,
            summary="The account's P&L updates in the last hours of feed time")
def pl_history(account_id: AccountId, *,
               hours: int = Query(24, ge=1, le=live.MAX_PL_HOURS,
                                  description="Hours of FEED time before the session's last "
                                              "event (1 to 8,760)."),
               _: Any = Depends(_read), store: Store = Depends(get_store)) -> live.PLHistory:
    """The P&L updates with ``as_of - hours <= event_at <= as_of``, oldest first, where
    ``as_of`` is the time of the session's last processed event: feed time, not the wall
    clock, so a replay of 2022 answers with 2022's last hours."""
    return live.pl_history(account_id, hours=hours, store=store)


# --------------------------------------------------------------------------- alerts

@router.get("/alerts/active", response_model=live.ActiveAlerts,
            summary="Unacknowledged alerts, newest first")
def alerts_active(account_id: str | None = Query(None, min_length=1, max_length=128,
                                                 description="Only this account's."), *,
                  limit: int = Query(500, ge=1, le=10_000,
                                     description="List at most this many (the total counts "
                                                 "all)."),
                  _: Any = Depends(_read), store: Store = Depends(get_store)) -> live.ActiveAlerts:
    """``total_active_alerts`` and the alerts (``alert_id, account_id, alert_type, severity,
    title, message, risk_score, triggered_at, is_acknowledged``, and acknowledgement and
    escalation fields)."""
    return live.active_alerts(account_id=account_id, limit=limit, store=store)


@router.post("/alerts/{alert_id}/acknowledge", response_model=live.AlertAcknowledged,
             summary="Acknowledge an alert")
def alert_acknowledge(body: live.AlertAckBody, *,
                      alert_id: Annotated[str, Path(min_length=1, max_length=64)],
                      principal: Any = Depends(_acknowledge),
                      store: Store = Depends(get_store)) -> live.AlertAcknowledged:
    """Recorded as acknowledged by the token's user. ``acknowledged_by`` is accepted for
    compatibility; a name other than the token's user is kept in the note
    (``acknowledged_by given as '…'``). An alert already acknowledged is 422, saying by whom."""
    return live.acknowledge(body.request(alert_id, user=principal.user), store=store)


# --------------------------------------------------------------------------- compliance

@router.get("/compliance/{account_id}/summary", response_model=live.ComplianceSummary,
            summary="The account's latest compliance check")
def compliance_summary(account_id: AccountId, *, _: Any = Depends(_read),
                       store: Store = Depends(get_store)) -> live.ComplianceSummary:
    """Compliant or not, each rule's measured value and status, when and by whom; without a
    stored check, ``check_id`` and ``compliant`` are null."""
    return live.compliance_summary(account_id, store=store)


@router.post("/compliance/{account_id}/check", response_model=live.ComplianceSummary,
             summary="Check the account against the compliance rules (stored)")
def compliance_check(body: live.ComplianceCheckBody, *, account_id: AccountId,
                     principal: Any = Depends(_check),
                     store: Store = Depends(get_store)) -> live.ComplianceSummary:
    """Checks the account at its session's last event against the shipped rules of the named
    regulations (all by default), stores the check (audited, a run requested by the token's
    user) and answers it as stored, as ``GET …/summary`` will."""
    done = live.compliance_check(body.request(account_id, user=principal.user), store=store)
    return live.compliance_summary(account_id, check_id=done.check_id, store=store)


# --------------------------------------------------------------------------- system

@router.get("/system/performance", response_model=live.SystemPerformance,
            summary="Replay sessions' progress and throughput, alerts, store latency")
def system_performance(*, _: Any = Depends(_read),
                       store: Store = Depends(get_store)) -> live.SystemPerformance:
    return live.system_performance(store=store)


@router.post("/system/emergency/kill-switch/{account_id}", response_model=live.StateChanged,
             summary="Halt an account (admin only)")
def kill_switch(account_id: AccountId, *,
                reason: str = Query(..., min_length=1, max_length=2000,
                                    description="Why; kept with the change and in the audit "
                                                "trail."),
                reduce_only: bool = Query(False, description="REDUCING instead of HALTED: only "
                                                             "trades that reduce a position "
                                                             "pass."),
                principal: Any = Depends(_kill),
                store: Store = Depends(get_store)) -> live.StateChanged:
    """Every later trade of the account is rejected, in every replay, running or to come
    (REDUCING: every trade that does not reduce a position). Recorded as done by the token's
    user. An account already in that state is 422."""
    request = live.KillSwitchRequest.build(
        account_id=account_id, reason=reason, by=principal.user,
        state="REDUCING" if reduce_only else "HALTED").asked_by(principal.user)
    return live.kill_switch(request, store=store)


@router.post("/system/emergency/resume/{account_id}", response_model=live.StateChanged,
             summary="Set a halted or reducing account ACTIVE again (admin only)")
def resume(account_id: AccountId, *,
           reason: str | None = Query(None, min_length=1, max_length=2000,
                                      description="Why (default 'resumed')."),
           principal: Any = Depends(_kill),
           store: Store = Depends(get_store)) -> live.StateChanged:
    """Recorded as done by the token's user. An account already ACTIVE is 422."""
    fields: dict[str, Any] = {"account_id": account_id, "by": principal.user}
    if reason is not None:
        fields["reason"] = reason
    return live.resume(live.ResumeRequest.build(**fields).asked_by(principal.user), store=store)


# --------------------------------------------------------------------------- the socket

class _Watch:
    """What a risk socket has sent: the risk and P&L panels and the watched alerts, as JSON."""

    def __init__(self, status: live.AccountStatus, alerts: live.AlertList) -> None:
        panels = status.panels()
        self.risk, self.pl = panels["risk"], panels["pl"]
        self.alerts = {a["alert_id"]: canonical(a) for a in alerts.alerts}

    def changes(self, status: live.AccountStatus,
                alerts: live.AlertList) -> list[tuple[str, dict[str, Any]]]:
        """``(type, data)`` of what differs from what was sent, and remember it: ``risk`` and
        ``pl`` when their panel changed, ``alert`` for each alert that is new or changed
        (acknowledged, escalated), oldest first."""
        out: list[tuple[str, dict[str, Any]]] = []
        panels = status.panels()
        if panels["risk"] != self.risk:
            self.risk = panels["risk"]
            out.append(("risk", self.risk))
        if panels["pl"] != self.pl:
            self.pl = panels["pl"]
            out.append(("pl", self.pl))
        for alert in reversed(alerts.alerts):
            data = canonical(alert)
            if self.alerts.get(alert["alert_id"]) != data:
                self.alerts[alert["alert_id"]] = data
                out.append(("alert", data))
        return out


def _message(kind: str, status: live.AccountStatus, data: Any) -> dict[str, Any]:
    return canonical({"type": kind, "account_id": status.account_id,
                      "session_id": status.session_id, "as_of": status.as_of, "data": data})


def _read_account(account_id: str, store: Store) -> tuple[live.AccountStatus, live.AlertList]:
    return (live.status(account_id, store=store),
            live.alerts(account_id=account_id, include_acknowledged=True, limit=ALERT_WINDOW,
                        store=store))


async def _refuse(websocket: WebSocket, *, exc: BaseException, account_id: str) -> None:
    _, body, _ = error_body(exc)
    await websocket.send_json({"type": "error", "account_id": account_id,
                               "data": {"error": body["error"], "message": body["message"]}})
    await websocket.close(code=close_code(exc), reason=close_reason(body["message"]))


@socket_router.websocket("/ws/risk/{account_id}")
async def risk_socket(websocket: WebSocket, *, account_id: str,
                      token: str | None = Query(None)) -> None:
    """An account's risk desk, live: ``{type, account_id, session_id, as_of, data}`` messages.

    1. ``snapshot``: ``data`` = ``{risk, pl, portfolio, total_active_alerts, alerts}`` (the
       three panels and ``GET /api/v1/alerts/active?account_id=…``);
    2. then, every :data:`POLL_SECONDS` (0.5 s), for what changed since: ``risk`` (the risk
       panel: a new update, or a kill switch or resume), ``pl`` (the P&L panel) and one
       ``alert`` per alert raised, acknowledged or escalated (the alert's fields), oldest first.

    The socket runs until the client closes it. The token goes in ``Authorization: Bearer …``
    or, for browsers, in ``?token=``; any role may follow. Refusals send one ``{type: "error",
    data: {error, message}}`` and close with 4401 (no or bad token), 4403 (role), 4404 (no
    replay holds the account, or it has no update yet) or 1013 (the store stays busy). A poll
    that finds the store busy is skipped.
    """
    from engine.auth import authorize_action

    store = websocket.app.state.store
    await websocket.accept()
    try:
        principal = await socket_caller(websocket, token=token)
        authorize_action(principal, "read")
        status, alerts = await run_in_threadpool(_read_account, account_id, store)
        active = await run_in_threadpool(live.active_alerts, account_id=account_id, store=store)
    except StressLabError as exc:
        await _refuse(websocket, exc=exc, account_id=account_id)
        return
    watch = _Watch(status, alerts)
    loop = asyncio.get_running_loop()
    # the client's messages are read all along, so that its leaving ends the socket even when
    # nothing changes; what it sends is ignored
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        await websocket.send_json(_message("snapshot", status, {
            **status.panels(), "total_active_alerts": active.total_active_alerts,
            "alerts": active.alerts}))
        next_poll = loop.time() + POLL_SECONDS
        while True:
            done, _ = await asyncio.wait({receiver}, timeout=max(0.0, next_poll - loop.time()))
            if receiver in done:
                if receiver.result()["type"] == "websocket.disconnect":
                    return
                receiver = asyncio.ensure_future(websocket.receive())
                continue
            next_poll = loop.time() + POLL_SECONDS
            try:
                status, alerts = await run_in_threadpool(_read_account, account_id, store)
            except StoreBusyError:
                continue
            for kind, data in watch.changes(status, alerts):
                await websocket.send_json(_message(kind, status, data))
    except WebSocketDisconnect:
        return
    except StressLabError as exc:  # not expected: the account was found at the start
        await _refuse(websocket, exc=exc, account_id=account_id)
    finally:
        receiver.cancel()
