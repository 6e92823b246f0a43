"""Every query about events: storing them (with idempotency), reading, listing, counting.

Functions take the connection and the tenant and never commit: the caller owns the
transaction (the group-commit writer, a CLI command, a test).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from vigil.core.clock import utcnow
from vigil.core.errors import Conflict, NotFound
from vigil.core.pagination import Cursor, PageRequest
from vigil.db.types import UTCDateTime, UUIDType
from vigil.events.actor import actor_clause
from vigil.events.bulk import insert_rows
from vigil.events.filters import EventFilters
from vigil.events.geo import Geolocator
from vigil.events.ip_ranges import IPNetwork, key_range
from vigil.events.keyed_page import keyed_by_bitmaps
from vigil.events.prepare import PreparedEvent, prepare_event
from vigil.events.schemas import EventIn
from vigil.events.search_clauses import SearchClauses, query_clauses
from vigil.events.sequence import number_events
from vigil.events.tables import EventRow, event_row, events
from vigil.events.totals import bitmap_count, counted_total, worth_counting
from vigil.events.wire import PUBLIC_FIELDS

# The fields whose equality makes a repeated producer id a harmless retry.
CONTENT_FIELDS: Final = (
    "action",
    "resource_type",
    "resource_id",
    "user_id",
    "user_email",
    "ip_address",
    "user_agent",
    "details",
    "status",
)
_ID_LOOKUP_CHUNK = 500


@dataclass(slots=True)
class PendingBatch:
    """Events one request asked to store, all or none."""

    tenant_id: uuid.UUID
    events: list[PreparedEvent]


@dataclass(slots=True)
class BatchOutcome:
    """What became of a batch: each event's stored row and whether it is new, or a conflict."""

    rows: list[EventRow] = field(default_factory=list)
    created: list[bool] = field(default_factory=list)
    conflict: Conflict | None = None


def store_batches(
    conn: Connection, *, batches: Sequence[PendingBatch], received_at: datetime
) -> list[BatchOutcome]:
    """Insert every batch that does not conflict, in one statement; report each batch's fate.

    A producer-supplied id already stored (or earlier in this group) with the same content
    is a duplicate and returns the stored row; with other content it fails its whole batch.
    New events are numbered in their tenant's commit sequence (``events.sequence``), which
    is what every after-commit consumer reads: whoever calls this, the consumers see it.
    """
    existing = _existing_rows(conn, batches)
    claimed: dict[tuple[uuid.UUID, uuid.UUID], EventRow] = {}
    outcomes: list[BatchOutcome] = []
    to_insert: list[EventRow] = []
    for batch in batches:
        outcome = _resolve_batch(batch, existing, claimed, received_at)
        outcomes.append(outcome)
        if outcome.conflict is None:
            to_insert.extend(
                row for row, new in zip(outcome.rows, outcome.created, strict=True) if new
            )
    if to_insert:
        number_events(conn, rows=to_insert)
        insert_rows(conn, rows=to_insert)
    return outcomes


def _resolve_batch(
    batch: PendingBatch,
    existing: dict[tuple[uuid.UUID, uuid.UUID], EventRow],
    claimed: dict[tuple[uuid.UUID, uuid.UUID], EventRow],
    received_at: datetime,
) -> BatchOutcome:
    outcome = BatchOutcome()
    claimed_here: list[tuple[uuid.UUID, uuid.UUID]] = []
    for index, prepared in enumerate(batch.events):
        # Completed in place (a copy per event costs the hot path) into the row it becomes;
        # ``number_events`` sets its ``seq`` before ``store_batches`` returns.
        row: EventRow = prepared.row  # type: ignore[assignment]
        row["tenant_id"] = batch.tenant_id
        row["received_at"] = received_at
        key = (batch.tenant_id, row["id"])
        stored = (existing.get(key) or claimed.get(key)) if prepared.producer_id else None
        if stored is None:
            outcome.rows.append(row)
            outcome.created.append(True)
            if prepared.producer_id:
                claimed[key] = row
                claimed_here.append(key)
        elif _same_content(stored, prepared):
            outcome.rows.append(stored)
            outcome.created.append(False)
        else:
            for key in claimed_here:  # release this batch's ids: none of it is stored
                del claimed[key]
            where = f"events[{index}].id" if len(batch.events) > 1 else "id"
            message = f"{where}: event {row['id']} already exists with different content"
            return BatchOutcome(conflict=Conflict(message))
    return outcome


