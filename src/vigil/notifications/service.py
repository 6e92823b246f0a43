"""A tenant's notification settings, the notifications an alert writes, and the in-app inbox.

Callers own the transaction: an alert and its notifications commit together, or neither.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypedDict, cast

from sqlalchemy import Connection, func, select, update

from vigil.core.clock import new_id
from vigil.core.errors import NotFound
from vigil.core.sealing import UnsealError, seal, unseal
from vigil.detections.tables import AlertRow
from vigil.notifications.channel import ChannelName, ChannelSettings, Delivery, Message
from vigil.notifications.channels import CHANNELS, enabled_channels
from vigil.notifications.tables import InboxRow, inbox, inbox_row, notification_settings, outbox

log = logging.getLogger(__name__)

PENDING, SENT = "PENDING", "SENT"
SEALING_PURPOSE = "slack-webhook"


def read_settings(conn: Connection, *, tenant_id: uuid.UUID, secret_key: str) -> ChannelSettings:
    """The tenant's settings; in-app only until an admin sets them."""
    found = (
        conn.execute(
            select(notification_settings).where(notification_settings.c.tenant_id == tenant_id)
        )
        .mappings()
        .first()
    )
    if found is None:
        return ChannelSettings()
    webhook = found["slack_webhook"]
    try:
        url = unseal(secret_key, SEALING_PURPOSE, webhook) if webhook else None
    except UnsealError:
        log.warning("the Slack webhook of tenant %s cannot be opened; set it again", tenant_id)
        url = None
    return ChannelSettings(
        email_enabled=found["email_enabled"],
        email_recipients=tuple(r for r in found["email_recipients"].split(",") if r),
        slack_enabled=found["slack_enabled"],
        slack_webhook_url=url,
        in_app_enabled=found["in_app_enabled"],
    )


def write_settings(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    chosen: ChannelSettings,
    secret_key: str,
    now: datetime,
) -> None:
    """Replace the tenant's settings."""
    url = chosen.slack_webhook_url
    values = {
        "email_enabled": chosen.email_enabled,
        "email_recipients": ",".join(chosen.email_recipients),
        "slack_enabled": chosen.slack_enabled,
        "slack_webhook": seal(secret_key, SEALING_PURPOSE, url) if url else None,
        "in_app_enabled": chosen.in_app_enabled,
        "updated_at": now,
    }
    changed = conn.execute(
        update(notification_settings)
        .where(notification_settings.c.tenant_id == tenant_id)
        .values(values)
    ).rowcount
    if not changed:
        conn.execute(notification_settings.insert(), {"tenant_id": tenant_id, **values})


class Routing(Protocol):
    """What a rule says about who hears of its alerts (a detection rule keeps it)."""

    @property
    def channels(self) -> Sequence[ChannelName] | None:
        """The channels its alerts may use; None: every enabled one."""
        ...

    def notifies(self, severity: str) -> bool:
        """Whether an alert of ``severity`` tells anyone."""
        ...


def notify(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    alert: AlertRow,
    rule: Routing,
    channels: ChannelSettings,
    link: str,
    now: datetime,
) -> list[ChannelName]:
    """Write the alert's notifications in the caller's transaction: a payload in the outbox
    for each outbox channel, the rows of each immediate one. Returns the channels used."""
    if not rule.notifies(alert["severity"]):
        return []
    allowed = set(rule.channels) if rule.channels is not None else set(ChannelName)
    used = [name for name in enabled_channels(channels) if name in allowed]
    message = Message.of(alert, link)
    for name in used:
        channel = CHANNELS[name]
        if channel.delivery is Delivery.OUTBOX:
            _enqueue(
                conn,
                tenant_id=tenant_id,
                alert_id=message.alert_id,
                channel=name,
                payload=channel.render(message, channels),
                now=now,
            )
        else:
            channel.write(conn, tenant_id=tenant_id, message=message, now=now)
    return used


def _enqueue(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    alert_id: uuid.UUID | None,
    channel: ChannelName,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Store a payload in the outbox, due now."""
    conn.execute(
        outbox.insert(),
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "alert_id": alert_id,
            "channel": channel.value,
            "payload": json.dumps(payload),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
        },
    )


# --- the in-app inbox ---


def list_inbox(
    conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[InboxRow], int]:
    """The user's notifications, newest first, and how many are unread."""
    mine = (inbox.c.tenant_id == tenant_id, inbox.c.user_id == user_id)
    rows = conn.execute(
        select(inbox)
        .where(*mine)
        .order_by(inbox.c.created_at.desc(), inbox.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).mappings()
    unread = conn.execute(
        select(func.count()).select_from(inbox).where(*mine, inbox.c.read_at.is_(None))
    ).scalar_one()
    return [inbox_row(row) for row in rows], int(unread)


def unread_count(conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """How many of the user's notifications are unread."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(inbox)
            .where(
                inbox.c.tenant_id == tenant_id,
                inbox.c.user_id == user_id,
                inbox.c.read_at.is_(None),
            )
        ).scalar_one()
    )


def mark_read(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    notification_id: uuid.UUID | None,
    now: datetime,
) -> int:
    """Mark one notification (or, with None, all of them) read; returns how many changed."""
    where = [inbox.c.tenant_id == tenant_id, inbox.c.user_id == user_id]
    if notification_id is not None:
        where.append(inbox.c.id == notification_id)
        exists = conn.execute(select(inbox.c.id).where(*where)).first()
        if exists is None:
            raise NotFound(f"notification {notification_id} not found")
    return int(
        conn.execute(
            update(inbox).where(*where, inbox.c.read_at.is_(None)).values(read_at=now)
        ).rowcount
    )


def alert_of(
    conn: Connection, *, tenant_id: uuid.UUID, notification_id: uuid.UUID
) -> uuid.UUID | None:
    """The alert a notification is about, if any."""
    query = select(inbox.c.alert_id).where(
        inbox.c.tenant_id == tenant_id, inbox.c.id == notification_id
    )
    found = conn.execute(query).scalar_one_or_none()
    return found if isinstance(found, uuid.UUID) else None


class DeliveryRow(TypedDict):
    """How one email or Slack delivery of an alert stands: some columns of ``outbox``."""

    id: uuid.UUID
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


def deliveries_of(
    conn: Connection, *, tenant_id: uuid.UUID, alert_id: uuid.UUID
) -> list[DeliveryRow]:
    """The email and Slack deliveries of an alert, with their state and last error."""
    query = (
        select(
            outbox.c.id,
            outbox.c.channel,
            outbox.c.status,
            outbox.c.attempts,
            outbox.c.next_attempt_at,
            outbox.c.last_error,
            outbox.c.sent_at,
        )
        .where(outbox.c.tenant_id == tenant_id, outbox.c.alert_id == alert_id)
        .order_by(outbox.c.created_at)
    )
    # Safe: the query selects exactly the columns that are DeliveryRow's keys.
    return [cast(DeliveryRow, dict(row)) for row in conn.execute(query).mappings()]
