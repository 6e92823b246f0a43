"""HTTP plumbing: fast JSON responses and bounded request bodies."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from vigil.core.errors import NotFound, PayloadTooLarge
from vigil.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_BODY_BYTES = 10 * 1024 * 1024


class FastJSONResponse(JSONResponse):
    """JSON through orjson: UUIDs natively, pre-serialised ``orjson.Fragment`` values as-is."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


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


def client_ip(request: Request, trusted: Sequence[IPNetwork]) -> str | None:
    """The client's address: the peer, or, behind a trusted proxy, the first untrusted hop
    of ``X-Forwarded-For`` counted from the right (the left end is the client's own say)."""
    peer = request.client.host if request.client else None
    address = _parse_ip(peer)
    if address is None or not _within(address, trusted):
        return str(address) if address is not None else None
    hops = request.headers.get("x-forwarded-for", "")
    for hop in reversed([h.strip() for h in hops.split(",") if h.strip()]):
        parsed = _parse_ip(hop)
        if parsed is None:
            break  # garbage in the chain: trust nothing further left
        address = parsed
        if not _within(parsed, trusted):
            break
    return str(address)


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


def _within(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def uuid_or_404(text: str, *, what: str) -> uuid.UUID:
    """A path id; one that is not even a UUID is simply not found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"{what} {text!r} not found") from None
