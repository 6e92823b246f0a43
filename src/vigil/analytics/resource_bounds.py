"""The dashboard's top resources over a wide range without adding up every resource's
days: ``resource_totals`` holds each resource's counted events whatever their day, so no
range of a resource holds more (with the events past the consumer's cursor added).
Candidates are taken most total first and counted exactly, a few at a time; once the
``limit``-th exact count is above the total of every resource not counted yet, no other
can rank. This is the threshold algorithm with one sorted list of upper bounds (Fagin,
Lotem and Naor, "Optimal aggregation algorithms for middleware", PODS 2001, §4).

It pays when the range holds most of the tenant's events (the totals are then close to
the counts) and a few resources hold many of them, as activity does: at 1M events over 61
days, the 90-day top ten settle after 11 of 18,369 resources. A narrow range, an action
filter (the totals hold every action) or evenly spread events would count many
candidates: ``worth_trying`` says no to the first two and ``ranked`` gives up after
``MAX_CANDIDATES``, and the caller adds up every resource's days instead.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    case,
    column,
    func,
    select,
    union_all,
    values,
)
from sqlalchemy.sql.expression import CTE

from vigil.analytics import rollup_counts
from vigil.analytics.resource_rollups import CONSUMER_NAME
from vigil.analytics.rollup_tables import resource_days, resource_totals
from vigil.core.clock import from_micros
from vigil.events.counts import ResourceCount
from vigil.events.filters import EventFilters
from vigil.events.tables import events
from vigil.people.sightings import MICROS_PER_DAY
from vigil.spine.tables import consumer_cursors

Resource = tuple[str, str]  # (resource type, resource id)

FIRST_BATCH: Final = 32  # candidates counted in the first statement; doubled each time
MAX_CANDIDATES: Final = 1_024  # counted at most before giving up
MIN_SHARE: Final = 0.25  # of the time since the tenant's first event the range must cover


def worth_trying(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, now: datetime
) -> bool:
    """Whether ``filters`` (action, resource type and time only: ``resource_counts.answers``)
    cover at least ``MIN_SHARE`` of the time since the tenant's first event, and name no
    action."""
    if filters.actions:
        return False
    first = conn.execute(  # the (tenant, time) index's first entry; min() would read all
        select(events.c.timestamp)
        .where(events.c.tenant_id == tenant_id)
        .order_by(events.c.timestamp)
        .limit(1)
    ).scalar_one_or_none()
    if first is None or first >= now:
        return False
    start = max(filters.start or first, first)
    end = min(filters.end or now, now)
    return bool((end - start) >= (now - first) * MIN_SHARE)


def ranked(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    through: int,
    head: int,
    limit: int,
) -> tuple[list[ResourceCount], int] | None:
    """The ``limit`` resources most matching events touched (most first, ties by type and
    id), with the consumer's cursor at ``through`` and the last event committed ``head``;
    and where the statements saw the cursor
    (``through`` when every one saw it there, else another position: the caller counts
    again). None when the range holds no whole UTC day, or after ``MAX_CANDIDATES``
    candidates without an answer."""
    first_day = rollup_counts.first_whole(filters.start, MICROS_PER_DAY)
    end_day = rollup_counts.end_whole(filters.end, MICROS_PER_DAY)
    if first_day is not None and end_day is not None and first_day >= end_day:
        return None
    seen: set[int] = set()
    whole_start = None if first_day is None else from_micros(first_day * MICROS_PER_DAY)
    whole_end = None if end_day is None else from_micros(end_day * MICROS_PER_DAY)
    # Events past the cursor: in the range (they add to a resource's bound), and in its
    # whole days (they add to its count; the partial days are read whole below).
    uncounted: Counter[Resource] = Counter()
    uncounted_whole: Counter[Resource] = Counter()
    in_range = rollup_counts.matching_between(conn, tenant_id, filters, filters.start, filters.end)
    in_whole = rollup_counts.matching_between(conn, tenant_id, filters, whole_start, whole_end)
    for resource_type, resource_id, n_range, n_whole, at in conn.execute(
        uncounted_per_resource(tenant_id, through, head, and_(*in_range), and_(*in_whole))
    ):
        seen.add(int(at))
        if n_range:
            uncounted[(resource_type, resource_id)] = int(n_range)
        if n_whole:
            uncounted_whole[(resource_type, resource_id)] = int(n_whole)
    bounds, below = _bounds(conn, tenant_id, filters, uncounted, seen)
    counted: dict[Resource, int] = {}
    done, size = 0, FIRST_BATCH
    while True:
        batch = [resource for _, resource in bounds[done : done + size]]
        done += len(batch)
        if batch:
            exact = _exact(conn, tenant_id, filters, batch, first_day, end_day, seen)
            for resource in batch:
                counted[resource] = exact.get(resource, 0) + uncounted_whole.get(resource, 0)
        ranking = sorted(
            ((n, resource) for resource, n in counted.items() if n > 0),
            key=lambda item: (-item[0], item[1]),
        )
        kth = ranking[limit - 1][0] if len(ranking) >= limit else 0
        next_bound = max(bounds[done][0] if done < len(bounds) else 0, below)
        if next_bound == 0 or kth > next_bound:
            position = next(iter(seen - {through}), through)
            found = [
                ResourceCount(resource_type=rt, resource_id=rid, count=n)
                for n, (rt, rid) in ranking[:limit]
            ]
            return found, position
        if done >= len(bounds):
            return None
        size *= 2


def _per_resource(conn: Connection, query: Select[Any], seen: set[int]) -> Counter[Resource]:
    """``query``'s (type, id, count, cursor) rows as counts, noting the cursor."""
    found: Counter[Resource] = Counter()
    for resource_type, resource_id, n, position in conn.execute(query):
        found[(resource_type, resource_id)] += int(n)
        seen.add(int(position))
    return found


