"""The live feed's table: signals other than events (alerts opened or escalated, in-app
notifications) for the streams of every node, kept a short while."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    RowMapping,
    String,
    Table,
    Text,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

live_signals = Table(
    "live_signals",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),  # time-ordered
    Column("kind", String(16), nullable=False),  # "alert" or "notification"
    # Whose it is: a notification reaches its user's own streams only; None for everyone's.
    Column("user_id", UUIDType(), nullable=True),
    Column("body", Text, nullable=False),  # the JSON a stream sends
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_live_signals_tenant_created", "tenant_id", "created_at"),
    Index("ix_live_signals_created", "created_at"),
)


class SignalRow(TypedDict):
    """A row of ``live_signals``."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    kind: str
    user_id: uuid.UUID | None
    body: str
    created_at: datetime


def signal_row(mapping: RowMapping) -> SignalRow:
    """A row read with ``select(live_signals)``, typed."""
    return cast(SignalRow, dict(mapping))
