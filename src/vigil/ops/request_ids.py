"""The request id: one per request, echoed in ``X-Request-ID``, in the request's log lines
and in the details of the events Vigil records while serving it."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import Any

HEADER = b"x-request-id"
MAX_LENGTH = 64
# What an incoming id may keep: letters, digits and the punctuation of UUIDs, base64 and
# trace ids. Not "_": Vigil's own credentials (vk_…, vs_…) then never survive as an id,
# should a client put one in the header.
_NOT_ALLOWED = re.compile(rb"[^A-Za-z0-9.:+/=-]")

_current: ContextVar[str | None] = ContextVar("vigil_request_id", default=None)


def request_id_from(incoming: bytes | None) -> str:
    """The id of a request: the client's ``X-Request-ID`` with anything but
    ``[A-Za-z0-9.:+/=-]`` removed and cut to 64 characters, or, when that leaves nothing,
    a new random one (32 hex digits)."""
    if incoming:
        kept = _NOT_ALLOWED.sub(b"", incoming[: MAX_LENGTH * 4])[:MAX_LENGTH]
        if kept:
            return kept.decode("ascii")
    return os.urandom(16).hex()  # what uuid4 draws, without building a UUID


def current_request_id() -> str | None:
    """The id of the request being served in this context; None outside a request (the
    CLI, background jobs)."""
    return _current.get()


def with_request_id(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` of an event Vigil records itself, with the current request's id added as
    ``request_id`` (unchanged outside a request)."""
    request_id = _current.get()
    return details if request_id is None else {**details, "request_id": request_id}


# For the middleware that serves the request: ``set`` returns the token ``reset`` takes.
bind_request_id = _current.set
unbind_request_id = _current.reset
