"""Where a tenant's alerts go, the outbox of deliveries, and the in-app inbox."""

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
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
