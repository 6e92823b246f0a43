"""Background work on events: retention."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from vigil.analytics import resource_rollups, rollups
from vigil.events.tables import event_row, events
from vigil.people import retention as people
from vigil.search.service import forget_events, hold_index

PURGE_CHUNK = 5000


def purge_expired(
    conn: Connection, *, tenant_id: uuid.UUID, retention_days: int, now: datetime
) -> int:
    """Delete up to one chunk of the tenant's events older than its retention; 0 keeps all.

    The search index, the activity and resource rollups and the people tables forget them
    in the same transaction. Returns how many were deleted; callers repeat, one short
    transaction per chunk, until 0, so a large backlog never holds the write lock for long.
    """
    if retention_days <= 0:
        return 0
    # Before any event: no pass of the search index, the rollups or the people tables over
    # this tenant runs alongside, and another node's purge of the tenant waits for this one
    # (so no event is forgotten twice). Always in this order, so two purges can never deadlock.
    hold_index(conn, tenant_id=tenant_id, now=now)
    rollups.hold_rollups(conn, tenant_id=tenant_id, now=now)
    resource_rollups.hold_resource_rollups(conn, tenant_id=tenant_id, now=now)
    people.hold_people(conn, tenant_id=tenant_id, now=now)
    cutoff = now - timedelta(days=retention_days)
    expired = [
        event_row(row)
        for row in conn.execute(
            select(events)
            .where(events.c.tenant_id == tenant_id, events.c.timestamp < cutoff)
            .limit(PURGE_CHUNK)
        ).mappings()
    ]
    if not expired:
        return 0
    deleted = set(
        conn.execute(
            delete(events)
            .where(events.c.tenant_id == tenant_id, events.c.id.in_([row["id"] for row in expired]))
            .returning(events.c.seq)
        ).scalars()
    )
    gone = [row for row in expired if row["seq"] in deleted]
    forget_events(conn, tenant_id=tenant_id, rows=gone)
    rollups.forget_events(conn, tenant_id=tenant_id, rows=gone)
    resource_rollups.forget_events(conn, tenant_id=tenant_id, rows=gone)
    people.forget_events(conn, tenant_id=tenant_id, rows=gone)
    return len(deleted)
