"""HTTP for the live feed: ``GET /audit-logs/stream``, Server-Sent Events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse
from pydantic import Field
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from vigil.accounts.access import rule_for
from vigil.accounts.deps import Caller, lookup_credential, presented_token
from vigil.core.errors import InvalidInput, TooManyRequests
from vigil.core.http import errors
from vigil.core.principal import Principal
from vigil.core.tokens import fingerprint
from vigil.events.filters import EventFilters
from vigil.events.params import EventQuery
from vigil.live.hub import LiveHub, Recheck, Subscriber, TooManyStreams
from vigil.live.stream import Frame, first_kept, frames, wire

router = APIRouter(tags=["live feed"])
STREAM_PATH = "/audit-logs/stream"
RETRY_AFTER_SECONDS = 30  # past the stream limits: when one of them may have closed
MAX_CURSOR_DIGITS = 19  # a seq is a BIGINT
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events, until the client closes the stream",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


class StreamQuery(EventQuery):
    """``GET /audit-logs/stream``: every list filter, and where to resume."""

    after: str | None = Field(
        default=None,
        max_length=20,
        description="Resume after this event id (an earlier stream's `id:`); the"
        " `Last-Event-ID` header, which a browser sends by itself, wins",
    )
    alerts: bool = Field(
        default=True, description="Also `event: alert` when an alert opens or becomes more severe"
    )


@dataclass(frozen=True, slots=True)
class OpenStream:
    """A subscription taken, and where its stream starts."""

    subscriber: Subscriber
    after: int | None
    head: int
    oldest: int

    def batches(self, request: Request) -> AsyncIterator[list[Frame]]:
        """The stream's frames in batches (``live.stream.frames``)."""
        return frames(
            request.app.state.engine,
            self.subscriber,
            after=self.after,
            head=self.head,
            oldest=self.oldest,
        )


class _LiveResponse(EventSourceResponse):
    """A live stream's response: it gives the subscription back when it ends, however it
    ends: the stream over, the client gone mid-stream, or gone before the first byte
    (Starlette then cancels the response before the body is ever read, so a ``finally``
    in the body's generator would never run)."""

    def __init__(self, content: AsyncIterator[bytes], *, on_close: Callable[[], None]) -> None:
        super().__init__(content, headers=STREAM_HEADERS)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


def event_stream(
    request: Request, opened: OpenStream, batches: AsyncIterator[list[Frame]]
) -> EventSourceResponse:
    """The response that sends ``batches`` of ``opened``'s stream, each one write, and
    unsubscribes when it ends; proxies told not to buffer or cache it."""
    hub: LiveHub = request.app.state.live

    async def chunks() -> AsyncIterator[bytes]:
        async for batch in batches:
            yield wire(batch)

    return _LiveResponse(chunks(), on_close=partial(hub.unsubscribe, opened.subscriber))


async def open_stream(
    request: Request,
    principal: Caller,
    query: Annotated[StreamQuery, Query()],
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> OpenStream:
    """Validate the request and subscribe, before the 200 is sent: a bad filter or
    cursor is a 422, a stream past the limits a 429."""
    return await subscribe(
        request,
        principal,
        query.filters(),
        cursor=last_event_id if last_event_id is not None else query.after,
        alerts=query.alerts,
    )


async def subscribe(
    request: Request,
    principal: Principal,
    filters: EventFilters,
    *,
    cursor: str | None,
    alerts: bool = True,
) -> OpenStream:
    """Subscribe ``principal`` to its tenant's events matching ``filters`` (and alerts
    unless ``alerts`` is false), resuming after ``cursor`` (an earlier stream's id) when
    given. Raises
    ``InvalidInput`` for a cursor that is not one, ``TooManyRequests`` past the limits."""
    after = _cursor(cursor)
    hub: LiveHub = request.app.state.live
    token = presented_token(request) or ""
    head, oldest = await run_in_threadpool(
        first_kept, request.app.state.engine, principal.tenant_id
    )
    try:
        subscriber = hub.subscribe(
            tenant_id=principal.tenant_id,
            filters=filters,
            credential=token,
            credential_id=fingerprint(token),
            position=head,
            alerts=alerts,
            # A signed-in person's own in-app notifications; an API key has none.
            user_id=principal.user_id if principal.session_id is not None else None,
        )
    except TooManyStreams as error:
        raise TooManyRequests(str(error), retry_after=RETRY_AFTER_SECONDS) from error
    return OpenStream(subscriber, after, head, oldest)


@router.get(
    STREAM_PATH,
    # The response is built here (``event_stream``): FastAPI is told only what it is.
    response_class=Response,
    summary="Stream matching events as they commit (Server-Sent Events)",
    responses={**STREAM_RESPONSE, **errors(422, 429)},
)
async def stream_audit_logs(
    request: Request,
    principal: Caller,  # resolved once, with ``open_stream``'s
    opened: Annotated[OpenStream, Depends(open_stream)],
) -> EventSourceResponse:
    """`event: activity` for each matching event, its `id:` a cursor to resume from;
    `event: alert` when an alert opens or escalates (unless `alerts=false`), and to a
    signed-in person `event: notification` for each new in-app notification of theirs;
    `event: reset` when a cursor's events were purged (the stream goes on from the oldest
    kept), when the stream fell too far behind or its credential was revoked (it then
    ends: reconnect with `Last-Event-ID`). A comment every 15 s keeps proxies from
    closing an idle stream. Takes every filter of the list."""
    return event_stream(request, opened, opened.batches(request))


def _cursor(text: str | None) -> int | None:
    """A resume cursor: a seq, as the stream's ids give it."""
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_CURSOR_DIGITS):
        raise InvalidInput("after", "an event id from an earlier stream (digits), or nothing")
    return int(text)


STREAM_RULE = rule_for("GET", STREAM_PATH)


def credential_still_admits(engine: Engine) -> Recheck:
    """The hub's recheck: the credential still valid, of the tenant, with a permission
    the stream's rule names."""

    def admits(token: str, tenant_id: uuid.UUID) -> bool:
        principal = lookup_credential(engine, token)
        if principal is None or principal.tenant_id != tenant_id:
            return False
        return bool(principal.permissions & STREAM_RULE.any_of)

    return admits
