"""``stresslab var | backtest | limits evaluate | metrics serve|show``.

Each handler parses its arguments into a request of :mod:`engine.market.workflow`, calls the
workflow and prints. Heavy libraries (pandas, scipy, prometheus_client) are imported inside the
handlers so that ``stresslab --help`` stays fast. Bad input raises
:class:`~engine.errors.InputError` (exit 2). ``var`` and ``backtest`` record a run of kind
``market`` unless ``--no-store``; ``limits evaluate`` always records. ``stresslab audit`` lives in
:mod:`engine.audit.cli`.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register"]

METHOD_CHOICES = ("historical", "parametric", "cornish_fisher", "monte_carlo")


def _emit(args: argparse.Namespace, payload: dict, text: str) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(text)


def _file(path: str | None, what: str):
    """The file at ``path`` as a request's DataFile (None when not given)."""
    if not path:
        return None
    from engine.market.workflow import DataFile

    return DataFile.from_path(path, what=what)


def _cmd_var(args: argparse.Namespace) -> int:
    from engine.market.workflow import VaRRequest, var_report

    methods = METHOD_CHOICES if args.method == "all" else (args.method,)
    request = VaRRequest.build(
        prices=_file(args.prices, "price file"), positions=_file(args.positions, "positions file"),
        weights=_file(args.weights, "weights file"), column=args.column, start=args.start,
        end=args.end, confidences=tuple(args.confidence), es_confidence=args.es_confidence,
        horizon=args.horizon, window=args.window, methods=methods, sims=args.sims,
        seed=args.seed, mc_kind=args.mc_kind, notional=args.notional, record=not args.no_store)
    run = var_report(request)
    text = run.to_frame().round(2).to_string()
    if run.run_id:
        text += f"\nrecorded as run {run.run_id}"
    _emit(args, {"run_id": run.run_id, **run.report.model_dump()}, text)
    return 0


def _cmd_backtest(args: argparse.Namespace) -> int:
    from engine.market.workflow import BacktestRequest, backtest

    request = BacktestRequest.build(
        prices=_file(args.prices, "price file"), column=args.column,
        weights=_file(args.weights, "weights file"), start=args.start, end=args.end,
        confidence=args.confidence, window=args.window, method=args.method, sims=args.sims,
        seed=args.seed, notional=args.notional, record=not args.no_store)
    run = backtest(request)
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
    if run.run_id:
        text += f"\nrecorded as run {run.run_id}"
    _emit(args, {"run_id": run.run_id, **r.model_dump()}, text)
    return 0


def _load_config(path: str | None):
    from pathlib import Path

    from engine.market.limits import load_default_limits, load_limits

    return load_limits(Path(path)) if path else load_default_limits()


def _cmd_limits_evaluate(args: argparse.Namespace) -> int:
    from engine.market.workflow import LimitsRequest, evaluate_limits

    request = LimitsRequest.build(
        limits=_file(args.limits, "limits file"), prices=_file(args.prices, "price file"),
        positions=_file(args.positions, "positions file"),
        previous_positions=_file(args.previous_positions, "previous positions file"),
        as_of=args.as_of, mode=args.mode, notional=args.notional)
    recorded = evaluate_limits(request)
    evaluation = recorded.evaluation
    payload = {"evaluation_id": recorded.evaluation_id, **evaluation.model_dump(),
               "snapshot": recorded.snapshot.model_dump()}
    lines = [f"{evaluation.as_of} mode {evaluation.mode}: action {evaluation.action}"
             f" ({evaluation.reason})"]
    lines += [f"  {d.sensor:22s} {d.rule:18s} {d.action:16s} {d.reason}"
              for d in evaluation.decisions]
    _emit(args, payload, "\n".join(lines))
    return 0


def _cmd_metrics_serve(args: argparse.Namespace) -> int:
    import time

    from engine.market.workflow import serve_metrics

    server = serve_metrics(config=_load_config(args.limits), port=args.port, host=args.host)
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
    from engine.market.workflow import metrics_exposition

    sys.stdout.write(metrics_exposition(config=_load_config(args.limits)))
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
    p.add_argument("--no-store", action="store_true", help="do not record the report as a run")
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
    p.add_argument("--no-store", action="store_true", help="do not record the backtest as a run")
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
