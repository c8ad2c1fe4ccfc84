"""``stresslab var | backtest | limits evaluate | audit verify|export | metrics serve``.

Heavy libraries (pandas, scipy, prometheus_client) are imported inside the handlers so that
``stresslab --help`` stays fast. Bad input raises :class:`~engine.errors.InputError` (exit 2);
``audit verify`` exits 1 with the first bad sequence number when the chain is broken.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

__all__ = ["register", "utc_now"]

METHOD_CHOICES = ("historical", "parametric", "cornish_fisher", "monte_carlo")


def utc_now() -> datetime:
    """The wall clock as naive UTC (see :func:`engine.market.records.utc_now`)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _emit(args: argparse.Namespace, payload: dict, text: str) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(text)


def _prices(args: argparse.Namespace):
    from engine.market.data_io import load_bundled_prices, read_prices_csv

    prices = read_prices_csv(args.prices) if args.prices else load_bundled_prices()
    return prices


def _window_prices(prices, start, end):
    import pandas as pd

    from engine.errors import InputError

    out = prices.loc[pd.Timestamp(start) if start else None: pd.Timestamp(end) if end else None]
    if len(out) < 3:
        raise InputError(f"fewer than three prices between {start} and {end}")
    return out


def _values(args: argparse.Namespace, prices):
    """Position values (currency) from --positions, --weights or --column."""
    import pandas as pd

    from engine.market.data_io import (
        load_default_positions,
        position_values,
        read_positions_csv,
    )

    instruments = list(map(str, prices.columns))
    if getattr(args, "column", None):
        from engine.errors import InputError

        if args.column not in instruments:
            raise InputError(f"column {args.column!r} is not in the prices; choose one of "
                             f"{', '.join(instruments)}")
        return pd.Series([args.notional], index=[args.column])
    if getattr(args, "weights", None):
        pos = read_positions_csv(args.weights, instruments=instruments, subject="weights file")
    elif getattr(args, "positions", None):
        pos = read_positions_csv(args.positions, instruments=instruments)
    else:
        pos = load_default_positions()
    return position_values(pos, prices, notional=args.notional)


def _cmd_var(args: argparse.Namespace) -> int:
    from engine.market.data_io import simple_returns
    from engine.market.var import compare_methods

    prices = _window_prices(_prices(args), args.start, args.end)
    values = _values(args, prices)
    rets = simple_returns(prices[list(values.index)])
    if args.window:
        from engine.errors import InputError

        if args.window > len(rets):
            raise InputError(f"window of {args.window} days is longer than the history "
                             f"({len(rets)} returns)")
        rets = rets.iloc[-args.window:]
    methods = METHOD_CHOICES if args.method == "all" else (args.method,)
    report = compare_methods(rets, values, confidences=args.confidence,
                             es_confidence=args.es_confidence, horizon_days=args.horizon,
                             methods=methods, n_sims=args.sims, seed=args.seed,
                             mc_kind=args.mc_kind)
    _emit(args, report.model_dump(), report.to_frame().round(2).to_string())
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from engine.market.backtest import backtest
    from engine.market.data_io import loss_series, position_values, read_positions_csv

    prices = _prices(args)
    weights = None
    if args.weights:
        pos = read_positions_csv(args.weights, instruments=list(map(str, prices.columns)),
                                 subject="weights file")
        weights = position_values(pos, prices, notional=1.0)
    column = args.column
    if column is None and weights is None and not args.prices:
        column = "SP500"
    losses = loss_series(prices, column=column, weights=weights)
    run = backtest(losses, confidence=args.confidence, window=args.window, method=args.method,
                   start=args.start, end=args.end, n_sims=args.sims, seed=args.seed)
    r = run.result
    text = (f"{r.method} VaR {r.confidence:g}, window {r.window}: {r.start} … {r.end}\n"
            f"observations {r.observations}, exceptions {r.exceptions} "
            f"(expected {r.expected_exceptions:.1f})\n"
            f"Kupiec POF LR {r.kupiec_lr:.4f} p {r.kupiec_p_value:.4f}; Christoffersen "
            f"independence LR {r.christoffersen_lr_ind:.4f} p {r.christoffersen_p_value:.4f}; "
            f"conditional coverage LR {r.christoffersen_lr_cc:.4f} p "
            f"{r.christoffersen_cc_p_value:.4f}\n"
            f"traffic light {r.traffic_light} (plus-factor {r.plus_factor:.2f}, multiplier "
            f"{r.multiplier:.2f})")
    _emit(args, r.model_dump(), text)
    return 0


