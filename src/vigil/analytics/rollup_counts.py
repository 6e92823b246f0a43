"""Counts of events by kind and time slot from the activity rollups (``analytics.rollups``),
exact at any moment: whole UTC days come from the counters by day when every slot is whole
days, whole hours from the counters by hour, and the rest is read from the events
themselves (the partial hours at the ends of the range, and events the rollups' consumer
has not reached yet).

The events past the cursor are named by the cursor's position, read first; the statement
that adds everything up reads the position again, in its own snapshot (a statement sees one
on both databases), and its answer is kept only when the two agree: a pass that commits in
between would have its events counted twice, so the count is taken again (on SQLite a
connection's reads share one snapshot anyway). Far behind, or outrun again and again, the
rollups are left aside and the events counted.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Table,
    and_,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.base import ReadOnlyColumnCollection

from vigil.analytics.rollup_tables import activity_days, activity_hours
from vigil.analytics.rollups import CONSUMER_NAME, HOURS_PER_DAY, MICROS_PER_HOUR
from vigil.core.clock import from_micros, to_micros
from vigil.events import counts
from vigil.events.counts import KindCount, SlotOf
from vigil.events.filters import EventFilters
from vigil.events.service import match
from vigil.events.tables import events
from vigil.spine.service import cursor_position, last_seq
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


# Past so many events not counted yet (after an upgrade, say), reading them beside the
# counters costs more than counting every matching event.
MAX_UNCOUNTED = 50_000
ATTEMPTS = 3


def count_by_kind_and_slot(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    slot_of: SlotOf,
    whole_days: bool = False,
) -> list[KindCount]:
    """What ``events.counts.count_by_kind_and_slot`` gives (matching events counted per
    action, resource type, status and time slot), from the rollups where they hold the
    events. ``slot_of`` numbers slots that never split an hour (every ``analytics.buckets``
    step does, all being in UTC); ``whole_days``: nor a UTC day (``Bucket.whole_days``),
    so the counters by day serve the range's whole days. Raises ``ValueError`` for filters
    the rollups cannot answer (``answers``)."""
    return _count(conn, tenant_id, filters, slot_of, by_kind=True, whole_days=whole_days)


def count_by_slot(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    slot_of: SlotOf,
    whole_days: bool = False,
) -> dict[int, int]:
    """Matching events per time slot, every kind together: ``count_by_kind_and_slot``
    added up in SQL, so a long range of hours is a row per hour rather than per hour and
    kind. Raises ``ValueError`` as it does."""
    found: dict[int, int] = {}
    for kind in _count(conn, tenant_id, filters, slot_of, by_kind=False, whole_days=whole_days):
        found[kind.slot] = found.get(kind.slot, 0) + kind.events
    return found


def _count(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    slot_of: SlotOf,
    *,
    by_kind: bool,
    whole_days: bool,
) -> list[KindCount]:
    if not answers(filters):
        raise ValueError("the rollups count by action, resource type, status and time only")
    for _ in range(ATTEMPTS):
        through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
        if last_seq(conn, tenant_id=tenant_id) - through > MAX_UNCOUNTED:
            break
        try:
            found, seen = _counted(
                conn, tenant_id, filters, slot_of, through, by_kind=by_kind, whole_days=whole_days
            )
        except OverflowError:  # a bound in the last hour of year 9999: no whole hour follows
            break
        if seen is None:  # nothing matched: was the cursor where it was read?
            seen = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
        if seen == through:
            return found
    return counts.count_by_kind_and_slot(
        conn, tenant_id=tenant_id, filters=filters, slot_of=slot_of
    )


def _counted(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    slot_of: SlotOf,
    through: int,
    *,
    by_kind: bool = True,
    whole_days: bool = False,
) -> tuple[list[KindCount], int | None]:
    """The counts with the rollups' cursor at ``through``, and where the statement saw the
    cursor (None when nothing matched); without ``by_kind``, one count per slot (its kind
    left empty)."""
    dialect = conn.dialect.name
    first_hour = _first_whole_hour(filters.start)
    end_hour = _end_whole_hour(filters.end)
    parts: list[Select[Any]] = []
    if first_hour is None or end_hour is None or first_hour < end_hour:
        parts.extend(
            _counters(tenant_id, filters, first_hour, end_hour, dialect, slot_of, whole_days)
        )
        whole_start = None if first_hour is None else _hour_start(first_hour)
        whole_end = None if end_hour is None else _hour_start(end_hour)
        if filters.start is not None and whole_start is not None and filters.start < whole_start:
            parts.append(_read(conn, tenant_id, filters, filters.start, whole_start, slot_of))
        if filters.end is not None and whole_end is not None and whole_end < filters.end:
            parts.append(_read(conn, tenant_id, filters, whole_end, filters.end, slot_of))
        parts.append(
            _read(conn, tenant_id, filters, whole_start, whole_end, slot_of, after=through)
        )
    else:  # the range lies within an hour or two: read it all
        parts.append(_read(conn, tenant_id, filters, filters.start, filters.end, slot_of))
    every = union_all(*parts).subquery("counted")
    k = consumer_cursors.c
    position = (
        select(k.position)
        .where(k.tenant_id == tenant_id, k.consumer == CONSUMER_NAME)
        .scalar_subquery()
    )
    kinds: list[ColumnElement[Any]] = (
        [every.c.action, every.c.resource_type, every.c.status] if by_kind else []
    )
    shown = kinds or [literal(""), literal(""), literal("")]
    grouped = select(
        *shown,
        every.c.slot,
        func.sum(every.c.events),
        func.coalesce(position, 0),
    ).group_by(*kinds, every.c.slot)
    rows: list[Any] = list(conn.execute(grouped))
    found = [
        KindCount(action, resource_type, status, int(slot), int(n))
        for action, resource_type, status, slot, n, _ in rows
    ]
    return found, (int(rows[0][5]) if rows else None)


def first_whole(start: datetime | None, unit_micros: int) -> int | None:
    """The first unit (an hour, a day: ``unit_micros`` long, counted from the epoch) lying
    wholly at or after ``start``."""
    if start is None:
        return None
    unit = to_micros(start) // unit_micros
    return unit if to_micros(start) == unit * unit_micros else unit + 1


def end_whole(end: datetime | None, unit_micros: int) -> int | None:
    """The unit after the last one lying wholly before ``end`` (exclusive)."""
    return None if end is None else to_micros(end) // unit_micros


def _first_whole_hour(start: datetime | None) -> int | None:
    return first_whole(start, MICROS_PER_HOUR)


def _end_whole_hour(end: datetime | None) -> int | None:
    return end_whole(end, MICROS_PER_HOUR)


def _hour_start(hour: int) -> datetime:
    return from_micros(hour * MICROS_PER_HOUR)


def _hour_as_time(hour: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The start of a counter's hour, as the events' timestamp column stores a time:
    ``timestamptz`` on PostgreSQL, microseconds since the epoch on SQLite."""
    if dialect == "postgresql":
        return func.to_timestamp(hour * 3600)
    return hour * literal(MICROS_PER_HOUR, BigInteger)


