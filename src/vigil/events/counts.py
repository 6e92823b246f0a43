"""Counts over a tenant's matching events, for the activity summaries: by kind and time
slot, the resources touched most, and when the first match happened.

Each is one statement over what ``match`` selects, so it uses the indexes the list uses.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypedDict

from sqlalchemy import BigInteger, ColumnElement, Connection, func, select, type_coerce

from vigil.core.clock import from_micros
from vigil.events.filters import EventFilters
from vigil.events.service import match
from vigil.events.tables import events


class KindCount(NamedTuple):
    """How many matching events of one kind fell in one time slot."""

    action: str
    resource_type: str
    status: str
    slot: int  # slots since the epoch, in UTC
    events: int  # how many (``count`` would hide tuple.count)


class ResourceCount(TypedDict):
    """A resource and how many matching events touched it."""

    resource_type: str
    resource_id: str
    count: int


def aggregate_time(value: Any) -> datetime:
    """A timestamp from an aggregate (MIN, MAX), which skips the column type's conversion:
    SQLite hands back its stored microseconds."""
    return value if isinstance(value, datetime) else from_micros(int(value))


def first_match_time(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters
) -> datetime | None:
    """When the earliest matching event happened; None when nothing matches."""
    where = match(conn, tenant_id=tenant_id, filters=filters)
    found = conn.execute(select(func.min(events.c.timestamp)).where(*where)).scalar_one()
    return None if found is None else aggregate_time(found)


def count_by_kind_and_slot(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, slot: timedelta
) -> list[KindCount]:
    """Matching events counted per (action, resource type, status, time slot): a few
    thousand groups at most, whatever the number of events."""
    number = _slot_number(conn, slot)
    c = events.c
    grouped = conn.execute(
        select(c.action, c.resource_type, c.status, number, func.count())
        .where(*match(conn, tenant_id=tenant_id, filters=filters))
        .group_by(c.action, c.resource_type, c.status, number)
    ).all()
    return [
        KindCount(action, resource_type, status, int(slot_number), count)
        for action, resource_type, status, slot_number, count in grouped
    ]


def top_resources(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, limit: int
) -> list[ResourceCount]:
    """The ``limit`` resources most matching events touched, most first."""
    count = func.count().label("count")
    c = events.c
    found = conn.execute(
        select(c.resource_type, c.resource_id, count)
        .where(*match(conn, tenant_id=tenant_id, filters=filters), c.resource_id.is_not(None))
        .group_by(c.resource_type, c.resource_id)
        .order_by(count.desc(), c.resource_type, c.resource_id)
        .limit(limit)
    ).all()
    return [
        ResourceCount(resource_type=resource_type, resource_id=resource_id, count=n)
        for resource_type, resource_id, n in found
    ]


def _slot_number(conn: Connection, slot: timedelta) -> ColumnElement[Any]:
    """Which slot (counted from the epoch, in UTC) an event's timestamp falls in."""
    seconds = int(slot.total_seconds())
    if conn.dialect.name == "postgresql":
        epoch = func.extract("epoch", events.c.timestamp)
        return func.floor(epoch / seconds).label("slot")
    # SQLite keeps integer microseconds; integer division floors them for times after 1970.
    micros = type_coerce(events.c.timestamp, BigInteger)
    return (micros / (seconds * 1_000_000)).label("slot")
