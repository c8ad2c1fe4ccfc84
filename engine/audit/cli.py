"""``stresslab audit verify|export``, ``stresslab keys init|show`` and ``stresslab runs list``.

Heavy libraries are imported inside the handlers so that ``stresslab --help`` stays fast.

``audit verify`` exits 0 when the trail checks out (signed, or UNSIGNED when there is no key:
it says so, and how to sign it), and 1 when it does not, with one ``TAMPERED: …`` line per
problem naming the reason (a record's hash, the order, the head, its signature or key, the
checkpoint outside the store, the store's identity, a covered row). A tampered trail is a
finding, not bad input: exit 2 stays for bad arguments (an unreadable ``--public-key``).
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli import print_columns

__all__ = ["register"]

#: The capabilities whose runs ``runs list --kind`` filters on (``engine.audit.runs.RunKind``).
KIND_CHOICES = ("credit", "mlrisk", "market", "live")


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from engine.audit.workflow import verify_audit

    result = verify_audit(public_key=args.public_key, checkpoint=args.checkpoint)
    if args.json:
        print(json.dumps(result.model_dump(), indent=2))
    else:
        print(result.to_text())
    return 0 if result.ok else 1


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from engine.audit.workflow import export_audit

    text = export_audit(out=args.out)
    n = text.count("\n")
    if args.out:
        if args.json:
            print(json.dumps({"records": n, "path": args.out}, indent=2))
        else:
            print(f"wrote {n} records to {args.out}")
    elif args.json:
        print(json.dumps({"records": n, "jsonl": text.splitlines()}, indent=2))
    else:
        sys.stdout.write(text)
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from engine.audit.workflow import create_keys, show_keys

    info = create_keys(force=args.force) if args.keys_command == "init" else show_keys()
    if args.json:
        print(json.dumps(info.model_dump(), indent=2))
    else:
        print(info.to_text())
    return 0


def _cmd_runs_list(args: argparse.Namespace) -> int:
    from engine.audit.workflow import RunsQuery, list_runs

    runs = list_runs(RunsQuery.build(kind=args.kind, limit=args.limit))
    if args.json:
        print(json.dumps(runs.to_json_rows(), indent=2, ensure_ascii=False))
        return 0
    if not runs.rows:
        print("no runs stored" + (f" of kind {args.kind}" if args.kind else ""))
        return 0
    header = ("run_id", "kind", "started_at (UTC)", "status", "summary")
    table = [header] + [(r.run_id, r.kind, f"{r.started_at:%Y-%m-%d %H:%M:%S}", r.status,
                         r.summary) for r in runs.rows]
    print_columns(table)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit verify|export``, ``keys init|show`` and ``runs list`` to the parser."""
    p = subparsers.add_parser("audit", help="verify or export the hash-chained audit trail")
    sub = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("verify", help="check records, order, head, signature, checkpoint and "
                                      "covered rows; exit 1 with TAMPERED lines if any fails")
    q.add_argument("--public-key", metavar="FILE",
                   help="check against this public key (a copy kept elsewhere) instead of the "
                        "key directory's")
    q.add_argument("--checkpoint", metavar="FILE",
                   help="also check against this checkpoint (a copy kept elsewhere)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_audit_verify)
    q = sub.add_parser("export", help="the audit trail as JSON Lines")
    q.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_audit_export)

    p = subparsers.add_parser("keys", help="the Ed25519 key that signs the audit trail and "
                                           "evidence ($STRESSLAB_KEYS)")
    sub = p.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("init", help="create the key pair in the key directory (0600)")
    q.add_argument("--force", action="store_true",
                   help="replace an existing key (what it signed no longer verifies)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_keys)
    q = sub.add_parser("show", help="the key directory, key id and public key file")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_keys)

    p = subparsers.add_parser("runs", help="list the recorded runs of every capability")
    sub = p.add_subparsers(dest="runs_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("list", help="recorded runs, newest first")
    q.add_argument("--kind", choices=KIND_CHOICES, help="only this capability's runs")
    q.add_argument("--limit", type=int, default=200, help="at most N runs (default 200)")
    q.add_argument("--json", action="store_true",
                   help="print a JSON list of {run_id, kind, started_at, status, summary}")
    q.set_defaults(func=_cmd_runs_list)
