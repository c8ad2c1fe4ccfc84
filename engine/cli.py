"""The ``stresslab`` command.

Each capability registers its own sub-commands from ``engine.<package>.cli.register``; those
modules import their heavy dependencies inside the handlers, so ``stresslab --help`` and a credit
stress run start fast. Exit status: 0 success, 2 bad input, 1 internal failure. No traceback
unless ``--debug``.

When the reader of standard output goes away (``stresslab pools list | head -1``) the command
stops quietly with status 141 (128 + SIGPIPE), as a Unix tool killed by SIGPIPE does; see the
Python documentation, "Note on SIGPIPE",
https://docs.python.org/3/library/signal.html#note-on-sigpipe.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from engine import __version__
from engine.errors import InputError, StressLabError

__all__ = ["main", "build_parser", "print_columns"]

#: Modules that add sub-commands; each defines ``register(subparsers) -> None`` and sets
#: ``func(args) -> int`` on its parsers.
_COMMAND_MODULES: tuple[str, ...] = (
    "engine.credit.cli",
    "engine.mlrisk.cli",
    "engine.market.cli",
    "engine.audit.cli",
    "engine.live.cli",
    "engine.auth.cli",
    "engine.api.cli",
    "engine.reports.cli",
)

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
#: Status of a command whose output pipe was closed: 128 + SIGPIPE (13), as a shell reports it.
EXIT_BROKEN_PIPE = 141


def print_columns(table: Sequence[Sequence[str]]) -> None:
    """Print rows of text as aligned columns, two blanks apart: the header first, the last
    column left ragged (it holds free text), trailing blanks dropped. The ``list`` commands'
    human-readable output."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        print("  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]).rstrip())


def _silence_stdout() -> None:
    """Point standard output at devnull, so the interpreter's final flush of a closed pipe
    raises nothing (the Python documentation's recipe for SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a non-file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


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
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
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
    except RecursionError:
        # Readers turn deep nesting into InputError before parsing (engine.limits); this is the
        # last line of defence, for input that still reached a recursive parser.
        if args.debug:
            raise
        print("error: the input is nested too deeply to process (RecursionError); flatten the "
              "file or split it, and try again.", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError as exc:
        # Inputs are bounded before they are read (engine.limits); a computation can still run
        # out of memory. Say so plainly: this is no bug to report.
        if args.debug:
            raise
        print(f"error: ran out of memory ({exc or 'MemoryError'}); try a smaller input, fewer "
              "scenarios or fewer --workers.", file=sys.stderr)
        return EXIT_INTERNAL
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
