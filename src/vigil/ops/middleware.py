"""Every HTTP request, observed once: its id, its metrics, its log line.

A pure ASGI middleware placed outside the ingest fast path, so the requests Vigil answers
most are counted too; its cost per request is a few microseconds plus the log line (see
docs/operations.md). The route is read after the app has answered: FastAPI's router
leaves the matched route in the scope, the fast path serves its declared routes, and
anything else (a 404, a redirect) is ``unmatched``.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.events import fast_path
from vigil.ops.metrics import ServerMetrics
from vigil.ops.request_ids import HEADER, bind_request_id, request_id_from, unbind_request_id

access_log = logging.getLogger("vigil.access")

UNMATCHED = "unmatched"
_FAST_ROUTES = {(method, path): path for method, path in fast_path.ROUTES}


class RequestObserver:
    """Gives each request an id (answered in ``X-Request-ID``), counts it in ``metrics``
    and logs one line for it on ``vigil.access`` (method, route, the path of a matched route
    without its query string, status, duration, client address, request id; never a
    header or a query)."""

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request through the app, observing it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = None
        for name, value in scope["headers"]:
            if name == HEADER:
                incoming = value
                break
        request_id = request_id_from(incoming)
        echoed = (HEADER, request_id.encode("ascii"))
        status = 500  # unless the app answers: an exception escaped it

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        token = bind_request_id(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = _route_of(scope)
            self.metrics.observe_request(scope["method"], route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                _log_request(scope, route, status, seconds, request_id)
            unbind_request_id(token)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", UNMATCHED))
    return _FAST_ROUTES.get((scope["method"], scope["path"]), UNMATCHED)


def _log_request(scope: Scope, route: str, status: int, seconds: float, request_id: str) -> None:
    client = scope.get("client")
    access_log.info(
        "%s %s %d",
        scope["method"][:16],
        route,
        status,
        extra={
            "request_id": request_id,
            "method": scope["method"][:16],
            "route": route,
            # A matched route's path holds ids; an unmatched one may hold anything a
            # client typed, a credential included, so it is left out.
            "path": scope["path"][:512] if route != UNMATCHED else None,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "client": client[0] if client else None,
        },
    )
