"""``stresslab tokens create|list|revoke``: the HTTP API's bearer tokens; ``stresslab users
add|list|disable|set-role``: the users who sign in to the app (and whom tokens name).

``users add`` never takes the password as an argument (it would land in the shell's history and
in ``ps``): it asks for it twice on the terminal (:func:`getpass.getpass`), or reads one line
from standard input with ``--password-stdin``, for scripts.

``tokens create`` prints the new token as the last line of standard output, after a line saying
it is shown once and stored only as a hash, so that a script can take it with ``tail -n 1``.
With ``--json`` it prints one JSON object instead, the token under ``token``. No output of
``tokens list`` holds a token or a hash.

Heavy libraries are imported inside the handlers so that ``stresslab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from engine.auth._roles import ROLES
from engine.cli import print_columns

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
    print_columns(table)
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


def _read_password(args: argparse.Namespace) -> str:
    """The new user's password: one line of standard input with ``--password-stdin``, else
    asked twice on the terminal.

    Raises
    ------
    InputError
        No terminal and no ``--password-stdin``; the two entries differ; nothing on stdin.
    """
    from engine.errors import InputError

    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("--password-stdin: standard input is empty; nothing was stored")
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise InputError("no terminal to ask the password on: pipe it in with "
                         "--password-stdin; nothing was stored")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("the same password again: ") != first:
        raise InputError("the two passwords differ; nothing was stored")
    return first


def _cmd_users_add(args: argparse.Namespace) -> int:
    from engine.auth.workflow import UserRequest, add_user

    request = UserRequest.build(name=args.name, role=args.role)
    added = add_user(request, password=_read_password(args))
    if args.json:
        print(json.dumps(added.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    print(f"added user {added.name!r} with the role {added.role} (audit record "
          f"{added.audit_seq}); the app now asks everyone to sign in")
    return 0


def _cmd_users_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from engine.auth.workflow import list_users

    found = list_users()
    if args.json:
        print(json.dumps(found.to_json_rows(), indent=2, ensure_ascii=False))
        return 0
    if not found.rows:
        print("no users: the app runs as the local single user (`stresslab users add` adds one)")
        return 0
    now = datetime.now(UTC).replace(tzinfo=None)
    header = ("name", "role", "state", "created_at (UTC)", "last_sign_in_at", "failed")
    table = [header] + [
        (r.name, r.role,
         "disabled" if r.disabled else f"locked until {_when(r.locked_until)}"
         if r.locked(now) else "enabled",
         _when(r.created_at), _when(r.last_sign_in_at), str(r.failed_attempts))
        for r in found.rows]
    print_columns(table)
    return 0


def _cmd_users_disable(args: argparse.Namespace) -> int:
    from engine.auth.workflow import disable_user

    done = disable_user(args.name)
    if args.json:
        print(json.dumps(done.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    print(f"user {done.name!r} ({done.role}) disabled by {done.changed_by} at "
          f"{_when(done.changed_at)} UTC (audit record {done.audit_seq}); the user's tokens stop "
          "working now, open app sessions within a minute")
    return 0


def _cmd_users_set_role(args: argparse.Namespace) -> int:
    from engine.auth.workflow import RoleRequest, set_role

    done = set_role(RoleRequest.build(name=args.name, role=args.role))
    if args.json:
        print(json.dumps(done.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    print(f"user {done.name!r}: role {done.old_role} -> {done.role}, set by {done.changed_by} "
          f"(audit record {done.audit_seq}); the user's tokens take the new role now")
    return 0


def _register_users(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("users", help="the users who sign in to the app and whom the "
                                            "API's tokens name (passwords stored as Argon2id "
                                            "hashes)")
    sub = p.add_subparsers(dest="users_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("add", help="a new user with a role; the password is asked on the "
                                   "terminal (or read from stdin), never given as an argument")
    q.add_argument("name", metavar="NAME", help="the name to sign in with (case-sensitive)")
    q.add_argument("--role", required=True, choices=ROLES,
                   help="analyst: runs, uploads, acknowledges alerts; validator: validations "
                        "and sign-offs; leadership: reads and downloads; admin: everything")
    q.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input (scripts)")
    q.add_argument("--json", action="store_true",
                   help="print one JSON object (name, role, created_at, created_by, audit_seq)")
    q.set_defaults(func=_cmd_users_add)
    q = sub.add_parser("list", help="the users, oldest first (never a password or its hash)")
    q.add_argument("--json", action="store_true",
                   help="print a JSON list of {name, role, disabled, created_at, created_by, "
                        "failed_attempts, locked_until, last_sign_in_at, changed_at, "
                        "changed_by}")
    q.set_defaults(func=_cmd_users_list)
    q = sub.add_parser("disable", help="the user can no longer sign in, and the user's tokens "
                                       "stop working (audited)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_users_disable)
    q = sub.add_parser("set-role", help="give a user another role, in the app and for the "
                                        "user's tokens (audited)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("role", metavar="ROLE", choices=ROLES, help=" | ".join(ROLES))
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_users_set_role)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tokens create|list|revoke`` and ``users add|list|disable|set-role`` to the parser."""
    _register_users(subparsers)
    p = subparsers.add_parser("tokens", help="bearer tokens of the HTTP API (stored as hashes)")
    sub = p.add_subparsers(dest="tokens_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser("create", help="a new token for a user and a role; prints it once, as "
                                      "the last line")
    q.add_argument("--user", required=True, help="the user the token acts as")
    q.add_argument("--role", choices=ROLES,
                   help="what the token may do (admin: everything); needed while no user "
                        "exists, after that the token takes its user's role")
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