def uncounted_per_resource(
    tenant_id: uuid.UUID, through: int, head: int, *conditions: ColumnElement[bool]
) -> Select[Any]:
    """The tenant's events past ``through`` (the consumer's cursor) up to ``head`` (the
    last committed, as read before), per resource: how many meet each of ``conditions``,
    and the cursor. SQLite must find them by (tenant, seq): the range bounded on both
    sides looks narrow enough to it, and the conditions are counted, not filtered on
    (filtered on, the index by resource covers the statement and spares a sort; SQLite
    would read every entry of it, 2.6 s at 1M)."""
    c = events.c
    return (
        select(
            c.resource_type,
            c.resource_id,
            *(func.count(case((condition, 1))) for condition in conditions),
            _position(tenant_id),
        )
        .where(
            c.tenant_id == tenant_id,
            c.seq > through,
            c.seq <= head,
            c.resource_id.is_not(None),
        )
        .group_by(c.resource_type, c.resource_id)
    )


def _position(tenant_id: uuid.UUID) -> ColumnElement[Any]:
    """The consumer's cursor, read by the statement that names it (0 before any pass)."""
    k = consumer_cursors.c
    return func.coalesce(
        select(k.position)
        .where(k.tenant_id == tenant_id, k.consumer == CONSUMER_NAME)
        .scalar_subquery(),
        0,
    )


def _events_read(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    start: datetime | None,
    end: datetime | None,
    *,
    only: CTE,
) -> Select[Any]:
    """Matching events of the resources ``only`` lists from ``start`` to ``end``
    (exclusive), counted per resource (found through the events' index by resource), with
    the cursor."""
    c = events.c
    where = rollup_counts.matching_between(conn, tenant_id, filters, start, end)
    found = and_(
        c.tenant_id == tenant_id,
        c.resource_type == only.c.resource_type,
        c.resource_id == only.c.resource_id,
    )
    return (
        select(
            c.resource_type,
            c.resource_id,
            func.count().label("events"),
            _position(tenant_id).label("position"),
        )
        .select_from(only.join(events, found))
        .where(*where)
        .group_by(c.resource_type, c.resource_id)
    )


