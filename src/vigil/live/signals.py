"""Signals for the live feed besides events: an alert opened or made more severe, and an
in-app notification, written in the transaction that makes them, so every node's streams
hear of them whichever node's detection pass or delivery wrote them.

They are for streams open now, not a record: ``SIGNAL_SECONDS`` after they were written
the retention job deletes them (``purge_signals``). On PostgreSQL writing one also sends
``NOTIFY`` on the events' channel, which wakes every node's hub at once; SQLite's watcher
sees the commit anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy import Connection, delete, text

from vigil.core.clock import new_id
from vigil.events.sequence import NOTIFY_CHANNEL
from vigil.live.tables import live_signals

ALERT: Final = "alert"
NOTIFICATION: Final = "notification"
SIGNAL_SECONDS: Final = 3600.0


def record_signals(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    kind: str,
    bodies: Sequence[tuple[uuid.UUID | None, dict[str, Any]]],
    now: datetime,
) -> None:
    """Write a signal of ``kind`` for each (user id or None for everyone, JSON body), in
    the caller's transaction."""
    if not bodies:
        return
    rows = [
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "kind": kind,
            "user_id": user_id,
            "body": orjson.dumps(body).decode(),
            "created_at": now,
        }
        for user_id, body in bodies
    ]
    conn.execute(live_signals.insert(), rows)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, 'signal')"), {"channel": NOTIFY_CHANNEL})


def purge_signals(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> int:
    """Delete the tenant's signals older than ``SIGNAL_SECONDS``; how many went."""
    s = live_signals.c
    older = s.created_at < now - timedelta(seconds=SIGNAL_SECONDS)
    return int(conn.execute(delete(live_signals).where(s.tenant_id == tenant_id, older)).rowcount)
