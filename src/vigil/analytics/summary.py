"""Counts behind the activity widgets: by action, resource type and status, the resources
touched most, and a timeline, for whatever the list filters select.

Three reads whatever the range: the matching rows' first and last times (which bound the
timeline, ``vigil.analytics.timeline``), their counts by (action, resource type, status,
time bucket), whose groups are added up here, and the top resources. The counts come from
the hourly rollups when the filters are ones they keep (action, resource type, status,
time: ``vigil.analytics.rollup_counts``), the top resources from the resource rollups
(action, resource type, time: ``vigil.analytics.resource_counts``), else from the rows.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from vigil.analytics import resource_counts, rollup_counts
from vigil.analytics.buckets import Bucket
from vigil.analytics.timeline import plan_timeline
from vigil.events import counts
from vigil.events.counts import ResourceCount
from vigil.events.filters import EventFilters
from vigil.events.wire import format_time

TOP_RESOURCES = 10


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
            "bucket": self.bucket.name,
        }


def summarize(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    now: datetime,
    bucket: Bucket | None = None,
) -> Summary:
    """The summary of the tenant's events that pass ``filters``, with a timeline of at most
    ``timeline.MAX_POINTS`` points (see ``vigil.analytics.timeline``): ``bucket``, or a
    coarser one when the range needs it, or a readable one when None."""
    plan = plan_timeline(
        start=filters.start,
        end=filters.end,
        now=now,
        matches=counts.match_span(conn, tenant_id=tenant_id, filters=filters),
        requested=bucket,
    )
    slot_of = plan.bucket.slot_of
    grouped = (
        rollup_counts.count_by_kind_and_slot(
            conn, tenant_id=tenant_id, filters=filters, slot_of=slot_of,
            whole_days=plan.bucket.whole_days,
        )
        if rollup_counts.answers(filters)
        else counts.count_by_kind_and_slot(
            conn, tenant_id=tenant_id, filters=filters, slot_of=slot_of
        )
    )  # fmt: skip
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
        top_resources=resource_counts.top_resources(
            conn, tenant_id=tenant_id, filters=filters, limit=TOP_RESOURCES, now=now
        ),
        timeline=[(plan.bucket.start_of(n), per_slot.get(n, 0)) for n in plan.numbers],
        bucket=plan.bucket,
    )
