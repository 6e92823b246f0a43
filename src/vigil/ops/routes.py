"""HTTP for operators: liveness, readiness, and metrics for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vigil import __version__
from vigil.accounts.deps import Caller
from vigil.core.deps import EngineDep
from vigil.core.http import FastJSONResponse
from vigil.ops.metrics import CONTENT_TYPE, ServerMetrics
from vigil.ops.readiness import check_readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> FastJSONResponse:
    """200 while the process serves requests, whatever the database's state (that is
    ``/readyz``'s question): restart the node only when this fails."""
    return FastJSONResponse({"status": "ok", "version": __version__})


@router.get("/readyz", summary="Readiness: the database answers and is migrated")
def readyz(engine: EngineDep) -> FastJSONResponse:
    """200 when the database answers and its schema is this version's (or newer); 503
    while it is unreachable, a migration runs, or migrations have not run."""
    readiness = check_readiness(engine)
    return FastJSONResponse(readiness.as_json(), status_code=200 if readiness.ready else 503)


@router.get("/metrics", summary="Metrics in Prometheus' text format (METRICS_READ)")
def metrics(request: Request, _caller: Caller) -> Response:
    """Every metric of this node, in the Prometheus text exposition format 0.0.4; needs a
    credential with ``METRICS_READ`` (an API key, as Prometheus' ``authorization`` sends)."""
    server_metrics: ServerMetrics = request.app.state.metrics
    return Response(server_metrics.exposition(), media_type=CONTENT_TYPE)
