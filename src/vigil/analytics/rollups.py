"""The activity rollups as a consumer of committed events (DESIGN §2): each event adds one
to its (hour, action, resource type, status) counter in ``activity_hours`` and to its (UTC
day, …) counter in ``activity_days``, in the transaction that moves the consumer's cursor,
so exactly once; a retention purge takes its events off again (``forget_events``).

A pass counts its events in SQL from the rows still stored when it writes, not from the
rows it was handed: on SQLite a pass plans outside the write lock, and a purge committing
between its plan and its write deletes events the counters must then never hold (the purge
took nothing off for them, being past the cursor).

Reads add the events past the cursor, read directly, so a summary is exact at any moment
(``analytics.rollup_counts``).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Final, NamedTuple

from sqlalchemy import Connection, and_, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vigil.analytics.buckets import DAY, HOUR
from vigil.analytics.rollup_tables import activity_days, activity_hours
from vigil.core.clock import to_micros
from vigil.db.types import UUIDType
from vigil.events.tables import EventRow, events
from vigil.spine.consumers import SeqSpan, SpanCounter
from vigil.spine.service import cursor_position, hold_cursor

log = logging.getLogger(__name__)

CONSUMER_NAME: Final = "activity_rollups"
MICROS_PER_HOUR: Final = 3_600_000_000
HOURS_PER_DAY: Final = 24


class HourKind(NamedTuple):
    """One counter's key: the hour (since the epoch, UTC) and the kind of event."""

    hour: int
    action: str
    resource_type: str
    status: str


def hour_of(moment: datetime) -> int:
    """Whole hours from 1970-01-01T00:00Z to ``moment`` (aware), rounded down (also before
    1970)."""
    return to_micros(moment) // MICROS_PER_HOUR


def count_kinds(rows: Sequence[EventRow]) -> Counter[HourKind]:
    """How many of ``rows`` fall on each counter."""
    return Counter(
        HourKind(hour_of(row["timestamp"]), row["action"], row["resource_type"], row["status"])
        for row in rows
    )


def by_day(hours: Counter[HourKind]) -> Counter[HourKind]:
    """The same counts by UTC day (the key's ``hour`` then holds the day)."""
    days: Counter[HourKind] = Counter()
    for key, n in hours.items():
        days[key._replace(hour=key.hour // HOURS_PER_DAY)] += n
    return days


class RollupConsumer(SpanCounter):
    """Keeps ``activity_hours`` and ``activity_days`` up with committed events."""

    name = CONSUMER_NAME
    # Summaries read the events past the cursor, so the counters only need to keep close:
    # a short gather lets a burst's commits share a pass (a pass writes a few rows).
    gather_seconds = 0.25
    background = True  # a small share of the time while events commit (``spine.turns``)
    batch_limit = 20_000

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: SeqSpan, now: datetime
    ) -> None:
        """Add the span's events still stored to the counters."""
        count_stored(conn, tenant_id=tenant_id, first_seq=plan.first_seq, last_seq=plan.last_seq)


def count_stored(conn: Connection, *, tenant_id: uuid.UUID, first_seq: int, last_seq: int) -> None:
    """Add the tenant's stored events from ``first_seq`` to ``last_seq`` to their counters
    by hour and by day, creating the counters not there yet, a statement each (``INSERT …
    SELECT … ON CONFLICT DO UPDATE``: PostgreSQL 9.5+, SQLite 3.24+)."""
    for table, unit, bucket in ((activity_hours, "hour", HOUR), (activity_days, "day", DAY)):
        c = events.c
        slot = bucket.slot_of(c.timestamp, conn.dialect.name)
        counted = (
            select(
                literal(tenant_id, UUIDType()).label("tenant_id"),
                slot.label(unit),
                c.action,
                c.resource_type,
                c.status,
                func.count().label("events"),
            )
            .where(c.tenant_id == tenant_id, c.seq >= first_seq, c.seq <= last_seq)
            .group_by(slot, c.action, c.resource_type, c.status)
        )
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(table)
        keys = ["tenant_id", unit, "action", "resource_type", "status"]
        conn.execute(
            insert.from_select([*keys, "events"], counted).on_conflict_do_update(
                index_elements=keys, set_={"events": table.c.events + insert.excluded.events}
            )
        )


def hold_rollups(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> None:
    """Lock the tenant's rollups cursor until the caller's transaction ends (see
    ``spine.service.hold_cursor``; on SQLite a pass counts what is stored when it writes).
    A purge does this before it deletes any event, so no pass counts events it deletes
    and ``forget_events`` reads where the counters stand."""
    hold_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=now)


def forget_events(conn: Connection, *, tenant_id: uuid.UUID, rows: Sequence[EventRow]) -> None:
    """Take deleted events (their rows as they were) off the tenant's counters, in the
    caller's transaction; a counter that comes to 0 is deleted. Events past the cursor
    were never counted and need nothing. A purge calls ``hold_rollups`` first.

    A counter that would go below 0 means the counters were wrong already: it is logged
    (``vigil rollups check`` and ``rebuild`` mend them) and deleted."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    counted = count_kinds([row for row in rows if row["seq"] <= through])
    for table, unit, per_unit in (
        (activity_hours, "hour", counted),
        (activity_days, "day", by_day(counted)),
    ):
        t = table.c
        for key, n in sorted(per_unit.items()):
            this = and_(
                t.tenant_id == tenant_id,
                t[unit] == key.hour,
                t.action == key.action,
                t.resource_type == key.resource_type,
                t.status == key.status,
            )
            left = conn.execute(
                update(table).where(this).values(events=t.events - n).returning(t.events)
            ).scalar_one_or_none()
            if left is None or left < 0:
                log.error(
                    "activity rollups of tenant %s: the %s counter of %s held %s fewer events"
                    " than a purge deleted; run vigil rollups check",
                    tenant_id,
                    unit,
                    key,
                    "all" if left is None else -left,
                )
            if left is None or left <= 0:
                conn.execute(delete(table).where(this))
