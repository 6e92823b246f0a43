"""Counts behind the activity widgets: by action, resource type and status, the resources
touched most, and a timeline, for whatever the list filters select.

Two scans of the matching rows whatever the range: one grouped by (action, resource type,
status, time bucket), whose few thousand groups are added up here, and one for the top
resources (both are ``vigil.events.counts``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from vigil.events import counts
from vigil.events.counts import ResourceCount
from vigil.events.filters import EventFilters
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
    top_resources: list[ResourceCount]
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
    first_seen = filters.start or counts.first_match_time(
        conn, tenant_id=tenant_id, filters=filters
    )
    end = min(filters.end or now, now)  # the future holds no activity worth drawing
    if bucket is None:
        bucket = Bucket.HOUR if first_seen and end - first_seen <= HOURLY_UP_TO else Bucket.DAY
    grouped = counts.count_by_kind_and_slot(
        conn, tenant_id=tenant_id, filters=filters, slot=bucket.length
    )
    by_action: Counter[str] = Counter()
    by_resource_type: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    per_slot: Counter[int] = Counter()
    for action, resource_type, status, number, count in grouped:
        by_action[action] += count
        by_resource_type[resource_type] += count
        by_status[status] += count
        per_slot[number] += count
    return Summary(
        total=sum(by_action.values()),
        by_action=dict(by_action.most_common()),
        by_resource_type=dict(by_resource_type.most_common()),
        by_status=dict(by_status.most_common()),
        top_resources=counts.top_resources(
            conn, tenant_id=tenant_id, filters=filters, limit=TOP_RESOURCES
        ),
        timeline=_timeline(per_slot, bucket, first_seen, end),
        bucket=bucket,
    )


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
