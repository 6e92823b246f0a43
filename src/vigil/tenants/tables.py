"""The tenants table: one row per organisation, holding its settings.

An installation-wide table (not keyed by tenant): every other table's key starts with the
tenant's id (DESIGN §6) and refers back here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

DEFAULT_WORKING_HOURS = '{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"}'

tenants = Table(
    "tenants",
    metadata,
    Column("id", UUIDType(), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("retention_days", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # Comma-separated CIDRs the tenant's API may be called from; empty lets everyone in.
    Column("ip_allowlist", Text, nullable=False, server_default=""),
    # Users of role ADMIN and above must turn two-factor authentication on before their
    # sessions can do anything but that.
    Column("require_2fa_for_admins", Boolean, nullable=False, server_default=false()),
    # Working hours, for the off-hours detection: an IANA time zone, and JSON
    # {"days": [0..6, Monday = 0], "start": "HH:MM", "end": "HH:MM"}.
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("working_hours", Text, nullable=False, server_default=DEFAULT_WORKING_HOURS),
    UniqueConstraint("name"),
)


class TenantRow(TypedDict):
    """A row of ``tenants``, as every feature that reads a tenant's settings gets it."""

    id: uuid.UUID
    name: str
    retention_days: int
    created_at: datetime
    ip_allowlist: str
    require_2fa_for_admins: bool
    timezone: str
    working_hours: str


def tenant_row(mapping: RowMapping) -> TenantRow:
    """A row read with ``select(tenants)``, typed: its keys are exactly the table's columns
    (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(TenantRow, dict(mapping))
