"""The tenants table: one row per organisation, holding its settings.

An installation-wide table (not keyed by tenant): every other table's key starts with the
tenant's id (DESIGN §6) and refers back here.
"""

from sqlalchemy import Boolean, Column, Integer, String, Table, Text, UniqueConstraint, false

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
