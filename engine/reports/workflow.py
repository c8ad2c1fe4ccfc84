"""Downloadable reports: the one-page decision summary, and one report per stress run, per
validation run and per limit evaluation, as self-contained HTML or as PDF.

:func:`build_report` is what the pages, the ``stresslab report`` command and the evidence of a
validation call. It reads the stored run through its capability's workflow (nothing is
recomputed), renders one HTML page (inline CSS, charts as inline SVG drawn by Plotly's kaleido
export, no script, no external reference; every user-supplied text escaped) and, for a PDF,
prints that same page with WeasyPrint (:mod:`engine.render._pdf` says why WeasyPrint).

Each report states its run ids, input hashes, engine version, who ran it and when; amounts are
USD, rounded for reading in the headline tiles (``engine.display.money_short``) and exact in the
tables (``engine.display.money``).

Timings measured on the development machine (2 cores, shared): see ``benchmarks/bench_reports.py``
and the README.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from engine.errors import InputError, NotFoundError
from engine.render.validation import ValidationReportData
from engine.store import Store

__all__ = ["KINDS", "FORMATS", "Report", "build_report", "report_html", "validation_data"]

ReportKind = Literal["summary", "stress", "validation", "limits"]
ReportFormat = Literal["html", "pdf"]
#: The kinds of report, and whether each needs a run id.
KINDS: dict[str, bool] = {"summary": False, "stress": True, "validation": True, "limits": True}
FORMATS: dict[str, str] = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Report:
    """A built report.

    Attributes
    ----------
    content : bytes
        The HTML (UTF-8) or the PDF.
    filename : str
        A file name for a download ("stress_report_credit-20260131-….pdf").
    media_type : str
        "text/html; charset=utf-8" or "application/pdf".
    """

    content: bytes
    filename: str
    media_type: str


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


def _store(store: Store | None) -> Store:
    return store if store is not None else Store()


def validation_data(run_id: str, *, store: Store | None = None) -> ValidationReportData:
    """A stored validation run as :class:`~engine.render.validation.ValidationReportData`
    (with the sign-offs recorded so far).

    Raises
    ------
    NotFoundError
        If no validation run has this id.
    """
    from engine.mlrisk import workflow as mlrisk
    from engine.reports import _store as rstore

    store = _store(store)
    stored = mlrisk.load_run(run_id, store=store)
    with store.read() as con:
        row = rstore.run_row(con, run_id=run_id, kind="mlrisk")
    manifest = json.loads(stored.artifacts["evidence_manifest.json"])
    signoffs = [{"signed_at": r.signed_at, "name": r.name, "comment": r.comment,
                 "decision": r.decision} for r in stored.signoffs.itertuples()]
    return ValidationReportData(
        run_id=run_id, generated_at=stored.generated_at, validator=stored.validator,
        requested_by=row["requested_by"], results=stored.results, rows=stored.rows,
        input_hashes=manifest.get("inputs_hash", {}),
        engine_version=manifest.get("app_version") or row["engine_version"], signoffs=signoffs)


def report_html(kind: ReportKind, *, run_id: str | None = None, store: Store | None = None) -> str:
    """The report's HTML text (see :func:`build_report`)."""
    from engine.reports import _store as rstore

    if kind not in KINDS:
        raise InputError(f"unknown report {kind!r}: use one of {', '.join(KINDS)}")
    if KINDS[kind] and not run_id:
        raise InputError(f"a {kind} report needs a run id")
    if not KINDS[kind] and run_id:
        raise InputError("the summary report takes no run id: it covers every capability")
    store = _store(store)
    if kind == "stress":
        from engine.credit import workflow as credit
        from engine.reports._stress import stress_html

        with store.read() as con:
            row = rstore.run_row(con, run_id=run_id, kind="credit")
        run = credit.load_run(run_id, store=store)
        return stress_html(run, row=row)
    if kind == "validation":
        from engine.render.validation import validation_html

        return validation_html(validation_data(run_id, store=store))
    if kind == "limits":
        from engine.reports._limits import limits_html

        with store.read() as con:
            evaluation = rstore.evaluation_row(con, run_id)
            row = rstore.run_row(con, run_id=run_id, kind="market")
        return limits_html(evaluation, row=row)
    from engine.reports._summary_page import run_ids, summary_html
    from engine.reports.summary import decision_summary

    summary = decision_summary(store=store)
    runs = []
    with store.read() as con:
        for rid in run_ids(summary):
            for k in ("credit", "mlrisk", "market"):
                try:
                    runs.append(rstore.run_row(con, run_id=rid, kind=k))
                    break
                except NotFoundError:
                    continue
    return summary_html(summary, runs=runs)


def build_report(kind: ReportKind, *, run_id: str | None = None, fmt: ReportFormat = "html",
                 store: Store | None = None) -> Report:
    """Build a report from the store.

    Parameters
    ----------
    kind : {"summary", "stress", "validation", "limits"}
        The one-page decision summary (no run id), a credit stress run, an ML validation run or
        a market-risk limit evaluation (``run_id`` = the evaluation id).
    run_id : str, optional
        Required for every kind but the summary.
    fmt : {"html", "pdf"}
        A self-contained HTML page, or its A4 PDF print.
    store : Store, optional
        Default the store of ``$STRESSLAB_DB``.

    Returns
    -------
    Report
        ``content``, ``filename`` and ``media_type``.

    Raises
    ------
    InputError
        An unknown kind or format, a missing run id (or one given to the summary).
    NotFoundError
        If the run is not stored.
    StressLabError
        If the charts cannot be drawn (no Chromium) or a PDF cannot be printed (WeasyPrint's
        system libraries missing); the message says what to install.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}: use html or pdf")
    document = report_html(kind, run_id=run_id, store=store)
    stem = f"{kind}_report" + (f"_{_safe(run_id)}" if run_id else "")
    if fmt == "html":
        return Report(content=document.encode("utf-8"), filename=f"{stem}.html",
                      media_type=FORMATS["html"])
    from engine.render._pdf import html_to_pdf

    return Report(content=html_to_pdf(document), filename=f"{stem}.pdf", media_type=FORMATS["pdf"])
