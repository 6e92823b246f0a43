"""Checking the activity rollups against the events, and starting them over.

``compare_rollups`` is what ``vigil rollups check`` runs and what the tests assert with:
every counter must equal a count of the events it stands for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, literal, select, true, union_all

from vigil.analytics.buckets import DAY, HOUR, Bucket
from vigil.analytics.rollup_tables import activity_days, activity_hours
from vigil.analytics.rollups import CONSUMER_NAME, HourKind, hold_rollups
from vigil.events.tables import events
from vigil.spine.service import rewind_cursor
from vigil.spine.tables import consumer_cursors

MAX_REPORTED = 20  # differences listed at most; the count says how many there are
ATTEMPTS = 3  # comparisons of the hours and the days at one cursor tried at most


@dataclass(frozen=True, slots=True)
class RollupDifference:
    """Counters that disagree with the events: each with (counted, stored events), by hour
    and by day (a day's key holds the day where an hour's holds the hour); how many there
    are in all; and how far the rollups had counted (the cursor, as the comparison saw
    it)."""

    through: int
    differences: int
    examples: list[tuple[HourKind, int, int]]
    day_examples: list[tuple[HourKind, int, int]]

    @property
    def agrees(self) -> bool:
        """Whether every counter equals its events' count."""
        return self.differences == 0


def compare_rollups(conn: Connection, *, tenant_id: uuid.UUID) -> RollupDifference:
    """Compare the tenant's counters by hour and by day with a count of its events the
    rollups' consumer has reached, a statement each (one snapshot each, so a pass
    committing meanwhile cannot make a false difference; if one moved the cursor between
    the two, they are compared again). Reads every such event twice: seconds at 10M
    events."""
    for _ in range(ATTEMPTS):
        through, hours = _compare(conn, tenant_id, activity_hours, "hour", HOUR)
        through_days, days = _compare(conn, tenant_id, activity_days, "day", DAY)
        if through_days == through:
            break
    return RollupDifference(
        through=through,
        differences=len(hours) + len(days),
        examples=hours[:MAX_REPORTED],
        day_examples=days[:MAX_REPORTED],
    )


def _compare(
    conn: Connection, tenant_id: uuid.UUID, table: Table, unit: str, bucket: Bucket
) -> tuple[int, list[tuple[HourKind, int, int]]]:
    """The cursor as the statement saw it, and the counters of ``table`` (by ``unit``)
    that differ from the events' count, with (counted, events)."""
    t, c, k = table.c, events.c, consumer_cursors.c
    position = (
        select(k.position)
        .where(k.tenant_id == tenant_id, k.consumer == CONSUMER_NAME)
        .scalar_subquery()
    )
    slot = bucket.slot_of(c.timestamp, conn.dialect.name)
    zero = literal(0)
    stored = select(
        t[unit].label("slot"), t.action, t.resource_type, t.status,
        t.events.label("counted"), zero.label("actual"),
    ).where(t.tenant_id == tenant_id)  # fmt: skip
    actual = (
        select(
            slot.label("slot"),
            c.action,
            c.resource_type,
            c.status,
            zero.label("counted"),
            func.count().label("actual"),
        )
        .where(c.tenant_id == tenant_id, c.seq <= func.coalesce(position, 0))
        .group_by(slot, c.action, c.resource_type, c.status)
    )
    both = union_all(stored, actual).subquery("both")
    keys = (both.c.slot, both.c.action, both.c.resource_type, both.c.status)
    differing = (
        select(
            *keys,
            func.sum(both.c.counted).label("counted"),
            func.sum(both.c.actual).label("actual"),
        )
        .group_by(*keys)
        .having(func.sum(both.c.counted) != func.sum(both.c.actual))
        .subquery("differing")
    )
    # The cursor as this statement saw it, on a row of its own when nothing differs.
    seen = select(func.coalesce(position, 0).label("through")).subquery("seen")
    d = differing.c
    rows: list[Any] = list(
        conn.execute(
            select(seen.c.through, d.slot, d.action, d.resource_type, d.status, d.counted, d.actual)
            .select_from(seen.outerjoin(differing, true()))
            .order_by(d.slot, d.action, d.resource_type, d.status)
        )
    )
    return int(rows[0][0]), [
        (HourKind(int(slot_), action, rtype, status), int(counted), int(real))
        for _, slot_, action, rtype, status, counted, real in rows
        if slot_ is not None
    ]


def reset_rollups(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> None:
    """Empty the tenant's counters and move the rollups' cursor back to the start of its
    commit sequence, in the caller's transaction: the consumer then counts every stored
    event again. Holds the cursor first, as a purge does, so no pass runs alongside."""
    hold_rollups(conn, tenant_id=tenant_id, now=now)
    conn.execute(delete(activity_hours).where(activity_hours.c.tenant_id == tenant_id))
    conn.execute(delete(activity_days).where(activity_days.c.tenant_id == tenant_id))
    rewind_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
