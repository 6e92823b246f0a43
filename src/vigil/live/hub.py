"""This node's live feed: committed events fanned out to its subscribers, as they commit.

The hub is woken with the spine's consumers (``spine.dispatcher``): at once when this
process's writer commits, by ``LISTEN`` when another PostgreSQL node does, by SQLite's
``data_version`` when another process does. A thread then reads, for each tenant someone
here is subscribed to, the events after the last one it fanned out, in commit order (from
the rows this process just committed when it holds them, ``spine.recent``, else from the
database): each committed batch is read once per node, whatever the subscribers. The
subscribers an event may reach are looked up by its values (``live.routing``: streams
with the same filters tested once, those watching one person or resource only on that
person's or resource's events), their filters tested in memory (``events.filter_match``),
and a match is queued for each, the event's JSON written once for all of them.

A subscriber's queue is bounded: one that falls ``QUEUE_EVENTS`` behind is marked
``behind``, its queue dropped, and its stream ends with a ``reset`` (the client resumes
from its last id, from the database), so a slow reader neither slows the others nor
grows the server's memory. Every ``RECHECK_SECONDS`` the hub looks each distinct
credential up again and closes the streams of one that was revoked or lost the right to
read (DESIGN §3, the live feed).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

import orjson
from fastapi.sse import format_sse_event
from sqlalchemy import Engine, select

from vigil.core.clock import utcnow
from vigil.events.commit_log import events_after
from vigil.events.filters import EventFilters
from vigil.events.tables import EventRow, event_sequences
from vigil.events.wire import event_json
from vigil.live.routing import Routes
from vigil.live.signals import ALERT, NOTIFICATION
from vigil.live.tables import live_signals, signal_row
from vigil.spine.recent import RecentCommits

log = logging.getLogger(__name__)

READ_EVENTS: Final = 1_000  # events read per statement
# A subscriber this far behind is reset (``VIGIL_LIVE_QUEUE_EVENTS``): four of the largest
# batches (which arrive at once), so one that keeps up never is. The events' JSON is
# shared by every subscriber.
QUEUE_EVENTS: Final = 4_096
RECHECK_SECONDS: Final = 4.0  # a revoked credential's streams end within this (and a wake)

# Whether a credential (the token) still admits a live stream of the tenant, looked up
# afresh; called in the hub's thread.
Recheck = Callable[[str, uuid.UUID], bool]
# (kind, seq or 0, data, the stored row of an event: the console renders its row from
# it). An event's data is its whole frame as the API's stream sends it, written once for
# every stream (``activity_frame``); a signal's is its JSON.
Pending = tuple[str, int, bytes, EventRow | None]
ACTIVITY: Final = "activity"
# Signals written up to this long before a look are looked for again: a transaction that
# took a moment to commit, or another node's clock a little behind.
SIGNAL_LOOKBACK: Final = timedelta(seconds=10)


class TooManyStreams(Exception):
    """A tenant or a credential already has as many live streams as allowed here."""


@dataclass(slots=True, eq=False)
class Subscriber:
    """One open stream: what it asked for and what is waiting to be sent.

    ``pending`` holds (kind, seq, JSON, row): events in commit order (kind ``activity``,
    their seq, their stored row), and signals (``alert``, ``notification``; seq 0, no row)
    as they came; ``arrived`` is set when something was queued or the stream must end
    (``ended`` says why). ``alerts``: whether it wants alerts; ``user_id``: the signed-in
    person whose in-app notifications it gets (None for an API key)."""

    tenant_id: uuid.UUID
    filters: EventFilters
    credential: str  # the token itself, to look it up again (never logged)
    credential_id: str  # its fingerprint
    alerts: bool = True
    user_id: uuid.UUID | None = None
    queue_events: int = QUEUE_EVENTS
    pending: deque[Pending] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    ended: str | None = None  # "behind" or "revoked"

    def offer(self, events: list[Pending]) -> None:
        """Queue ``events`` (in the event loop); past ``QUEUE_EVENTS``, end as behind."""
        if self.ended is not None:
            return
        if len(self.pending) + len(events) > self.queue_events:
            self.pending.clear()
            self.ended = "behind"
        else:
            self.pending.extend(events)
        self.arrived.set()

    def end(self, reason: str) -> None:
        """End the stream (in the event loop)."""
        if self.ended is None:
            self.ended = reason
            self.pending.clear()
        self.arrived.set()


class LiveHub:
    """Fans out the events of subscribed tenants to this process's subscribers."""

    def __init__(
        self,
        engine: Engine,
        *,
        recent: RecentCommits | None,
        recheck: Recheck,
        max_per_tenant: int,
        max_per_credential: int,
        queue_events: int = QUEUE_EVENTS,
    ) -> None:
        self._engine = engine
        self._recent = recent
        self._recheck = recheck
        self._max_per_tenant = max_per_tenant
        self._max_per_credential = max_per_credential
        self._queue_events = queue_events
        self._subscribers: dict[uuid.UUID, set[Subscriber]] = {}
        self._positions: dict[uuid.UUID, int] = {}  # the last seq fanned out, by tenant
        # Built when first needed after the tenant's subscribers changed (``live.routing``).
        self._routes: dict[uuid.UUID, Routes[Subscriber]] = {}
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-live", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checked_at = time.monotonic()
        self._signals_since = utcnow() - SIGNAL_LOOKBACK
        self._signals_seen: dict[uuid.UUID, datetime] = {}  # recent signals already sent

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start fanning out into ``loop``, where the subscribers' streams run."""
        self._loop = loop
        self._thread.start()

    def stop(self) -> None:
        """Stop (within a second)."""
        self._stopping.set()
        self._woken.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def wake(self) -> None:
        """Events may have committed (any thread; never blocks)."""
        self._woken.set()

    def subscribe(
        self, *, tenant_id: uuid.UUID, filters: EventFilters, credential: str, credential_id: str,
        position: int, alerts: bool = True, user_id: uuid.UUID | None = None,
    ) -> Subscriber:  # fmt: skip
        """A new subscriber (in the event loop), sent every event after ``position`` (the
        tenant's last seq as read just before) that the hub fans out from now on. Raises
        ``TooManyStreams`` past the tenant's or the credential's limit."""
        with self._lock:
            mine = self._subscribers.get(tenant_id, set())
            if len(mine) >= self._max_per_tenant:
                raise TooManyStreams(
                    f"this tenant has {len(mine)} live streams open here, the most allowed"
                    " (VIGIL_LIVE_MAX_PER_TENANT)"
                )
            same = sum(1 for s in mine if s.credential_id == credential_id)
            if same >= self._max_per_credential:
                raise TooManyStreams(
                    f"this credential has {same} live streams open, the most allowed"
                    " (VIGIL_LIVE_MAX_PER_CREDENTIAL)"
                )
            subscriber = Subscriber(
                tenant_id,
                filters,
                credential,
                credential_id,
                alerts=alerts,
                user_id=user_id,
                queue_events=self._queue_events,
            )
            self._subscribers.setdefault(tenant_id, set()).add(subscriber)
            self._routes.pop(tenant_id, None)
            # A tenant new here starts at ``position``; one already fanned out past it
            # goes on: what committed in between is in the database, which the subscriber
            # reads after subscribing, and a duplicate is dropped by its seq.
            self._positions.setdefault(tenant_id, position)
        self._woken.set()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber whose stream ended."""
        with self._lock:
            mine = self._subscribers.get(subscriber.tenant_id)
            if mine is None:
                return
            mine.discard(subscriber)
            self._routes.pop(subscriber.tenant_id, None)
            if not mine:
                del self._subscribers[subscriber.tenant_id]
                self._positions.pop(subscriber.tenant_id, None)

    def _run(self) -> None:
        while not self._stopping.is_set():
            woken = self._woken.wait(timeout=1.0)
            self._woken.clear()
            if self._stopping.is_set():
                return
            try:
                if woken:
                    self._fan_out_all()
                self._fan_out_signals()
                if time.monotonic() - self._checked_at >= RECHECK_SECONDS:
                    self._checked_at = time.monotonic()
                    self._recheck_credentials()
            except Exception:  # keep serving: the next wake reads from the same position
                log.exception("the live feed could not read new events")
                self._stopping.wait(1.0)
                self._woken.set()

    def _fan_out_all(self) -> None:
        with self._lock:
            positions = dict(self._positions)
        if not positions:
            return
        heads = self._heads(list(positions))
        for tenant_id, position in positions.items():
            head = heads.get(tenant_id, 0)
            while position < head and not self._stopping.is_set():
                rows = self._read(tenant_id, position)
                if not rows:
                    break
                position = rows[-1]["seq"]
                self._deliver(tenant_id, rows)

    def _heads(self, tenants: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The last seq of each tenant, in one statement."""
        s = event_sequences.c
        query = select(s.tenant_id, s.last_seq).where(s.tenant_id.in_(tenants))
        with self._engine.connect() as conn:
            return {tenant_id: int(last) for tenant_id, last in conn.execute(query)}

    def _read(self, tenant_id: uuid.UUID, position: int) -> list[EventRow]:
        if self._recent is not None:
            held = self._recent.after(tenant_id=tenant_id, after_seq=position, limit=READ_EVENTS)
            if held:
                return held
        with self._engine.connect() as conn:
            return events_after(conn, tenant_id=tenant_id, after_seq=position, limit=READ_EVENTS)

    def _deliver(self, tenant_id: uuid.UUID, rows: list[EventRow]) -> None:
        """Move the tenant's position past ``rows`` and queue them for its subscribers."""
        with self._lock:
            if tenant_id not in self._positions:
                return  # its last subscriber left meanwhile
            self._positions[tenant_id] = max(self._positions[tenant_id], rows[-1]["seq"])
            routes = self._routes.get(tenant_id)
            if routes is None:
                subscribers = self._subscribers.get(tenant_id, ())
                routes = Routes.build((s.filters, s) for s in subscribers)
                self._routes[tenant_id] = routes
        picked: dict[Subscriber, list[Pending]] = {}
        for row in rows:
            passed = routes.of(row)
            if not passed:
                continue
            item = (ACTIVITY, row["seq"], activity_frame(row), row)  # once for all
            for route in passed:
                for subscriber in route.subscribers:
                    picked.setdefault(subscriber, []).append(item)
        chosen = list(picked.items())
        if chosen and self._loop is not None:
            self._loop.call_soon_threadsafe(_offer_all, chosen)

    def _fan_out_signals(self) -> None:
        """Queue the alerts and notifications written since the last look (by any node)
        for the subscribers they are for."""
        with self._lock:
            tenants = list(self._subscribers)
        started = utcnow()
        if not tenants:
            self._signals_since = started - SIGNAL_LOOKBACK
            return
        s = live_signals.c
        query = (
            select(live_signals)
            .where(s.tenant_id.in_(tenants), s.created_at >= self._signals_since)
            .order_by(s.created_at, s.id)
        )
        with self._engine.connect() as conn:
            found = [signal_row(m) for m in conn.execute(query).mappings()]
        self._signals_since = started - SIGNAL_LOOKBACK
        fresh = [row for row in found if row["id"] not in self._signals_seen]
        for row in fresh:
            self._signals_seen[row["id"]] = row["created_at"]
        for seen, at in list(self._signals_seen.items()):
            if at < self._signals_since - SIGNAL_LOOKBACK:
                del self._signals_seen[seen]
        if not fresh:
            return
        with self._lock:
            subscribers = {t: list(self._subscribers.get(t, ())) for t in tenants}
        chosen: list[tuple[Subscriber, list[Pending]]] = []
        for tenant_id, mine in subscribers.items():
            theirs = [row for row in fresh if row["tenant_id"] == tenant_id]
            for subscriber in mine:
                picked: list[Pending] = [
                    (row["kind"], 0, row["body"].encode(), None)
                    for row in theirs
                    if (row["kind"] == ALERT and subscriber.alerts)
                    or (row["kind"] == NOTIFICATION and row["user_id"] == subscriber.user_id)
                ]
                if picked:
                    chosen.append((subscriber, picked))
        if chosen and self._loop is not None:
            self._loop.call_soon_threadsafe(_offer_all, chosen)

    def _recheck_credentials(self) -> None:
        """End the streams of credentials that no longer admit them: each distinct
        credential looked up once (a key shared by many streams costs one lookup)."""
        with self._lock:
            by_credential: dict[tuple[str, uuid.UUID], list[Subscriber]] = {}
            for mine in self._subscribers.values():
                for subscriber in mine:
                    key = (subscriber.credential_id, subscriber.tenant_id)
                    by_credential.setdefault(key, []).append(subscriber)
        for (_, tenant_id), subscribers in by_credential.items():
            if not self._recheck(subscribers[0].credential, tenant_id) and self._loop:
                self._loop.call_soon_threadsafe(_end_all, subscribers, "revoked")


def activity_frame(row: EventRow) -> bytes:
    """The Server-Sent Event of a stored event (WHATWG HTML, "Server-sent events"): its
    ``seq`` as ``id:`` (the resume cursor), ``event: activity``, and as ``data:`` the
    event as the list returns it (JSON on one line), written by FastAPI's own
    ``format_sse_event``."""
    data = orjson.dumps(event_json(row)).decode()
    return format_sse_event(data_str=data, event=ACTIVITY, id=str(row["seq"]))


def _end_all(subscribers: list[Subscriber], reason: str) -> None:
    for subscriber in subscribers:
        subscriber.end(reason)


def _offer_all(chosen: list[tuple[Subscriber, list[Pending]]]) -> None:
    for subscriber, events in chosen:
        subscriber.offer(events)
