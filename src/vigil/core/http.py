"""HTTP plumbing: fast JSON responses and bounded request bodies."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from vigil.core.errors import PayloadTooLarge

MAX_BODY_BYTES = 10 * 1024 * 1024


class FastJSONResponse(JSONResponse):
    """JSON through orjson: UUIDs natively, pre-serialised ``orjson.Fragment`` values as-is."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing (413) anything over ``limit`` before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit // (1024 * 1024)} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is larger than {limit // (1024 * 1024)} MiB")
        chunks.append(chunk)
    return b"".join(chunks)