def _same_content(stored: EventRow, prepared: PreparedEvent) -> bool:
    row = prepared.row
    if any(stored[name] != row[name] for name in CONTENT_FIELDS):
        return False
    return not prepared.timestamp_given or stored["timestamp"] == row["timestamp"]


def _existing_rows(
    conn: Connection, batches: Sequence[PendingBatch]
) -> dict[tuple[uuid.UUID, uuid.UUID], EventRow]:
    wanted: dict[uuid.UUID, set[uuid.UUID]] = {}
    for batch in batches:
        ids = {p.row["id"] for p in batch.events if p.producer_id}
        if ids:
            wanted.setdefault(batch.tenant_id, set()).update(ids)
    found: dict[tuple[uuid.UUID, uuid.UUID], EventRow] = {}
    for tenant_id, ids in wanted.items():
        id_list = list(ids)
        for start in range(0, len(id_list), _ID_LOOKUP_CHUNK):
            chunk = id_list[start : start + _ID_LOOKUP_CHUNK]
            query = select(events).where(events.c.tenant_id == tenant_id, events.c.id.in_(chunk))
            for mapping in conn.execute(query).mappings():
                found[(tenant_id, mapping["id"])] = event_row(mapping)
    return found


def record(
    conn: Connection, *, tenant_id: uuid.UUID, event: EventIn, geo: Geolocator
) -> tuple[EventRow, bool]:
    """Record one event in the caller's transaction: the stored row and whether it is new.

    Call it as the transaction's last write: from here to the commit the tenant's commit
    sequence is held (``events.sequence``), and every consumer hears of the event once the
    caller commits, whichever process it runs in.
    """
    now = utcnow()
    batch = PendingBatch(tenant_id=tenant_id, events=[prepare_event(event, now=now, geo=geo)])
    (outcome,) = store_batches(conn, batches=[batch], received_at=now)
    if outcome.conflict is not None:
        raise outcome.conflict
    return outcome.rows[0], outcome.created[0]


def record_many(
    conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventIn], geo: Geolocator
) -> int:
    """Record events in the caller's transaction, all or none: how many were new.

    For importers and generators writing outside the request path; keep each call to
    about a thousand events, as the batch API does, so transactions stay short.
    """
    now = utcnow()
    prepared = [prepare_event(e, now=now, geo=geo) for e in events]
    batch = PendingBatch(tenant_id=tenant_id, events=prepared)
    (outcome,) = store_batches(conn, batches=[batch], received_at=now)
    if outcome.conflict is not None:
        raise outcome.conflict
    return sum(outcome.created)


def has_activity_of(
    conn: Connection, *, tenant_id: uuid.UUID, resource_types: Sequence[str]
) -> bool:
    """Whether the tenant holds any event about one of ``resource_types``."""
    query = select(events.c.id).where(
        events.c.tenant_id == tenant_id, events.c.resource_type.in_(list(resource_types))
    )
    return conn.execute(query.limit(1)).first() is not None


def get_event(conn: Connection, *, tenant_id: uuid.UUID, event_id: uuid.UUID) -> EventRow:
    """One event of the tenant; another tenant's id is as unknown as a made-up one."""
    query = select(events).where(events.c.tenant_id == tenant_id, events.c.id == event_id)
    mapping = conn.execute(query).mappings().first()
    if mapping is None:
        raise NotFound(f"event {event_id} not found")
    return event_row(mapping)