def rows_kept(
    columns: ReadOnlyColumnCollection[str, Any],
    unit: ColumnElement[int],
    tenant_id: uuid.UUID,
    filters: EventFilters,
    first: int | None,
    end: int | None,
) -> list[ColumnElement[bool]]:
    """The conditions on a rollup table's rows (``columns``, with ``tenant_id``, ``action``
    and ``resource_type``) of the tenant, ``unit`` (its hour or day) from ``first`` to
    ``end`` (exclusive; None: unbounded), and the actions and resource types ``filters``
    name."""
    where: list[ColumnElement[bool]] = [columns.tenant_id == tenant_id]
    if first is not None:
        where.append(unit >= first)
    if end is not None:
        where.append(unit < end)
    if filters.actions:
        where.append(columns.action.in_([a.value for a in filters.actions]))
    if filters.resource_types:
        where.append(columns.resource_type.in_([r.value for r in filters.resource_types]))
    return where


def _counters(
    tenant_id: uuid.UUID,
    filters: EventFilters,
    first_hour: int | None,
    end_hour: int | None,
    dialect: str,
    slot_of: SlotOf,
    whole_days: bool,
) -> list[Select[Any]]:
    """The counters of the whole hours from ``first_hour`` to ``end_hour`` (exclusive;
    None: unbounded): with ``whole_days``, the whole UTC days among them by day and the
    hours at either end by hour, else every hour by hour."""
    first_day = None if first_hour is None else -(-first_hour // HOURS_PER_DAY)
    end_day = None if end_hour is None else end_hour // HOURS_PER_DAY

    def rows(table: Table, unit: str, first: int | None, end: int | None) -> Select[Any]:
        return _counter_rows(table, unit, tenant_id, filters, first, end, dialect, slot_of)

    if not whole_days or (first_day is not None and end_day is not None and first_day >= end_day):
        return [rows(activity_hours, "hour", first_hour, end_hour)]
    parts = [rows(activity_days, "day", first_day, end_day)]
    day_start = None if first_day is None else first_day * HOURS_PER_DAY
    if first_hour is not None and day_start is not None and first_hour < day_start:
        parts.append(rows(activity_hours, "hour", first_hour, day_start))
    day_end = None if end_day is None else end_day * HOURS_PER_DAY
    if end_hour is not None and day_end is not None and day_end < end_hour:
        parts.append(rows(activity_hours, "hour", day_end, end_hour))
    return parts


def _counter_rows(
    table: Table,
    unit: str,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    first: int | None,
    end: int | None,
    dialect: str,
    slot_of: SlotOf,
) -> Select[Any]:
    """The counters of ``table`` (by ``unit``: hour or day) from ``first`` to ``end``
    (exclusive; None: unbounded) that ``filters`` select, each with its slot."""
    t = table.c
    where = rows_kept(t, t[unit], tenant_id, filters, first, end)
    if filters.status is not None:
        where.append(t.status == filters.status.value)
    hours = t[unit] * HOURS_PER_DAY if unit == "day" else t[unit]
    slot = slot_of(_hour_as_time(hours, dialect), dialect)
    return select(
        t.action, t.resource_type, t.status, slot.label("slot"), t.events.label("events")
    ).where(*where)


def matching_between(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    start: datetime | None,
    end: datetime | None,
    *,
    after: int | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions of the events ``filters`` select from ``start`` to ``end``
    (exclusive; None: unbounded); ``after``: only those past that ``seq`` (a rollup's
    cursor)."""
    where = match(
        conn, tenant_id=tenant_id, filters=dataclasses.replace(filters, start=start, end=end)
    )
    if after is not None:
        where.append(past(conn, tenant_id=tenant_id, after=after))
    return where


def past(conn: Connection, *, tenant_id: uuid.UUID, after: int) -> ColumnElement[bool]:
    """The tenant's events past ``after`` (a rollup's cursor), as a condition on ``events``
    that the (tenant, seq) index answers whatever else the statement filters on."""
    if conn.dialect.name == "sqlite":
        # Named by row id, found by the (tenant, seq) index: SQLite would rather walk the
        # range's time index testing each event's seq (0.9 s for 30 days at 1M), or a
        # type's resources (0.4 s at 1M, with no event past the cursor at all).
        tail = events.alias("tail")
        rows: Select[Any] = select(literal_column("tail.rowid")).where(
            tail.c.tenant_id == tenant_id, tail.c.seq > after
        )
        return literal_column("events.rowid").in_(rows)
    return and_(events.c.tenant_id == tenant_id, events.c.seq > after)


def _read(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    start: datetime | None,
    end: datetime | None,
    slot_of: SlotOf,
    *,
    after: int | None = None,
) -> Select[Any]:
    """Matching events from ``start`` to ``end`` (exclusive) read one by one, grouped;
    ``after``: only those past that ``seq`` (the rollups' cursor)."""
    c = events.c
    where = matching_between(conn, tenant_id, filters, start, end, after=after)
    slot = slot_of(c.timestamp, conn.dialect.name)
    return (
        select(
            c.action, c.resource_type, c.status, slot.label("slot"), func.count().label("events")
        )
        .where(*where)
        .group_by(c.action, c.resource_type, c.status, slot)
    )
