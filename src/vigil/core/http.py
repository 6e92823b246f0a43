"""HTTP plumbing: fast JSON responses and bounded request bodies."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from vigil.core.errors import InvalidInput, NotFound, PayloadTooLarge, VigilError
from vigil.core.validation import InvalidBody

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_BODY_BYTES = 10 * 1024 * 1024


class FastJSONResponse(JSONResponse):
    """JSON through orjson: UUIDs natively, pre-serialised ``orjson.Fragment`` values as-is."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(error: VigilError) -> FastJSONResponse:
    """The API's answer to ``error``: ``{"detail", "errors"?}`` with its status and headers;
    ``errors`` lists ``{field, message}`` for invalid input."""
    body: dict[str, object] = {"detail": error.message}
    if isinstance(error, InvalidBody):
        body["errors"] = error.errors
    elif isinstance(error, InvalidInput):
        body["errors"] = [{"field": error.field, "message": error.reason}]
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