def get_events(
    conn: Connection, *, tenant_id: uuid.UUID, event_ids: Sequence[uuid.UUID]
) -> list[EventRow]:
    """Events of the tenant by id, in the order asked (ids it does not hold are skipped)."""
    if not event_ids:
        return []
    query = select(events).where(events.c.tenant_id == tenant_id, events.c.id.in_(event_ids))
    found = {row["id"]: event_row(row) for row in conn.execute(query).mappings()}
    return [found[i] for i in event_ids if i in found]


# Beyond this many matches, a search's total is given as "at least": counting every one of
# a common term's matches would cost a scan of the whole table.
SEARCH_TOTAL_CAP: Final = 10_000


@dataclass(slots=True)
class EventPageResult:
    """One page of rows, the total when asked, and where the next page starts.

    ``total`` is exact when ``total_exact``; otherwise at least that many events match
    (a search counted up to ``SEARCH_TOTAL_CAP``)."""

    rows: list[EventRow]
    total: int | None
    next_cursor: Cursor | None
    total_exact: bool = True


def list_events(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, page: PageRequest
) -> EventPageResult:
    """A newest-first page of matching events."""
    # Once for the page and the total: a search reads the search index to write them.
    clauses, search = _matching(conn, tenant_id=tenant_id, filters=filters)
    wanted = page.limit + 1 + (0 if page.cursor is not None else page.offset)
    query = _ordered(
        _with_search(
            conn, clauses, *_page_search(conn, tenant_id, filters, search, wanted, page.cursor)
        )
    )
    if page.cursor is not None:
        query = query.where(_older_than(page.cursor))
    else:
        query = query.offset(page.offset)
    fetched = [event_row(m) for m in conn.execute(query.limit(page.limit + 1)).mappings()]
    rows = fetched[: page.limit]
    next_cursor = None
    if len(fetched) > page.limit:
        last = rows[-1]
        next_cursor = Cursor(timestamp=last["timestamp"], id=last["id"])
    if not page.include_total:
        return EventPageResult(rows=rows, total=None, next_cursor=next_cursor)
    cap = SEARCH_TOTAL_CAP if filters.query.terms else None
    lone_term = cap is not None and len(clauses) == 1
    if lone_term and search.matched_at_least > SEARCH_TOTAL_CAP and not worth_counting(search):
        # The index's counts already say "more than the cap", in a millisecond, where the
        # bitmaps of a common word's many values take 100 ms at 1M events and ten times
        # that at 10M to count it exactly.
        return EventPageResult(
            rows, total=SEARCH_TOTAL_CAP, next_cursor=next_cursor, total_exact=False
        )
    counted = bitmap_count(filters, search)
    if counted is not None:
        total, exact = counted_total(
            conn, tenant_id=tenant_id, counted=counted, clauses=clauses, search=search, cap=cap
        )
        return EventPageResult(rows, total=total, next_cursor=next_cursor, total_exact=exact)
    total = _count(conn, _with_search(conn, clauses, search.clauses, search.keyed), cap)
    if cap is not None and total > cap:
        return EventPageResult(rows, total=cap, next_cursor=next_cursor, total_exact=False)
    return EventPageResult(rows=rows, total=total, next_cursor=next_cursor)


def _page_search(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    search: SearchClauses,
    wanted: int,
    older_than: Cursor | None,
) -> tuple[list[ColumnElement[bool]], bool]:
    """The search's clauses for a page of ``wanted`` rows (older than ``older_than``, the
    page's cursor, when given), and whether they are keyed: the postings' form the cost
    model picks, or, where it would walk the events, the newest of the events the bitmaps
    select, or all of them when they are few (``events.keyed_page``)."""
    if search.page_form(wanted) != "keyed":
        keyed = keyed_by_bitmaps(
            conn,
            tenant_id=tenant_id,
            filters=filters,
            search=search,
            wanted=wanted,
            older_than=older_than,
        )
        if keyed is not None:
            return [keyed], True
    return search.for_page(wanted)


def count_events(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, cap: int | None = None
) -> int:
    """The number of matching events; with ``cap``, counting stops past it, so any answer
    above ``cap`` (it is then ``cap + 1``) means "more than ``cap``"."""
    return _count(conn, match(conn, tenant_id=tenant_id, filters=filters), cap)


