"""Alert rules (the admin's own, and their changes to the built-in presets) and alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

# A stored rule is either an admin's own or their settings for a built-in preset of the same
# name; built-in presets nobody changed are not stored (their defaults live in code).
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("name", String(64), nullable=False),
    # The rule as JSON (kind, filter, threshold, window, grouping, severity, channels…).
    Column("definition", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "name"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("status", String(12), nullable=False),
    Column("subject", String(400), nullable=False),
    Column("summary", Text, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("count", Integer, nullable=False),
    # Ids of the events that matched, as a JSON list, newest first, at most a hundred.
    Column("evidence", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # "rule|subject" while the alert is not resolved, NULL after: the unique key lets one
    # node only open the alert, and new matches update it instead (NULLs never collide).
    Column("open_key", String(480), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "open_key"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_alerts_tenant_status_last_seen", "tenant_id", "status", "last_seen"),
    Index("ix_alerts_tenant_last_seen", "tenant_id", "last_seen"),
)


class AlertRow(TypedDict):
    """A row of ``alerts``: what raising, listing and changing an alert give, and what its
    notifications are written from."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    rule: str
    severity: str
    status: str
    subject: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    count: int
    evidence: str  # a JSON list of event ids
    note: str | None
    created_at: datetime
    updated_at: datetime
    open_key: str | None


class AlertChange(TypedDict, total=False):
    """The columns of ``alerts`` a change may set (identity, rule and subject never move)."""

    severity: str
    status: str
    summary: str
    first_seen: datetime
    last_seen: datetime
    count: int
    evidence: str
    note: str | None
    updated_at: datetime
    open_key: str | None


def alert_row(mapping: RowMapping) -> AlertRow:
    """A row read with ``select(alerts)``, typed: its keys are exactly the table's columns
    (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(AlertRow, dict(mapping))
