"""A tenant's notification settings, the outbox rows an alert writes, and the in-app inbox.

Callers own the transaction: an alert and its notifications commit together, or neither.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from vigil.accounts.tables import users
from vigil.core.clock import new_id
from vigil.core.errors import NotFound
from vigil.core.sealing import UnsealError, seal, unseal
from vigil.detections.rules import Channel, Rule, Severity
from vigil.notifications.tables import inbox, notification_settings, outbox

log = logging.getLogger(__name__)

PENDING, SENT = "PENDING", "SENT"
SEALING_PURPOSE = "slack-webhook"


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """Where a tenant's alerts go (the Slack URL in clear, only in memory)."""

    email_enabled: bool = False
    email_recipients: tuple[str, ...] = ()
    slack_enabled: bool = False
    slack_webhook_url: str | None = field(default=None, repr=False)  # a credential
    in_app_enabled: bool = True

    def enabled(self) -> list[Channel]:
        """The channels that are on (and usable)."""
        on = []
        if self.email_enabled and self.email_recipients:
            on.append(Channel.EMAIL)
        if self.slack_enabled and self.slack_webhook_url:
            on.append(Channel.SLACK)
        if self.in_app_enabled:
            on.append(Channel.IN_APP)
        return on


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


def notify(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    alert: dict[str, Any],
    rule: Rule,
    channels: ChannelSettings,
    link: str,
    now: datetime,
) -> list[Channel]:
    """Write the alert's notifications: outbox rows for email and Slack, inbox rows for every
    user who may read activity. Returns the channels used."""
    if Severity(alert["severity"]).rank < rule.min_severity.rank:
        return []
    allowed = set(rule.channels) if rule.channels is not None else set(Channel)
    used = [channel for channel in channels.enabled() if channel in allowed]
    message = Message.of(alert, link)
    for channel in used:
        if channel is Channel.IN_APP:
            to_inboxes(conn, tenant_id=tenant_id, alert=alert, title=message.title, now=now)
            continue
        payload = (
            message.email(channels.email_recipients)
            if channel is Channel.EMAIL
            else message.slack()
        )
        conn.execute(
            outbox.insert(),
            {
                "tenant_id": tenant_id,
                "id": new_id(),
                "alert_id": alert["id"],
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
    return used


@dataclass(frozen=True, slots=True)
class Message:
    """An alert told to people: a title, lines, and where to look."""

    title: str
    severity: str
    rule: str
    subject: str
    count: int
    summary: str
    link: str

    @classmethod
    def of(cls, alert: dict[str, Any], link: str) -> Message:
        """The message for an alert."""
        # One line: event data in a summary may hold line breaks, which no mail header takes.
        title = " ".join(f"[{alert['severity']}] {alert['rule']}: {alert['summary']}".split())
        return cls(
            title=title,
            severity=alert["severity"],
            rule=alert["rule"],
            subject=alert["subject"],
            count=alert["count"],
            summary=alert["summary"],
            link=link,
        )

    def email(self, recipients: tuple[str, ...]) -> dict[str, Any]:
        """An email's fields."""
        body = (
            f"{self.summary}\n\n"
            f"Severity: {self.severity}\nRule: {self.rule}\nSubject: {self.subject}\n"
            f"Events: {self.count}\n\nOpen the alert: {self.link}\n\n-- Vigil\n"
        )
        return {"to": list(recipients), "subject": f"Vigil alert: {self.title}", "body": body}

    def slack(self) -> dict[str, Any]:
        """What a Slack incoming webhook accepts: text, and blocks to lay it out."""
        fields = [
            {"type": "mrkdwn", "text": f"*Severity*\n{self.severity}"},
            {"type": "mrkdwn", "text": f"*Rule*\n{self.rule}"},
            {"type": "mrkdwn", "text": f"*Subject*\n{_slack_escape(self.subject)}"},
            {"type": "mrkdwn", "text": f"*Events*\n{self.count}"},
        ]
        return {
            "text": f"Vigil alert: {_slack_escape(self.title)}",
            "blocks": [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"*{_slack_escape(self.summary)}*"},
                },
                {"type": "section", "fields": fields},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open in Vigil"},
                            "url": self.link,
                        }
                    ],
                },
            ],
        }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn gives &, < and > meaning; event data must not form links or mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_inboxes(
    conn: Connection, *, tenant_id: uuid.UUID, alert: dict[str, Any], title: str, now: datetime
) -> None:
    readers = conn.execute(
        select(users.c.id).where(
            users.c.tenant_id == tenant_id,
            users.c.status == "ACTIVE",
            or_(
                users.c.role.in_(["ADMIN", "SUPER_ADMIN"]),
                users.c.permissions.like("%USER_VIEW%"),
                users.c.permissions.like("%USER_MANAGE%"),
            ),
        )
    ).scalars()
    rows = [
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "user_id": user_id,
            "alert_id": alert["id"],
            "severity": alert["severity"],
            "title": title[:1000],
            "created_at": now,
            "read_at": None,
        }
        for user_id in readers
    ]
    if rows:
        conn.execute(inbox.insert(), rows)


# --- the in-app inbox ---


def list_inbox(
    conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
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
    return [dict(row) for row in rows], int(unread)


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


def deliveries_of(
    conn: Connection, *, tenant_id: uuid.UUID, alert_id: uuid.UUID
) -> list[dict[str, Any]]:
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
    return [dict(row) for row in conn.execute(query).mappings()]
