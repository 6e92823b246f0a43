"""Alerts in the console: a row in the inbox of every user who may read activity."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Connection

from vigil.accounts.users import active_users_with
from vigil.core.clock import new_id
from vigil.core.permissions import READ_ACTIVITY
from vigil.events.wire import format_time
from vigil.live.signals import NOTIFICATION, record_signals
from vigil.notifications.channel import ChannelName, ChannelSettings, Delivery, Message
from vigil.notifications.tables import inbox

name: Final = ChannelName.IN_APP
delivery: Final = Delivery.IMMEDIATE


def is_on(chosen: ChannelSettings) -> bool:
    """On unless the tenant turned it off."""
    return chosen.in_app_enabled


def write(conn: Connection, *, tenant_id: uuid.UUID, message: Message, now: datetime) -> None:
    """An unread notification for each active user of the tenant who may read activity
    (through their role or a grant): an alert is only worth telling to who can open it."""
    readers = active_users_with(conn, tenant_id=tenant_id, any_of=READ_ACTIVITY)
    rows = [
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "user_id": user_id,
            "alert_id": message.alert_id,
            "severity": message.severity,
            "title": message.title[:1000],
            "created_at": now,
            "read_at": None,
        }
        for user_id in readers
    ]
    if rows:
        conn.execute(inbox.insert(), rows)
        # Their owners' live streams show them at once (the header's unread count).
        bodies = [(cast(uuid.UUID, row["user_id"]), notification_signal(row)) for row in rows]
        record_signals(conn, tenant_id=tenant_id, kind=NOTIFICATION, bodies=bodies, now=now)


def notification_signal(row: dict[str, Any]) -> dict[str, Any]:
    """What its owner's live streams are sent of a new in-app notification."""
    return {
        "id": row["id"],
        "alert_id": row["alert_id"],
        "severity": row["severity"],
        "title": row["title"],
        "created_at": format_time(row["created_at"]),
    }
