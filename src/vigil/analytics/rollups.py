"""The activity rollups as a consumer of committed events (DESIGN §2): each event adds one
to its (hour, action, resource type, status) counter in ``activity_hours``, in the
transaction that moves the consumer's cursor, so exactly once; a retention purge takes its
events off again (``forget_events``).

Reads add the events past the cursor, read directly, so a summary is exact at any moment
(``analytics.rollup_counts``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Final, NamedTuple

from sqlalchemy import Connection, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vigil.analytics.rollup_tables import activity_hours
from vigil.core.clock import to_micros
from vigil.events.tables import EventRow
from vigil.spine.service import cursor_position
from vigil.spine.tables import consumer_cursors

CONSUMER_NAME: Final = "activity_rollups"
MICROS_PER_HOUR: Final = 3_600_000_000


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


class RollupConsumer:
    """Keeps ``activity_hours`` up with committed events."""

    name = CONSUMER_NAME
    # Summaries read the events past the cursor, so the counters only need to keep close:
    # a short gather lets a burst's commits share a pass (a pass writes a few rows).
    gather_seconds = 0.25
    quiet_seconds = 0.0
    batch_limit = 20_000

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventRow], now: datetime
    ) -> Counter[HourKind] | None:
        """The pass's counts per counter; None for no events."""
        return count_kinds(events) or None

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: Counter[HourKind], now: datetime
    ) -> None:
        """Add the pass's counts to the counters, creating the ones not there yet."""
        add_counts(conn, tenant_id=tenant_id, counts=plan)

    def after_commit(self, plan: Counter[HourKind]) -> None:
        """Nothing follows a pass."""


def add_counts(conn: Connection, *, tenant_id: uuid.UUID, counts: Counter[HourKind]) -> None:
    """Add ``counts`` to the tenant's counters in one statement (an upsert: ``INSERT … ON
    CONFLICT DO UPDATE``, PostgreSQL 9.5+ and SQLite 3.24+), in key order, so two writers
    of one tenant could never lock its rows in opposite orders."""
    if not counts:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(activity_hours)
    upsert = insert.on_conflict_do_update(
        index_elements=["tenant_id", "hour", "action", "resource_type", "status"],
        set_={"events": activity_hours.c.events + insert.excluded.events},
    )
    conn.execute(
        upsert,
        [
            {"tenant_id": tenant_id, **key._asdict(), "events": n}
            for key, n in sorted(counts.items())
        ],
    )


def hold_rollups(conn: Connection, *, tenant_id: uuid.UUID) -> None:
    """Lock the tenant's rollups cursor until the caller's transaction ends, waiting for a
    pass that holds it (PostgreSQL ``SELECT … FOR UPDATE``; SQLite's write lock keeps
    writers apart already). A purge does this before it deletes any event, so no pass reads
    events it deletes and ``forget_events`` reads where the counters stand."""
    if conn.dialect.name != "postgresql":
        return
    c = consumer_cursors.c
    conn.execute(
        select(c.position)
        .where(c.tenant_id == tenant_id, c.consumer == CONSUMER_NAME)
        .with_for_update()
    ).all()


def forget_events(conn: Connection, *, tenant_id: uuid.UUID, rows: Sequence[EventRow]) -> None:
    """Take deleted events (their rows as they were) off the tenant's counters, in the
    caller's transaction; a counter that comes to 0 is deleted. Events past the cursor
    were never counted and need nothing. A purge calls ``hold_rollups`` first."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    counted = count_kinds([row for row in rows if row["seq"] <= through])
    h = activity_hours.c
    for key, n in sorted(counted.items()):
        this = and_(
            h.tenant_id == tenant_id,
            h.hour == key.hour,
            h.action == key.action,
            h.resource_type == key.resource_type,
            h.status == key.status,
        )
        conn.execute(update(activity_hours).where(this).values(events=h.events - n))
        conn.execute(delete(activity_hours).where(this, h.events <= 0))
