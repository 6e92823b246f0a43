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
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, Final

import orjson
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import ServerSentEvent
from sqlalchemy import Engine, func, select

from vigil.events.service import match
from vigil.events.tables import event_row, events
from vigil.events.wire import event_json
from vigil.live.hub import ACTIVITY, Subscriber
from vigil.spine.service import last_seq

RETRY_MS: Final = 3_000  # how long a browser waits before reconnecting
REPLAY_PAGE: Final = 500  # events read per statement while replaying

RESET = "reset"


def first_kept(engine: Engine, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(the tenant's last seq, the seq of its oldest stored event, or last + 1 if none)."""
    with engine.connect() as conn:
        head = last_seq(conn, tenant_id=tenant_id)
        oldest = conn.execute(
            select(func.min(events.c.seq)).where(events.c.tenant_id == tenant_id)
        ).scalar_one_or_none()
    return head, head + 1 if oldest is None else int(oldest)


async def activity_events(
    engine: Engine, subscriber: Subscriber, *, after: int | None, head: int, oldest: int
) -> AsyncIterator[ServerSentEvent]:
    """The stream of ``subscriber`` (already subscribed at ``head``): ``retry:`` first,
    then the replay after ``after`` (when given), then live events until it ends."""
    yield ServerSentEvent(comment="vigil live feed", retry=RETRY_MS)
    sent = head
    if after is not None:
        sent = after
        if after > head:
            yield _reset("unknown_cursor", f"no event {after} yet: going on from now", head)
            sent = head
        elif oldest > after + 1:
            detail = (
                f"events after {after} are older than this tenant's retention and were"
                f" purged: going on from the oldest kept, {oldest}"
            )
            yield _reset("expired_cursor", detail, oldest - 1)
            sent = oldest - 1
        while True:
            page = await run_in_threadpool(_replay, engine, subscriber, sent)
            for seq, data in page:
                yield _activity(seq, data)
            if len(page) < REPLAY_PAGE:
                # Matching or not, every event up to here was read: the live ones after
                # it are new (the hub may hold some already sent).
                sent = max(sent, page[-1][0]) if page else sent
                break
            sent = page[-1][0]
    async for item in _live(subscriber, sent):
        yield item


async def _live(subscriber: Subscriber, sent: int) -> AsyncIterator[ServerSentEvent]:
    while True:
        while subscriber.pending:
            kind, seq, data = subscriber.pending.popleft()
            if kind != ACTIVITY:  # a signal: no id, so a reconnect resumes the events
                yield ServerSentEvent(raw_data=data.decode(), event=kind)
            elif seq > sent:
                sent = seq
                yield _activity(seq, data)
        if subscriber.ended == "behind":
            detail = "this stream fell too far behind: reconnect with Last-Event-ID to resume"
            yield _reset("behind", detail, sent)
            return
        if subscriber.ended is not None:
            yield _reset("revoked", "the credential no longer admits this stream", sent)
            return
        subscriber.arrived.clear()
        await subscriber.arrived.wait()


def _replay(engine: Engine, subscriber: Subscriber, after: int) -> list[tuple[int, bytes]]:
    """The next matching events after ``after``, in commit order (``REPLAY_PAGE`` at
    most), as (seq, JSON)."""
    with engine.connect() as conn:
        where = match(conn, tenant_id=subscriber.tenant_id, filters=subscriber.filters)
        query = (
            select(events)
            .where(*where, events.c.tenant_id == subscriber.tenant_id, events.c.seq > after)
            .order_by(events.c.seq)
            .limit(REPLAY_PAGE)
        )
        rows = [event_row(m) for m in conn.execute(query).mappings()]
    return [(row["seq"], orjson.dumps(event_json(row))) for row in rows]


def _activity(seq: int, data: bytes) -> ServerSentEvent:
    return ServerSentEvent(raw_data=data.decode(), event=ACTIVITY, id=str(seq))


def _reset(reason: str, detail: str, resume_after: int) -> ServerSentEvent:
    body: dict[str, Any] = {"reason": reason, "detail": detail, "resume_after": resume_after}
    return ServerSentEvent(raw_data=orjson.dumps(body).decode(), event=RESET, id=str(resume_after))
