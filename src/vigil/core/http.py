"""HTTP plumbing: fast JSON responses, the error body, bounded request bodies."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field

from vigil.core.errors import InvalidInput, InvalidQuery, NotFound, PayloadTooLarge, VigilError
from vigil.core.validation import InvalidBody

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_BODY_BYTES = 10 * 1024 * 1024


class FastJSONResponse(JSONResponse):
    """JSON through orjson: UUIDs natively, pre-serialised ``orjson.Fragment`` values as-is."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Where: `email`, `start_date`, `events[3].action`, …")
    message: str = Field(description="What is wrong with it")


class ErrorBody(BaseModel):
    """The body of every error Vigil's API answers, whatever its status."""

    detail: str = Field(description="What went wrong, in a sentence")
    errors: list[FieldError] = Field(
        default=[], description="With 422: every invalid field (absent otherwise)"
    )
    position: int | None = Field(
        default=None,
        description="With a 422 for `q`: where the offending token starts, as a character offset",
    )


# What each error status means in Vigil's API (DESIGN §3), as the API reference words it.
ERROR_DESCRIPTIONS = {
    400: "Malformed request: the body is not JSON (or not UTF-8), or its reset token is not valid",
    401: "No credential, or one that is invalid, expired or revoked",
    403: (
        "Authenticated but not allowed: a permission is missing, the address is not on the "
        "tenant's IP allowlist, or two-factor setup is still due"
    ),
    404: "Unknown, or another tenant's (the two look the same)",
    409: "Contradicts what is already stored",
    413: "The request body is larger than Vigil accepts",
    422: "Invalid input; `detail` and `errors` name the field",
    429: "Too many requests: try again after `Retry-After` seconds",
    503: "The database could not take the write; try again",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer these error statuses (those its access
    rule, parameters and body imply are documented for every route by ``vigil.api_docs``)."""
    return {s: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a 405 answer (RFC 9110 §10.2.1): every method of the path
    as the API declares it, e.g. ``"GET, PATCH"`` for ``/settings``, where each method is a
    route of its own. The path is the first route template the request's path matches, as
    the router tries them: ``/audit-logs/batch`` before ``/audit-logs/{event_id}``."""
    template = None
    methods: set[str] = set()
    path = request.url.path
    for route in iter_route_contexts(request.app.routes):  # included routers' routes too
        regex = getattr(route, "path_regex", None)
        if not route.methods or regex is None:
            continue
        if template is None and regex.match(path):
            template = route.path_format
        if template is not None and route.path_format == template:
            methods |= route.methods
    return ", ".join(sorted(methods))


def error_response(error: VigilError) -> FastJSONResponse:
    """The API's answer to ``error``: ``{"detail", "errors"?}`` with its status and headers;
    ``errors`` lists ``{field, message}`` for invalid input."""
    body: dict[str, object] = {"detail": error.message}
    if isinstance(error, InvalidBody):
        body["errors"] = error.errors
    elif isinstance(error, InvalidInput):
        body["errors"] = [{"field": error.field, "message": error.reason}]
        if isinstance(error, InvalidQuery):
            body["position"] = error.position
    return FastJSONResponse(body, status_code=error.status_code, headers=error.headers)


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing (413) anything over ``limit`` before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit // (1024 * 1024)} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def client_ip(request: Request) -> str | None:
    """The client's address, normalised (IPv4-mapped IPv6 becomes IPv4); None if unknown.

    Behind a proxy in ``VIGIL_TRUSTED_PROXIES`` it is already the client's own, taken from
    ``X-Forwarded-For`` by ``ProxyHeadersMiddleware`` (uvicorn): the first untrusted hop
    counted from the right, since the left end is only the client's own say.
    """
    address = _parse_ip(request.client.host if request.client else None)
    return str(address) if address is not None else None


def _parse_ip(text: str | None) -> IPAddress | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def uuid_or_404(text: str, *, what: str) -> uuid.UUID:
    """A path id; one that is not even a UUID is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"{what} {text!r} not found") from None
