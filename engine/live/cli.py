"""``stresslab live replay|status|alerts|ack|kill-switch|resume``, ``stresslab compliance check``.

Each handler parses its arguments into a request of :mod:`engine.live.workflow`, calls the
workflow and prints. Heavy libraries are imported inside the handlers so that ``stresslab
--help`` stays fast. Bad input raises :class:`~engine.errors.InputError` (exit 2).

``live replay`` pauses cleanly on the first Ctrl-C (the batch it is computing is stored, and the
next replay of the same inputs goes on from there); a second Ctrl-C stops at once (the replay
still resumes after the last stored batch).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register"]


def _json(payload: Any) -> str:
    from engine.canonical import canonical

    return json.dumps(canonical(payload), indent=2, ensure_ascii=False)


def _money(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def _cmd_replay(args: argparse.Namespace) -> int:
    import signal
    import threading
    import time

    from engine.live.workflow import EXAMPLE_NOTE, ReplayRequest, replay

    request = ReplayRequest.build(
        trades=args.trades, prices=args.prices, accounts=args.accounts, example=args.example,
        speed=args.speed, until=args.until)
    if request.example and not args.json:
        print(f"note: {EXAMPLE_NOTE}", file=sys.stderr)
    stop = threading.Event()
    last = [0.0]

    def on_sigint(signum, frame):  # noqa: ARG001 - signal handler signature
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("pausing after the current batch (Ctrl-C again to stop at once)", file=sys.stderr)

    def show(p) -> None:
        now = time.monotonic()
        if args.json or (now - last[0] < 1.0 and p.status == "running"):
            return
        last[0] = now
        print(f"  {p.events_done:,}/{p.events_total:,} events ({p.fraction:.0%}), as of "
              f"{p.as_of or '-'}: {p.trades_applied:,} trades applied, {p.trades_rejected:,} "
              f"rejected, {p.alerts_raised:,} alerts [{p.status}]", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_sigint) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        result = replay(request, progress=show, stop=stop)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        print(_json(result.model_dump()))
        return 0
    print(f"session {result.session_id} ({'resumed' if result.resumed else 'new'}): "
          f"{result.status} at event {result.events_done:,} of {result.events_total:,}, as of "
          f"{result.as_of or '-'}")
    print(f"this run: {result.events_processed:,} events, {result.trades_applied:,} trades "
          f"applied, {result.trades_rejected:,} rejected, {result.alerts_raised:,} alerts, "
          f"{result.elapsed:.1f} s")
    if result.run_id:
        print(f"recorded as run {result.run_id}")
    if result.synthetic_trades:
        print("the trades are SYNTHETIC (data/live/PROVENANCE.md); the prices are real")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from engine.live.workflow import status

    s = status(args.account)
    if args.json:
        print(_json(s.panels()))
        return 0
    r, pl, pf = s.risk, s.pl, s.portfolio
    lines = [f"account {s.account_id} (session {s.session_id}, as of {s.as_of}"
             + (", synthetic trades" if s.synthetic_trades else "") + ")",
             f"risk: score {r.risk_score:.1f} ({r.risk_level}), state {r.trading_state.value}, "
             f"exposure {_money(r.total_exposure)}, leverage {r.current_leverage:.2f}, margin "
             f"{r.margin_utilization:.1%}, VaR 95 % {_money(r.var_95)}, "
             f"{r.instrument_count} instruments",
             "  components: " + ", ".join(f"{k} {v:.1f}" for k, v in r.risk_components.items()),
             "  breaches: " + (", ".join(b.limit + (f" {b.instrument}" if b.instrument else "")
                                         for b in r.risk_limit_breaches) or "none"),
             f"pl: total {_money(pl.total_pl)} (realized {_money(pl.realized_pl)}, unrealized "
             f"{_money(pl.unrealized_pl)}), daily {_money(pl.daily_pl)}, market value "
             f"{_money(pl.market_value)}, {pl.position_count} positions",
             f"portfolio: value {_money(pf.total_value)}, daily return "
             f"{'n/a' if pf.daily_return is None else f'{pf.daily_return:.2%}'}, Sharpe "
             f"{'n/a' if pf.sharpe_ratio is None else f'{pf.sharpe_ratio:.2f}'}, volatility "
             f"{'n/a' if pf.volatility is None else f'{pf.volatility:.1%}'}, max drawdown "
             f"{pf.max_drawdown:.1%}"]
    print("\n".join(lines))
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    from engine.live.workflow import alerts

    found = alerts(account_id=args.account, include_acknowledged=args.all, limit=args.limit)
    if args.json:
        print(_json(list(found.alerts)))
        return 0
    if not found.alerts:
        print("no alerts" if args.all else "no unacknowledged alerts (--all lists every alert)")
        return 0
    for a in found.alerts:
        ack = (f" ack by {a['acknowledged_by']} {a['acknowledged_at']:%Y-%m-%d %H:%M}"
               if a["is_acknowledged"] else "")
        esc = " ESCALATED" if a["escalated_at"] else ""
        print(f"{a['alert_id']}  {a['triggered_at']}  {a['account_id']:<10} "
              f"{a['severity']:<8}{esc} {a['title']} (score {a['risk_score']:.1f}){ack}")
    return 0


def _cmd_ack(args: argparse.Namespace) -> int:
    from engine.live.workflow import AckRequest, acknowledge

    done = acknowledge(AckRequest.build(alert_id=args.alert_id, by=args.by, note=args.note))
    print(f"alert {done.alert_id} acknowledged by {done.acknowledged_by} at "
          f"{done.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC (audit record {done.audit_seq})")
    return 0


def _cmd_kill(args: argparse.Namespace) -> int:
    from engine.live.workflow import KillSwitchRequest, kill_switch

    done = kill_switch(KillSwitchRequest.build(
        account_id=args.account, reason=args.reason, by=args.by,
        state="REDUCING" if args.reduce_only else "HALTED"))
    print(f"account {done.account_id}: {done.old_state} -> {done.new_state} by {done.by} "
          f"({done.reason}); audit record {done.audit_seq}")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from engine.live.workflow import ResumeRequest, resume

    fields = {"account_id": args.account, "by": args.by}
    if args.reason:
        fields["reason"] = args.reason
    done = resume(ResumeRequest.build(**fields))
    print(f"account {done.account_id}: {done.old_state} -> {done.new_state} by {done.by}; "
          f"audit record {done.audit_seq}")
    return 0


def _cmd_compliance(args: argparse.Namespace) -> int:
    from engine.live.workflow import ComplianceRequest, compliance_check

    regs = tuple(r.strip() for r in args.regulations.split(",") if r.strip()) \
        if args.regulations else None
    done = compliance_check(ComplianceRequest.build(account_id=args.account, regulations=regs,
                                                    rules=args.rules))
    report = done.report
    if args.json:
        print(_json({"check_id": done.check_id, "run_id": done.run_id,
                     "account_id": report.account_id, "as_of": report.as_of,
                     "compliant": report.compliant,
                     "results": [r.model_dump() for r in report.results]}))
        return 0
    print(f"account {report.account_id} as of {report.as_of}: "
          f"{'COMPLIANT' if report.compliant else f'NON-COMPLIANT ({report.non_compliant} rules)'}")
    for r in report.results:
        value = "n/a" if r.value is None else f"{r.value:,.6g}"
        print(f"  {r.status:<15} {r.rule_id:<36} {value:>14} {r.comparison} {r.threshold:,.6g} "
              f"{r.unit}  [{r.source}]")
    print(f"recorded as check {done.check_id}, run {done.run_id}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``live`` and ``compliance`` to the ``stresslab`` command."""
    live = subparsers.add_parser("live", help="the live risk desk: replay, status, alerts, "
                                              "kill switch")
    sub = live.add_subparsers(dest="live_command", metavar="ACTION", required=True)

    p = sub.add_parser("replay", help="replay trades and prices through the desk (resumable)",
                       description="Replay a trade blotter and a price feed through the desk's "
                                   "book, in time order (trades before prices at equal times). "
                                   "Run it again with the same inputs to go on after the last "
                                   "stored event; Ctrl-C pauses.")
    p.add_argument("--trades", help="trade blotter (CSV, .csv.gz or Parquet)")
    p.add_argument("--prices", help="price feed: timestamp, instrument, price; or a wide daily "
                                    "table")
    p.add_argument("--accounts", help="accounts YAML")
    p.add_argument("--example", action="store_true",
                   help="the bundled example: real S&P 500 closes, SYNTHETIC trades")
    p.add_argument("--speed", type=float, help="feed time per wall-clock time (86400: a day a "
                                               "second); default as fast as possible")
    p.add_argument("--until", help="stop after the events at or before this ISO 8601 time "
                                   "(UTC unless it has an offset; a date is its midnight)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser("status", help="an account's risk, P&L and portfolio panels")
    p.add_argument("--account", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("alerts", help="alerts, newest first (unacknowledged unless --all)")
    p.add_argument("--account")
    p.add_argument("--all", action="store_true", help="acknowledged alerts too")
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_alerts)

    p = sub.add_parser("ack", help="acknowledge an alert")
    p.add_argument("alert_id")
    p.add_argument("--by", required=True, help="who acknowledges it")
    p.add_argument("--note")
    p.set_defaults(func=_cmd_ack)

    p = sub.add_parser("kill-switch", help="halt an account: its later trades are rejected")
    p.add_argument("account")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True)
    p.add_argument("--reduce-only", action="store_true",
                   help="REDUCING instead of HALTED: only trades that reduce a position pass")
    p.set_defaults(func=_cmd_kill)

    p = sub.add_parser("resume", help="set a halted or reducing account ACTIVE again")
    p.add_argument("account")
    p.add_argument("--by", required=True)
    p.add_argument("--reason")
    p.set_defaults(func=_cmd_resume)

    comp = subparsers.add_parser("compliance", help="compliance checks of live-desk accounts")
    csub = comp.add_subparsers(dest="compliance_command", metavar="ACTION", required=True)
    p = csub.add_parser("check", help="check an account against the compliance rules (stored)")
    p.add_argument("account")
    p.add_argument("--regulations", help="comma-separated groups: mifid_ii,cftc,finra,sec,custom "
                                         "(default all)")
    p.add_argument("--rules", help="a rules YAML (default data/live/compliance.yaml)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_compliance)
