"""``stresslab report summary|stress RUN_ID|validation RUN_ID|limits RUN_ID --out FILE``.

The format comes from the output file's suffix: ``.html`` (self-contained) or ``.pdf``. The
reports are those of :func:`engine.reports.workflow.build_report`, so a scheduled command makes
the same file as the app's download button.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import InputError

__all__ = ["register"]

_SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``report`` and its four kinds to the parser."""
    p = sub.add_parser("report", help="write a report (summary, stress, validation, limits) as "
                                      "HTML or PDF")
    kinds = p.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    helps = {"summary": "the one-page decision summary across every capability",
             "stress": "one credit stress run", "validation": "one ML validation run",
             "limits": "one market-risk limit evaluation (RUN_ID = its evaluation id)"}
    for kind, text in helps.items():
        q = kinds.add_parser(kind, help=text, description=text + ".")
        if kind != "summary":
            q.add_argument("run_id", metavar="RUN_ID", help="`stresslab runs list` shows run ids")
        q.add_argument("--out", type=Path, required=True, metavar="FILE.html|FILE.pdf",
                       help="where to write it; the suffix chooses the format")
        q.set_defaults(func=_report, kind=kind)


def _report(args: argparse.Namespace) -> int:
    fmt = _SUFFIXES.get(args.out.suffix.lower())
    if fmt is None:
        raise InputError(f"--out {args.out}: the file name must end in .html or .pdf (the suffix "
                         "chooses the report's format)")
    from engine.reports.workflow import build_report

    report = build_report(args.kind, run_id=getattr(args, "run_id", None), fmt=fmt)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(report.content)
    print(f"wrote the {args.kind} report to {args.out} ({len(report.content):,} bytes, {fmt})")
    return 0
