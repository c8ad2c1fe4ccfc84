"""The ``stresslab`` command.

Each capability registers its own sub-commands from ``engine.<package>.cli.register``; those
modules import their heavy dependencies inside the handlers, so ``stresslab --help`` and a credit
stress run start fast. Exit status: 0 success, 2 bad input, 1 internal failure. No traceback
unless ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engine import __version__
from engine.errors import InputError, StressLabError

__all__ = ["main", "build_parser"]

#: Modules that add sub-commands; each defines ``register(subparsers) -> None`` and sets
#: ``func(args) -> int`` on its parsers.
_COMMAND_MODULES: tuple[str, ...] = (
    "engine.credit.cli",
    "engine.mlrisk.cli",
    "engine.market.cli",
    "engine.audit.cli",
)

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stresslab",
        description="StressLab: stress tests for credit pools, ML models and market risk.",
    )
    parser.add_argument("--version", action="version", version=f"stresslab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except StressLabError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence before a user sees a traceback
        if args.debug:
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc}. Re-run with --debug for the traceback "
            "and report it.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