def _load_config(path: str | None):
    from engine.market.limits import load_default_limits, load_limits

    return load_limits(path) if path else load_default_limits()


def _cmd_limits_evaluate(args: argparse.Namespace) -> int:
    from engine.market.data_io import read_positions_csv
    from engine.market.enforcement import evaluate
    from engine.market.records import current_mode, record_evaluation, sensor_statuses
    from engine.market.sensors import compute_snapshot
    from engine.store import connect

    config = _load_config(args.limits)
    prices = _prices(args)
    instruments = list(map(str, prices.columns))
    from engine.market.data_io import load_default_positions

    positions = (read_positions_csv(args.positions, instruments=instruments) if args.positions
                 else load_default_positions())
    previous = (read_positions_csv(args.previous_positions, instruments=instruments,
                                   subject="previous positions file")
                if args.previous_positions else None)
    snapshot = compute_snapshot(prices, positions, config, as_of=args.as_of,
                                previous_positions=previous, notional=args.notional)
    now = utc_now()
    con = connect()
    try:
        mode = args.mode or current_mode(con, default=config.mode)
        statuses = {s.sensor: s.status for s in sensor_statuses(con, config, as_of=now)}
        evaluation = evaluate(snapshot, config, mode=mode, statuses=statuses)
        eval_id = record_evaluation(con, evaluation, snapshot, timestamp=now)
    finally:
        con.close()
    payload = {"evaluation_id": eval_id, **evaluation.model_dump(), "snapshot": snapshot.model_dump()}
    lines = [f"{evaluation.as_of} mode {evaluation.mode}: action {evaluation.action}"
             f" ({evaluation.reason})"]
    lines += [f"  {d.sensor:22s} {d.rule:18s} {d.action:16s} {d.reason}"
              for d in evaluation.decisions]
    _emit(args, payload, "\n".join(lines))
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from engine.audit.chain import head, verify
    from engine.store import connect

    con = connect()
    try:
        bad = verify(con)
        n = con.execute("SELECT count(*) FROM audit_chain").fetchone()[0]
        top = head(con)
    finally:
        con.close()
    payload = {"ok": bad is None, "records": int(n), "first_bad_seq": bad,
               "head_seq": top[0] if top else None, "head_hash": top[1] if top else None}
    text = (f"audit chain intact: {n} records" if bad is None
            else f"audit chain broken: first bad record is seq {bad} (of {n} records)")
    if top is not None:
        text += f"\nhead: seq {top[0]}, sha256 {top[1]} (keep it outside the store to check later)"
    _emit(args, payload, text)
    return 0 if bad is None else 1


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from engine.audit.chain import export_jsonl
    from engine.store import connect

    con = connect()
    try:
        text = export_jsonl(con, args.out) if args.out else export_jsonl(con)
    finally:
        con.close()
    n = text.count("\n")
    if args.out:
        _emit(args, {"records": n, "path": args.out}, f"wrote {n} records to {args.out}")
    elif args.json:
        print(json.dumps({"records": n, "jsonl": text.splitlines()}, indent=2))
    else:
        sys.stdout.write(text)
    return 0