def _count(conn: Connection, where: list[ColumnElement[bool]], cap: int | None) -> int:
    if cap is None:
        query = select(func.count()).select_from(events).where(*where)
    else:
        matches = select(events.c.id).where(*where).limit(cap + 1).subquery()
        query = select(func.count()).select_from(matches)
    return int(conn.execute(query).scalar_one())


def iter_events(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    columns: Sequence[str] = PUBLIC_FIELDS,
    chunk_size: int = 2000,
) -> Iterator[Sequence[Any]]:
    """Every matching event, newest first, as tuples of ``columns``, streamed."""
    query = _ordered(match(conn, tenant_id=tenant_id, filters=filters)).with_only_columns(
        *(events.c[name] for name in columns)
    )
    streaming = conn.execution_options(stream_results=True, yield_per=chunk_size)
    for row in streaming.execute(query):
        yield tuple(row)


def _ordered(where: list[ColumnElement[bool]]) -> Select[Any]:
    return select(events).where(*where).order_by(events.c.timestamp.desc(), events.c.id.desc())


def _older_than(cursor: Cursor) -> ColumnElement[bool]:
    return tuple_(events.c.timestamp, events.c.id) < tuple_(
        literal(cursor.timestamp, UTCDateTime()), literal(cursor.id, UUIDType())
    )


def match(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, window: bool = False
) -> list[ColumnElement[bool]]:
    """WHERE clauses selecting the tenant's events that pass ``filters``. A ``window`` (a
    detection's few minutes of events) tests the terms of ``q`` on each event in it
    rather than look them up in the search index, whose candidates span all time."""
    clauses, search = _matching(conn, tenant_id=tenant_id, filters=filters, use_index=not window)
    return _with_search(conn, clauses, search.clauses, search.keyed)


def _matching(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, use_index: bool = True
) -> tuple[list[ColumnElement[bool]], SearchClauses]:
    """The clauses of every filter but ``q`` (the tenant's first), and those of ``q``."""
    c = events.c
    tenant = c.tenant_id == tenant_id
    clauses: list[ColumnElement[bool]] = [tenant]
    if filters.actions:
        clauses.append(c.action.in_([a.value for a in filters.actions]))
    if filters.resource_types:
        clauses.append(c.resource_type.in_([r.value for r in filters.resource_types]))
    for name in ("resource_id", "user_id", "user_email"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append(c[name] == value)
    if filters.actor is not None:
        clauses.append(actor_clause(filters.actor))
    if filters.ip_networks:
        clauses.append(or_(*(_in_network(network) for network in filters.ip_networks)))
    if filters.countries:
        clauses.append(c.country.in_(filters.countries))
    if filters.status is not None:
        clauses.append(c.status == filters.status.value)
    if filters.start is not None:
        clauses.append(c.timestamp >= filters.start)
    if filters.end is not None:
        clauses.append(c.timestamp < filters.end)
    search = query_clauses(conn, tenant_id=tenant_id, query=filters.query, use_index=use_index)
    return clauses, search


def _with_search(
    conn: Connection,
    clauses: list[ColumnElement[bool]],
    search: list[ColumnElement[bool]],
    keyed: bool,
) -> list[ColumnElement[bool]]:
    """``clauses`` (the tenant's first) and then the search's, ``keyed`` or not."""
    if keyed and conn.dialect.name == "sqlite":
        # A search already names the tenant's candidate rows by row id; SQLite, also given
        # the tenant, would walk the tenant's index newest first testing every row instead.
        return [*clauses[1:], *search]
    return [*clauses, *search]


def _in_network(network: IPNetwork) -> ColumnElement[bool]:
    """The events whose address is in ``network``: a range of ``ip_key``, one key for a
    single address (rows not yet given a key match nothing)."""
    first, last = key_range(network)
    return events.c.ip_key == first if first == last else events.c.ip_key.between(first, last)
