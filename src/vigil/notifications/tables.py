"""Where a tenant's alerts go, the outbox of deliveries, and the in-app inbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    RowMapping,
    String,
    Table,
    Text,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

notification_settings = Table(
    "notification_settings",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("email_enabled", Boolean, nullable=False),
    Column("email_recipients", Text, nullable=False),  # comma-separated
    Column("slack_enabled", Boolean, nullable=False),
    # The incoming webhook's URL is a credential: stored sealed with VIGIL_SECRET_KEY.
    Column("slack_webhook", Text, nullable=True),
    Column("in_app_enabled", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

# Written in the transaction that opens an alert; a worker delivers each row, retrying with
# backoff. A row is claimed for a while before delivery, so two nodes never send it twice.
outbox = Table(
    "outbox",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("alert_id", UUIDType(), nullable=True),
    Column("channel", String(8), nullable=False),
    Column("payload", Text, nullable=False),  # JSON: what to send, rendered at write time
    Column("status", String(8), nullable=False),  # PENDING, SENT
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
    Index("ix_outbox_tenant_alert", "tenant_id", "alert_id"),
)


class OutboxRow(TypedDict):
    """A row of ``outbox``: one payload to deliver, as the deliverer claims it."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    alert_id: uuid.UUID | None
    channel: str
    payload: str  # JSON
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_until: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def outbox_row(mapping: RowMapping) -> OutboxRow:
    """A row read with ``select(outbox)``, typed: its keys are exactly the table's columns
    (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(OutboxRow, dict(mapping))


inbox = Table(
    "notifications",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("user_id", UUIDType(), nullable=False),
    Column("alert_id", UUIDType(), nullable=True),
    Column("severity", String(8), nullable=False),
    Column("title", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("read_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
    ),
    Index("ix_notifications_tenant_user_created", "tenant_id", "user_id", "created_at"),
)


class InboxRow(TypedDict):
    """A row of the in-app inbox (``notifications``): one user's notice of an alert."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    user_id: uuid.UUID
    alert_id: uuid.UUID | None
    severity: str
    title: str
    created_at: datetime
    read_at: datetime | None


def inbox_row(mapping: RowMapping) -> InboxRow:
    """A row read with ``select(inbox)``, typed: its keys are exactly the table's columns
    (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(InboxRow, dict(mapping))