def _cmd_metrics_serve(args: argparse.Namespace) -> int:
    import time

    from engine.market.metrics import serve
    from engine.store import connect

    config = _load_config(args.limits)
    connect().close()  # create the store and apply migrations once
    server = serve(lambda: connect(read_only=True), config, port=args.port, addr=args.host)
    print(f"serving Prometheus metrics on http://{args.host}:{args.port}/metrics (Ctrl-C stops)",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        if isinstance(server, tuple):
            server[0].shutdown()
    return 0


def _cmd_metrics_show(args: argparse.Namespace) -> int:
    from engine.market.metrics import exposition
    from engine.store import connect

    config = _load_config(args.limits)
    con = connect()
    try:
        sys.stdout.write(exposition(con, config, as_of=utc_now()))
    finally:
        con.close()
    return 0


def _confidence(text: str) -> float:
    try:
        c = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return c


def _common_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prices", metavar="FILE",
                   help="price CSV (date column + one column per instrument); default: the bundled "
                        "S&P 500 data")
    p.add_argument("--start", metavar="DATE", help="first date used (YYYY-MM-DD)")
    p.add_argument("--end", metavar="DATE", help="last date used (YYYY-MM-DD)")
    p.add_argument("--notional", type=float, default=1_000_000.0,
                   help="portfolio value for weights or a single column (default 1,000,000)")
    p.add_argument("--json", action="store_true", help="print JSON")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the market-risk sub-commands to the ``stresslab`` parser."""
    p = subparsers.add_parser("var", help="VaR and ES of a portfolio by every method")
    _common_data(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--positions", metavar="FILE",
                     help="positions CSV (account, instrument, quantity or weight); default: shipped")
    src.add_argument("--weights", metavar="FILE", help="weights CSV (instrument, weight)")
    src.add_argument("--column", metavar="NAME", help="one price column worth --notional")
    p.add_argument("--confidence", type=_confidence, nargs="+", default=[0.95, 0.99, 0.999])
    p.add_argument("--es-confidence", type=_confidence, default=0.975)
    p.add_argument("--horizon", type=int, default=1, help="days; sqrt-of-time scaling")
    p.add_argument("--window", type=int, default=0, help="use the last N returns (0: all)")
    p.add_argument("--method", choices=("all", *METHOD_CHOICES), default="all")
    p.add_argument("--sims", type=int, default=10_000, help="Monte Carlo draws")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mc-kind", choices=("normal", "bootstrap"), default="normal")
    p.set_defaults(func=_cmd_var)

    p = subparsers.add_parser("backtest", help="rolling VaR backtest: Kupiec, Christoffersen, "
                                                "traffic light")
    _common_data(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--column", metavar="NAME", help="price column to backtest")
    src.add_argument("--weights", metavar="FILE", help="weights CSV (instrument, weight)")
    p.add_argument("--confidence", type=_confidence, default=0.99)
    p.add_argument("--window", type=int, default=250)
    p.add_argument("--method", choices=METHOD_CHOICES, default="historical")
    p.add_argument("--sims", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_backtest)

    p = subparsers.add_parser("limits", help="evaluate market-risk limits")
    sub = p.add_subparsers(dest="limits_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("evaluate", help="evaluate the limits now and record it in the audit trail")
    q.add_argument("--limits", metavar="YAML", help="limits file; default: shipped")
    q.add_argument("--prices", metavar="FILE")
    q.add_argument("--positions", metavar="FILE")
    q.add_argument("--previous-positions", metavar="FILE", help="for turnover")
    q.add_argument("--as-of", metavar="DATE", help="last price date used")
    q.add_argument("--mode", choices=("monitoring", "gradual", "full"),
                   help="override the stored mode for this evaluation")
    q.add_argument("--notional", type=float, default=None)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_limits_evaluate)

    p = subparsers.add_parser("audit", help="verify or export the hash-chained audit trail")
    sub = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("verify", help="exit 1 with the first bad sequence number if tampered")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_audit_verify)
    q = sub.add_parser("export", help="the audit trail as JSON Lines")
    q.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_audit_export)

    p = subparsers.add_parser("metrics", help="Prometheus exposition of market-risk figures")
    sub = p.add_subparsers(dest="metrics_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("serve", help="serve /metrics over HTTP")
    q.add_argument("--port", type=int, default=9108)
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--limits", metavar="YAML")
    q.set_defaults(func=_cmd_metrics_serve)
    q = sub.add_parser("show", help="print the exposition once")
    q.add_argument("--limits", metavar="YAML")
    q.set_defaults(func=_cmd_metrics_show)
