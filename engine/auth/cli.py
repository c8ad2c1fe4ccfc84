"""``stresslab tokens create|list|revoke``: the HTTP API's bearer tokens.

``tokens create`` prints the new token as the last line of standard output, after a line saying
it is shown once and stored only as a hash, so that a script can take it with ``tail -n 1``.
With ``--json`` it prints one JSON object instead, the token under ``token``. No output of
``tokens list`` holds a token or a hash.

Heavy libraries are imported inside the handlers so that ``stresslab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json

from engine.auth._roles import ROLES

__all__ = ["register"]


def _when(value) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _cmd_create(args: argparse.Namespace) -> int:
    from engine.auth.workflow import TokenRequest, create_token

    made = create_token(TokenRequest.build(user=args.user, role=args.role, label=args.label))
    if args.json:
        print(json.dumps(made.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    label = f", label {made.label!r}" if made.label else ""
    print(f"created token {made.token_id} for user {made.user!r}, role {made.role}{label} "
          f"(audit record {made.audit_seq})")
    print("The token below is shown this once and stored only as a hash (SHA-256); keep it "
          "now. Send it as `Authorization: Bearer <token>`:")
    print(made.token)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from engine.auth.workflow import list_tokens

    found = list_tokens(include_revoked=args.all)
    if args.json:
        print(json.dumps(found.to_json_rows(), indent=2, ensure_ascii=False))
        return 0
    if not found.rows:
        print("no tokens" if args.all else "no active tokens (--all lists revoked ones too)")
        return 0
    header = ("token_id", "user", "role", "created_at (UTC)", "last_used_at", "revoked_at",
              "label")
    table = [header] + [(r.token_id, r.user, r.role, _when(r.created_at), _when(r.last_used_at),
                         _when(r.revoked_at), r.label or "") for r in found.rows]
    if not args.all:
        table = [row[:5] + row[6:] for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        print("  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]).rstrip())
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    from engine.auth.workflow import revoke_token

    done = revoke_token(args.token_id)
    if args.json:
        print(json.dumps(done.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    print(f"token {done.token_id} of user {done.user!r} ({done.role}) revoked by "
          f"{done.revoked_by} at {_when(done.revoked_at)} UTC (audit record {done.audit_seq})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tokens create|list|revoke`` to the parser."""
    p = subparsers.add_parser("tokens", help="bearer tokens of the HTTP API (stored as hashes)")
    sub = p.add_subparsers(dest="tokens_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("create", help="a new token for a user and a role; prints it once, as "
                                      "the last line")
    q.add_argument("--user", required=True, help="the user the token acts as")
    q.add_argument("--role", required=True, choices=ROLES,
                   help="what the token may do (admin: everything)")
    q.add_argument("--label", help="what the token is for (\"nightly scheduler\")")
    q.add_argument("--json", action="store_true",
                   help="print one JSON object (token_id, user, role, label, created_at, "
                        "created_by, token, audit_seq)")
    q.set_defaults(func=_cmd_create)
    q = sub.add_parser("list", help="the active tokens, oldest first (never their text or hash)")
    q.add_argument("--all", action="store_true", help="also the revoked tokens")
    q.add_argument("--json", action="store_true",
                   help="print a JSON list of {token_id, user, role, label, created_at, "
                        "created_by, revoked_at, revoked_by, last_used_at}")
    q.set_defaults(func=_cmd_list)
    q = sub.add_parser("revoke", help="a token stops working at once (audited)")
    q.add_argument("token_id", metavar="TOKEN_ID",
                   help="the token's id (`tokens list` shows it; the 16 hex digits after slk_)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_revoke)
