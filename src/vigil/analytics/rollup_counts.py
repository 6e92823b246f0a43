"""Counts of events by kind and time slot from the activity rollups (``analytics.rollups``),
exact at any moment: whole hours come from the counters, and the rest is read from the
events themselves (the partial hours at the ends of the range, and events the rollups'
consumer has not reached yet).

It is all one statement, so the counters and the consumer's cursor are read in one
snapshot (a statement sees one on both databases): a pass that commits meanwhile can never
have its events counted twice or not at all.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, func, literal, select, union_all
from sqlalchemy.sql import Select

from vigil.analytics.rollup_tables import activity_hours
from vigil.analytics.rollups import CONSUMER_NAME, MICROS_PER_HOUR, hour_of
from vigil.core.clock import from_micros
from vigil.events.counts import KindCount, SlotOf
from vigil.events.filters import EventFilters
from vigil.events.service import match
from vigil.events.tables import events
from vigil.spine.tables import consumer_cursors

# Filters the counters can answer: their own columns, and a time range.
ROLLED_UP_FIELDS = frozenset({"actions", "resource_types", "status", "start", "end"})
_DESCRIPTIVE = frozenset({"start_text", "end_text"})


def answers(filters: EventFilters) -> bool:
    """Whether the rollups can count the events ``filters`` select: only action, resource
    type, status and a time range are set."""
    default = EventFilters()
    return all(
        field.name in ROLLED_UP_FIELDS
        or field.name in _DESCRIPTIVE
        or getattr(filters, field.name) == getattr(default, field.name)
        for field in dataclasses.fields(filters)
    )


def count_by_kind_and_slot(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, slot_of: SlotOf
) -> list[KindCount]:
    """What ``events.counts.count_by_kind_and_slot`` gives (matching events counted per
    action, resource type, status and time slot), from the rollups where they hold the
    events. ``slot_of`` numbers slots that never split an hour (every ``analytics.buckets``
    step does, all being in UTC). Raises ``ValueError`` for filters the rollups cannot
    answer (``answers``)."""
    if not answers(filters):
        raise ValueError("the rollups count by action, resource type, status and time only")
    dialect = conn.dialect.name
    first_hour = _first_whole_hour(filters.start)
    end_hour = _end_whole_hour(filters.end)
    parts: list[Select[Any]] = []
    if first_hour is None or end_hour is None or first_hour < end_hour:
        parts.append(_counted_hours(tenant_id, filters, first_hour, end_hour, dialect, slot_of))
        whole_start = None if first_hour is None else _hour_start(first_hour)
        whole_end = None if end_hour is None else _hour_start(end_hour)
        if filters.start is not None and whole_start is not None and filters.start < whole_start:
            parts.append(_read(conn, tenant_id, filters, filters.start, whole_start, slot_of))
        if filters.end is not None and whole_end is not None and whole_end < filters.end:
            parts.append(_read(conn, tenant_id, filters, whole_end, filters.end, slot_of))
        parts.append(
            _read(conn, tenant_id, filters, whole_start, whole_end, slot_of, uncounted=True)
        )
    else:  # the range lies within an hour or two: read it all
        parts.append(_read(conn, tenant_id, filters, filters.start, filters.end, slot_of))
    every = union_all(*parts).subquery("counted")
    grouped = select(
        every.c.action,
        every.c.resource_type,
        every.c.status,
        every.c.slot,
        func.sum(every.c.events),
    ).group_by(every.c.action, every.c.resource_type, every.c.status, every.c.slot)
    return [
        KindCount(action, resource_type, status, int(slot), int(n))
        for action, resource_type, status, slot, n in conn.execute(grouped)
    ]


def _first_whole_hour(start: datetime | None) -> int | None:
    """The first hour lying wholly at or after ``start``."""
    if start is None:
        return None
    hour = hour_of(start)
    return hour if _hour_start(hour) == start else hour + 1


def _end_whole_hour(end: datetime | None) -> int | None:
    """The hour after the last one lying wholly before ``end`` (exclusive)."""
    return None if end is None else hour_of(end)


def _hour_start(hour: int) -> datetime:
    return from_micros(hour * MICROS_PER_HOUR)


def _hour_as_time(hour: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The start of a counter's hour, as the events' timestamp column stores a time:
    ``timestamptz`` on PostgreSQL, microseconds since the epoch on SQLite."""
    if dialect == "postgresql":
        return func.to_timestamp(hour * 3600)
    return hour * literal(MICROS_PER_HOUR, BigInteger)


def _counted_hours(
    tenant_id: uuid.UUID,
    filters: EventFilters,
    first_hour: int | None,
    end_hour: int | None,
    dialect: str,
    slot_of: SlotOf,
) -> Select[Any]:
    h = activity_hours.c
    where: list[ColumnElement[bool]] = [h.tenant_id == tenant_id]
    if first_hour is not None:
        where.append(h.hour >= first_hour)
    if end_hour is not None:
        where.append(h.hour < end_hour)
    if filters.actions:
        where.append(h.action.in_([a.value for a in filters.actions]))
    if filters.resource_types:
        where.append(h.resource_type.in_([r.value for r in filters.resource_types]))
    if filters.status is not None:
        where.append(h.status == filters.status.value)
    slot = slot_of(_hour_as_time(h.hour, dialect), dialect)
    return select(
        h.action, h.resource_type, h.status, slot.label("slot"), h.events.label("events")
    ).where(*where)


def _read(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    start: datetime | None,
    end: datetime | None,
    slot_of: SlotOf,
    *,
    uncounted: bool = False,
) -> Select[Any]:
    """Matching events from ``start`` to ``end`` (exclusive) read one by one, grouped;
    ``uncounted``: only those past the rollups' cursor."""
    c = events.c
    where = match(
        conn, tenant_id=tenant_id, filters=dataclasses.replace(filters, start=start, end=end)
    )
    if uncounted:
        cursor = consumer_cursors.c
        position = (
            select(cursor.position)
            .where(cursor.tenant_id == tenant_id, cursor.consumer == CONSUMER_NAME)
            .scalar_subquery()
        )
        where.append(c.seq > func.coalesce(position, 0))
    slot = slot_of(c.timestamp, conn.dialect.name)
    return (
        select(
            c.action, c.resource_type, c.status, slot.label("slot"), func.count().label("events")
        )
        .where(*where)
        .group_by(c.action, c.resource_type, c.status, slot)
    )
