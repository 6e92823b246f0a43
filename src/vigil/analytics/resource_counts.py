"""The resources most events touched, for the dashboard's summary, from the resource
rollups (``analytics.resource_rollups``) where they hold the events: whole UTC days come
from the counters, and the rest is read from the events themselves (the partial days at
the ends of the range, and events the consumer has not reached yet).

As for the activity rollups (``analytics.rollup_counts``), one statement adds it all up
and reads the consumer's cursor in its own snapshot; its answer is kept only when the
cursor is where it was read before, else the count is taken again. Far behind, outrun
again and again, or asked for filters the counters do not keep (anything but action,
resource type and time), the events are counted instead.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, func, select, union_all
from sqlalchemy.sql import Select

from vigil.analytics import resource_bounds, rollup_counts
from vigil.analytics.resource_rollups import CONSUMER_NAME
from vigil.analytics.rollup_tables import resource_days
from vigil.core.clock import from_micros
from vigil.events import counts
from vigil.events.counts import ResourceCount
from vigil.events.filters import EventFilters
from vigil.events.tables import events
from vigil.people.sightings import MICROS_PER_DAY
from vigil.spine.service import cursor_position, last_seq
from vigil.spine.tables import consumer_cursors

ATTEMPTS: Final = 3


def answers(filters: EventFilters) -> bool:
    """Whether the resource rollups can count what ``filters`` select: only action,
    resource type and a time range are set (the counters keep no status)."""
    return rollup_counts.answers(filters) and filters.status is None


def top_resources(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, limit: int, now: datetime
) -> list[ResourceCount]:
    """What ``events.counts.top_resources`` gives (the ``limit`` resources most matching
    events touched, most first, ties by type and id), from the counters where they hold
    the events: over a wide range, those of the few resources that can rank
    (``analytics.resource_bounds``), else every resource's."""
    if answers(filters):
        wide = resource_bounds.worth_trying(conn, tenant_id=tenant_id, filters=filters, now=now)
        for _ in range(ATTEMPTS):
            through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
            head = last_seq(conn, tenant_id=tenant_id)
            if head - through > rollup_counts.MAX_UNCOUNTED:
                break
            ranked = (
                resource_bounds.ranked(
                    conn,
                    tenant_id=tenant_id,
                    filters=filters,
                    through=through,
                    head=head,
                    limit=limit,
                )
                if wide
                else None
            )
            if ranked is not None:
                if ranked[1] == through:
                    return ranked[0]
                continue
            found, seen = _counted(conn, tenant_id, filters, through, head, limit)
            if seen is None:  # nothing matched: was the cursor where it was read?
                seen = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
            if seen == through:
                return found
    return counts.top_resources(conn, tenant_id=tenant_id, filters=filters, limit=limit)


def _counted(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    through: int,
    head: int,
    limit: int,
) -> tuple[list[ResourceCount], int | None]:
    """The top resources with the consumer's cursor at ``through`` and the last event
    committed ``head``, and where the statement saw the cursor (None when nothing
    matched)."""
    first_day = rollup_counts.first_whole(filters.start, MICROS_PER_DAY)
    end_day = rollup_counts.end_whole(filters.end, MICROS_PER_DAY)
    parts: list[Select[Any]] = []
    if first_day is None or end_day is None or first_day < end_day:
        parts.append(_counted_days(tenant_id, filters, first_day, end_day))
        whole_start = None if first_day is None else from_micros(first_day * MICROS_PER_DAY)
        whole_end = None if end_day is None else from_micros(end_day * MICROS_PER_DAY)
        if filters.start is not None and whole_start is not None and filters.start < whole_start:
            parts.append(_read(conn, tenant_id, filters, filters.start, whole_start))
        if filters.end is not None and whole_end is not None and whole_end < filters.end:
            parts.append(_read(conn, tenant_id, filters, whole_end, filters.end))
        in_whole = and_(
            *rollup_counts.matching_between(conn, tenant_id, filters, whole_start, whole_end)
        )
        uncounted = resource_bounds.uncounted_per_resource(tenant_id, through, head, in_whole)
        tail = uncounted.subquery("uncounted")
        resource_type, resource_id, in_range = list(tail.c)[:3]
        parts.append(select(resource_type, resource_id, in_range).where(in_range > 0))
    else:  # the range lies within a day or two: read it all
        parts.append(_read(conn, tenant_id, filters, filters.start, filters.end))
    every = union_all(*parts).subquery("counted")
    k = consumer_cursors.c
    position = (
        select(k.position)
        .where(k.tenant_id == tenant_id, k.consumer == CONSUMER_NAME)
        .scalar_subquery()
    )
    total = func.sum(every.c.events)
    rows = conn.execute(
        select(every.c.resource_type, every.c.resource_id, total, func.coalesce(position, 0))
        .group_by(every.c.resource_type, every.c.resource_id)
        .order_by(total.desc(), every.c.resource_type, every.c.resource_id)
        .limit(limit)
    ).all()
    found = [
        ResourceCount(resource_type=resource_type, resource_id=resource_id, count=int(n))
        for resource_type, resource_id, n, _ in rows
    ]
    return found, (int(rows[0][3]) if rows else None)


def _counted_days(
    tenant_id: uuid.UUID, filters: EventFilters, first_day: int | None, end_day: int | None
) -> Select[Any]:
    r = resource_days.c
    where = rollup_counts.rows_kept(r, r.day, tenant_id, filters, first_day, end_day)
    return select(r.resource_type, r.resource_id, r.events.label("events")).where(*where)


def _read(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    start: datetime | None,
    end: datetime | None,
) -> Select[Any]:
    """Matching events naming a resource from ``start`` to ``end`` (exclusive), counted
    per resource."""
    c = events.c
    where = rollup_counts.matching_between(conn, tenant_id, filters, start, end)
    return (
        select(c.resource_type, c.resource_id, func.count().label("events"))
        .where(*where, c.resource_id.is_not(None))
        .group_by(c.resource_type, c.resource_id)
    )
