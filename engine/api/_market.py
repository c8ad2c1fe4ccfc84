"""Market risk over HTTP: VaR and ES, limit evaluations, and the Prometheus figures.

* ``POST /api/v1/market/var``: body :class:`~engine.market.workflow.VaRRequest`, answer
  :class:`~engine.market.workflow.VaRRun` (``run_id`` set when ``record`` is true).
* ``POST /api/v1/market/limits/evaluate``: body :class:`~engine.market.workflow.LimitsRequest`,
  answer :class:`~engine.market.workflow.EvaluationRecorded` (always recorded).
* ``GET /metrics``: the Prometheus text exposition (format 0.0.4), as ``stresslab metrics show``
  prints it; it needs a token like every endpoint but ``/health``.

Files (prices, positions, weights, limits) travel in the body as ``{name, content}`` text, never
as paths, so no file of the server is read; left out, the bundled data is used.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from engine.api._deps import get_store, require_action
from engine.market import workflow as market
from engine.market.workflow import EvaluationRecorded, LimitsRequest, VaRRequest, VaRRun
from engine.store import Store

__all__ = ["router", "METRICS_CONTENT_TYPE"]

#: The Prometheus text format 0.0.4 (what ``prometheus_client.generate_latest`` writes).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(tags=["market risk"])

_run = require_action("run_market")
_read = require_action("read")


@router.post("/api/v1/market/var", response_model=VaRRun,
             summary="VaR and ES of a portfolio by every method asked for")
def var(body: VaRRequest, *, principal: Any = Depends(_run),
        store: Store = Depends(get_store)) -> VaRRun:
    """With ``record: true`` the report is stored as a run of kind ``market`` with the token's
    user as ``requested_by``."""
    return market.var_report(body.asked_by(principal.user), store=store)


@router.post("/api/v1/market/limits/evaluate", response_model=EvaluationRecorded,
             summary="Evaluate every limit and sensor now and record it")
def limits_evaluate(body: LimitsRequest, *, principal: Any = Depends(_run),
                    store: Store = Depends(get_store)) -> EvaluationRecorded:
    """Recorded in the audit trail with the token's user as ``requested_by``."""
    return market.evaluate_limits(body.asked_by(principal.user), store=store)


@router.get("/metrics", response_class=Response, tags=["metrics"],
            responses={200: {"content": {METRICS_CONTENT_TYPE: {}},
                             "description": "Prometheus text exposition, format 0.0.4."}},
            summary="Market-risk figures for Prometheus")
def metrics(*, _: Any = Depends(_read), store: Store = Depends(get_store)) -> Response:
    """Each scrape reads the store in one short session; a scraper sends the token as
    ``authorization: {credentials: …}`` (Prometheus) or ``Authorization: Bearer …``."""
    return Response(market.metrics_exposition(store=store), media_type=METRICS_CONTENT_TYPE)
