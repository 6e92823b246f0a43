"""The two ingest routes, answered ahead of FastAPI's router.

Single-event ingest is the request Vigil answers most. Measured under 16 concurrent clients
(BENCHMARKS.md §2), FastAPI's routing, middleware and dependency resolution took over a
third of the server's CPU for each ``POST /audit-logs/``. This middleware answers the two
ingest routes itself with the very functions ``events.routes`` declares for them (the same
access rules from access.toml, the same decoding, writer and error bodies); every other
request goes on to FastAPI untouched, and the API documentation still describes both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vigil.core.errors import VigilError
from vigil.core.http import error_response
from vigil.events.routes import record_batch, record_event, router

Endpoint = Callable[[Request], Awaitable[Response]]

# Method and path as the API routes declare them, so the two cannot drift apart.
ROUTES: dict[tuple[str, str], Endpoint] = {
    (method, route.path): route.endpoint
    for route in router.routes
    if isinstance(route, APIRoute) and route.endpoint in (record_event, record_batch)
    for method in route.methods or ()
}


class IngestFastPath:
    """ASGI middleware serving ``ROUTES``; unexpected errors still reach the app's handler
    of last resort (a logged 500), which sits outside every middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an ingest request, or pass the request on."""
        endpoint = ROUTES.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await endpoint(Request(scope, receive))
        except VigilError as error:
            response = error_response(error)
        await response(scope, receive, send)
