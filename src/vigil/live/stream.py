"""One subscriber's stream of Server-Sent Events (WHATWG HTML, "Server-sent events"):
first the events committed after its cursor, read from the database in commit order, then
what the hub sends as it commits, each event once.

Every event's ``id:`` is its ``seq``, the tenant's commit sequence, so a client that
reconnects with ``Last-Event-ID`` (or ``?after=``) resumes exactly where it stopped: the
replay reads the database after that cursor, the hub's events up to what the replay sent
are dropped, and ``seq`` has no gaps but those retention purged. A cursor whose next
events were purged gets a ``reset`` event saying so, and the stream goes on from the
oldest event kept. A stream ends with a ``reset`` when its subscriber fell too far behind
(resume from the last id) or its credential was revoked.

What is waiting for a subscriber goes out as one chunk of events, each written by FastAPI's
own ``format_sse_event``: a batch of 1,000 events is one write, not 1,000 trips through
the ASGI stack (``frames``, ``wire``). A comment every ``KEEPALIVE_SECONDS`` of quiet
keeps proxies from closing the stream.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, Final, NamedTuple

import orjson
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import format_sse_event
from sqlalchemy import Engine, func, select

from vigil.events.service import match
from vigil.events.tables import EventRow, event_row, events
from vigil.live.hub import ACTIVITY, Subscriber, activity_frame
from vigil.spine.service import last_seq

RETRY_MS: Final = 3_000  # how long a browser waits before reconnecting
REPLAY_PAGE: Final = 500  # events read per statement while replaying
KEEPALIVE_SECONDS: Final = 15.0

RESET = "reset"


class Frame(NamedTuple):
    """One Server-Sent Event: its type, data (JSON text, or the console's HTML), id; and
    for an event, its stored row (not sent: the console renders its row from it) and the
    frame as the API's stream sends it, written once for every stream that gets it
    (``hub.activity_frame``; None once the console replaced the data)."""

    event: str | None = None
    data: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None
    row: EventRow | None = None
    encoded: bytes | None = None


KEEPALIVE: Final = Frame(comment="ping")


def wire(frames: list[Frame]) -> bytes:
    """``frames`` as the bytes of the stream (WHATWG HTML, "Server-sent events")."""
    return b"".join(
        f.encoded
        if f.encoded is not None
        else format_sse_event(
            data_str=f.data, event=f.event, id=f.id, retry=f.retry, comment=f.comment
        )
        for f in frames
    )


def first_kept(engine: Engine, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(the tenant's last seq, the seq of its oldest stored event, or last + 1 if none)."""
    with engine.connect() as conn:
        head = last_seq(conn, tenant_id=tenant_id)
        oldest = conn.execute(
            select(func.min(events.c.seq)).where(events.c.tenant_id == tenant_id)
        ).scalar_one_or_none()
    return head, head + 1 if oldest is None else int(oldest)


async def frames(
    engine: Engine, subscriber: Subscriber, *, after: int | None, head: int, oldest: int
) -> AsyncIterator[list[Frame]]:
    """The stream of ``subscriber`` (already subscribed at ``head``) in batches: ``retry:``
    first, then the replay after ``after`` (when given), then what the hub queues, each
    batch all that was waiting, until the stream ends."""
    yield [Frame(comment="vigil live feed", retry=RETRY_MS)]
    sent = head
    if after is not None:
        sent = after
        if after > head:
            yield [_reset("unknown_cursor", f"no event {after} yet: going on from now", head)]
            sent = head
        elif oldest > after + 1:
            detail = (
                f"events after {after} are older than this tenant's retention and were"
                f" purged: going on from the oldest kept, {oldest}"
            )
            yield [_reset("expired_cursor", detail, oldest - 1)]
            sent = oldest - 1
        while True:
            page = await run_in_threadpool(_replay, engine, subscriber, sent)
            if page:
                yield page
            if len(page) < REPLAY_PAGE:
                # Matching or not, every event up to here was read: the live ones after
                # it are new (the hub may hold some already sent).
                sent = max(sent, _seq(page[-1])) if page else sent
                break
            sent = _seq(page[-1])
    async for batch in _live(subscriber, sent):
        yield batch


async def _live(subscriber: Subscriber, sent: int) -> AsyncIterator[list[Frame]]:
    while True:
        # Cleared before taking what waits: whatever the hub queues from here on, even
        # while a batch is being written, sets it again.
        subscriber.arrived.clear()
        batch = []
        while subscriber.pending:
            kind, seq, data, row = subscriber.pending.popleft()
            if kind != ACTIVITY:  # a signal: no id, so a reconnect resumes the events
                batch.append(Frame(event=kind, data=data.decode()))
            elif seq > sent and row is not None:
                sent = seq
                batch.append(Frame(event=ACTIVITY, id=str(seq), row=row, encoded=data))
        if subscriber.ended == "behind":
            detail = "this stream fell too far behind: reconnect with Last-Event-ID to resume"
            yield [*batch, _reset("behind", detail, sent)]
            return
        if subscriber.ended is not None:
            yield [*batch, _reset("revoked", "the credential no longer admits this stream", sent)]
            return
        if batch:
            yield batch
            continue
        try:
            # ``asyncio.timeout``, not ``wait_for``: that wraps the wait in a task of its
            # own, a task and three callbacks more for every batch of every stream.
            async with asyncio.timeout(KEEPALIVE_SECONDS):
                await subscriber.arrived.wait()
        except TimeoutError:
            yield [KEEPALIVE]


def _replay(engine: Engine, subscriber: Subscriber, after: int) -> list[Frame]:
    """The frames of the next matching events after ``after``, in commit order
    (``REPLAY_PAGE`` at most; written here, in a worker thread)."""
    with engine.connect() as conn:
        where = match(conn, tenant_id=subscriber.tenant_id, filters=subscriber.filters)
        query = (
            select(events)
            .where(*where, events.c.tenant_id == subscriber.tenant_id, events.c.seq > after)
            .order_by(events.c.seq)
            .limit(REPLAY_PAGE)
        )
        rows = [event_row(m) for m in conn.execute(query).mappings()]
    return [Frame(ACTIVITY, id=str(r["seq"]), row=r, encoded=activity_frame(r)) for r in rows]


def _seq(frame: Frame) -> int:
    assert frame.row is not None  # an event's frame
    return frame.row["seq"]


def _reset(reason: str, detail: str, resume_after: int) -> Frame:
    body: dict[str, Any] = {"reason": reason, "detail": detail, "resume_after": resume_after}
    return Frame(event=RESET, data=orjson.dumps(body).decode(), id=str(resume_after))
