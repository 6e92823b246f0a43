"""Counts behind the activity widgets: by action, resource type and status, the resources
touched most, and a timeline, for whatever the list filters select.

Two scans of the matching rows whatever the range: one grouped by (action, resource type,
status, time bucket), whose few thousand groups are added up here, and one for the top
resources.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, func, select, type_coerce

from vigil.core.clock import from_micros
from vigil.events.filters import EventFilters
from vigil.events.service import match
from vigil.events.tables import events
from vigil.events.wire import format_time

TOP_RESOURCES = 10
# A timeline longer than this starts at the first match rather than the range's start.
MAX_POINTS = 1000
# Up to this span a timeline counts hours; beyond it, days.
HOURLY_UP_TO = timedelta(days=3)


class Bucket(StrEnum):
    """How long each point of the timeline is."""

    HOUR = "hour"
    DAY = "day"

    @property
    def length(self) -> timedelta:
        """The bucket's duration."""
        return timedelta(hours=1) if self is Bucket.HOUR else timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the activity widgets show."""

    total: int
    by_action: dict[str, int]
    by_resource_type: dict[str, int]
    by_status: dict[str, int]
    top_resources: list[dict[str, Any]]
    timeline: list[tuple[datetime, int]]
    bucket: Bucket

    def as_json(self) -> dict[str, Any]:
        """The API's form of the summary."""
        return {
            "total": self.total,
            "by_action": self.by_action,
            "by_resource_type": self.by_resource_type,
            "by_status": self.by_status,
            "top_resources": self.top_resources,
            "timeline": [
                {"start": format_time(start), "count": count} for start, count in self.timeline
            ],
            "bucket": self.bucket.value,
        }


def summarize(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    now: datetime,
    bucket: Bucket | None = None,
) -> Summary:
    """The summary of the tenant's events that pass ``filters``, the timeline up to ``now``
    when the range has no end, and from the first match when it has no start."""
    where = match(conn, tenant_id=tenant_id, filters=filters)
    first_seen = filters.start or _first_match(conn, where)
    end = min(filters.end or now, now)  # the future holds no activity worth drawing
    if bucket is None:
        bucket = Bucket.HOUR if first_seen and end - first_seen <= HOURLY_UP_TO else Bucket.DAY
    slot = _bucket_number(conn, bucket)
    grouped = conn.execute(
        select(events.c.action, events.c.resource_type, events.c.status, slot, func.count())
        .where(*where)
        .group_by(events.c.action, events.c.resource_type, events.c.status, slot)
    ).all()
    by_action: Counter[str] = Counter()
    by_resource_type: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    per_slot: Counter[int] = Counter()
    for action, resource_type, status, number, count in grouped:
        by_action[action] += count
        by_resource_type[resource_type] += count
        by_status[status] += count
        per_slot[int(number)] += count
    return Summary(
        total=sum(by_action.values()),
        by_action=dict(by_action.most_common()),
        by_resource_type=dict(by_resource_type.most_common()),
        by_status=dict(by_status.most_common()),
        top_resources=_top_resources(conn, where),
        timeline=_timeline(per_slot, bucket, first_seen, end),
        bucket=bucket,
    )


def _first_match(conn: Connection, where: list[ColumnElement[bool]]) -> datetime | None:
    found = conn.execute(select(func.min(events.c.timestamp)).where(*where)).scalar_one()
    if found is None or isinstance(found, datetime):
        return found
    return from_micros(int(found))  # an aggregate skips the column type's conversion


def _bucket_number(conn: Connection, bucket: Bucket) -> ColumnElement[Any]:
    """Which bucket (counted from the epoch, in UTC) an event's timestamp falls in."""
    seconds = int(bucket.length.total_seconds())
    if conn.dialect.name == "postgresql":
        epoch = func.extract("epoch", events.c.timestamp)
        return func.floor(epoch / seconds).label("slot")
    # SQLite keeps integer microseconds; integer division floors them for times after 1970.
    micros = type_coerce(events.c.timestamp, BigInteger)
    return (micros / (seconds * 1_000_000)).label("slot")


def _timeline(
    per_slot: Counter[int], bucket: Bucket, start: datetime | None, end: datetime
) -> list[tuple[datetime, int]]:
    """Every bucket from ``start`` to ``end``, empty ones as zero, so gaps show as gaps."""
    if not per_slot and start is None:
        return []
    length = int(bucket.length.total_seconds())
    first = int(start.timestamp()) // length if start else min(per_slot)
    last = (int(end.timestamp()) - 1) // length  # ``end`` itself is excluded
    if last - first >= MAX_POINTS and per_slot:  # "since 1970": start where activity does
        first = min(per_slot)
    first, last = min([first, *per_slot]), max([last, *per_slot])
    return [
        (datetime.fromtimestamp(number * length, UTC), per_slot.get(number, 0))
        for number in range(first, last + 1)
    ]


def _top_resources(conn: Connection, where: list[ColumnElement[bool]]) -> list[dict[str, Any]]:
    count = func.count().label("count")
    found = conn.execute(
        select(events.c.resource_type, events.c.resource_id, count)
        .where(*where, events.c.resource_id.is_not(None))
        .group_by(events.c.resource_type, events.c.resource_id)
        .order_by(count.desc(), events.c.resource_type, events.c.resource_id)
        .limit(TOP_RESOURCES)
    ).all()
    return [
        {"resource_type": resource_type, "resource_id": resource_id, "count": n}
        for resource_type, resource_id, n in found
    ]