def _bounds(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    uncounted: Counter[Resource],
    seen: set[int],
) -> tuple[list[tuple[int, Resource]], int]:
    """Upper bounds of the range's count, most first (ties by type and id): the totals of
    the ``MAX_CANDIDATES`` resources with the most, and of the resources with events past
    the cursor, those added; and what bounds every resource not listed (the next total,
    0 when every resource is listed)."""
    t = resource_totals.c
    kept = [t.tenant_id == tenant_id]
    if filters.resource_types:
        kept.append(t.resource_type.in_([r.value for r in filters.resource_types]))
    position = _position(tenant_id).label("position")
    bounds: dict[Resource, int] = {}
    below = 0
    for n, (resource_type, resource_id, total, at) in enumerate(
        conn.execute(
            select(t.resource_type, t.resource_id, t.events, position)
            .where(*kept)
            .order_by(t.events.desc())
            .limit(MAX_CANDIDATES + 1)
        )
    ):
        seen.add(int(at))
        if n == MAX_CANDIDATES:
            below = int(total)
        else:
            bounds[(resource_type, resource_id)] = int(total)
    if uncounted:
        totals = _totals_of(conn, tenant_id, list(uncounted), seen)
        for resource, n in uncounted.items():
            bounds[resource] = totals.get(resource, 0) + n
    ordered = sorted(((n, r) for r, n in bounds.items()), key=lambda item: (-item[0], item[1]))
    return ordered, below


def _candidates(resources: Sequence[Resource]) -> CTE:
    return (
        values(column("resource_type", String), column("resource_id", String), name="candidates")
        .data(list(resources))
        .cte()
    )


def _totals_of(
    conn: Connection, tenant_id: uuid.UUID, resources: Sequence[Resource], seen: set[int]
) -> dict[Resource, int]:
    """The totals of ``resources`` (those with none left out)."""
    only, t = _candidates(resources), resource_totals.c
    found: dict[Resource, int] = {}
    for resource_type, resource_id, n, at in conn.execute(
        select(t.resource_type, t.resource_id, t.events, _position(tenant_id)).select_from(
            only.join(
                resource_totals,
                and_(
                    t.tenant_id == tenant_id,
                    t.resource_type == only.c.resource_type,
                    t.resource_id == only.c.resource_id,
                ),
            )
        )
    ):
        found[(resource_type, resource_id)] = int(n)
        seen.add(int(at))
    return found


def _exact(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    batch: Sequence[Resource],
    first_day: int | None,
    end_day: int | None,
    seen: set[int],
) -> Counter[Resource]:
    """The batch's matching events in the range but those past the cursor in its whole
    days: whole days from ``resource_days``, the partial days at the ends from the events;
    one statement."""
    only, r = _candidates(batch), resource_days.c
    where = rollup_counts.rows_kept(r, r.day, tenant_id, filters, first_day, end_day)
    parts: list[Select[Any]] = [
        select(r.resource_type, r.resource_id, r.events, _position(tenant_id).label("position"))
        .select_from(
            only.join(
                resource_days,
                and_(r.resource_type == only.c.resource_type, r.resource_id == only.c.resource_id),
            )
        )
        .where(*where)
    ]
    whole_start = None if first_day is None else from_micros(first_day * MICROS_PER_DAY)
    whole_end = None if end_day is None else from_micros(end_day * MICROS_PER_DAY)
    if filters.start is not None and whole_start is not None and filters.start < whole_start:
        parts.append(_events_read(conn, tenant_id, filters, filters.start, whole_start, only=only))
    if filters.end is not None and whole_end is not None and whole_end < filters.end:
        parts.append(_events_read(conn, tenant_id, filters, whole_end, filters.end, only=only))
    every = union_all(*parts).subquery("counted")
    return _per_resource(
        conn,
        select(
            every.c.resource_type,
            every.c.resource_id,
            func.sum(every.c.events),
            func.min(every.c.position),
        ).group_by(every.c.resource_type, every.c.resource_id),
        seen,
    )
