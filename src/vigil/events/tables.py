"""The events table and the indexes that follow the list filters (DESIGN §5)."""

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table, Text

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

events = Table(
    "events",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("action", String(16), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("resource_id", String(255), nullable=True),
    Column("user_id", String(255), nullable=True),
    Column("user_email", String(320), nullable=True),
    Column("ip_address", String(45), nullable=True),
    Column("user_agent", String(1024), nullable=True),
    # Compact JSON text, stored exactly as serialised (jsonb would reorder keys).
    Column("details", Text, nullable=True),
    Column("status", String(8), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("country", String(2), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    # Each index ends in (timestamp, id) so newest-first keyset pages read in index order.
    Index("ix_events_tenant_time", "tenant_id", "timestamp", "id"),
    Index("ix_events_tenant_user_time", "tenant_id", "user_id", "timestamp", "id"),
    Index("ix_events_tenant_action_time", "tenant_id", "action", "timestamp", "id"),
    Index(
        "ix_events_tenant_resource_time",
        "tenant_id",
        "resource_type",
        "resource_id",
        "timestamp",
        "id",
    ),
    Index("ix_events_tenant_ip_time", "tenant_id", "ip_address", "timestamp", "id"),
)
