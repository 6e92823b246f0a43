"""Users, their sign-in lookups, sessions, password resets, recovery codes and API keys.

Every primary and unique key of a tenant's data starts with ``tenant_id`` (DESIGN §6), so
the tables can later be distributed by tenant without rework. The foreign keys refer to
``vigil.tenants.tables.tenants``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import (
    BigInteger,
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
    UniqueConstraint,
    false,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

users = Table(
    "users",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("status", String(16), nullable=False, server_default="ACTIVE"),
    Column("created_at", UTCDateTime(), nullable=False),
    # Permissions granted on top of the role's, comma-separated.
    Column("permissions", Text, nullable=False, server_default=""),
    Column("updated_at", UTCDateTime(), nullable=True),
    Column("last_login_at", UTCDateTime(), nullable=True),
    Column("last_active_at", UTCDateTime(), nullable=True),
    # Consecutive failed sign-ins, and until when the account is locked because of them.
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime(), nullable=True),
    # Two-factor authentication: the TOTP secret (set up first, then enabled), and the last
    # time step accepted, so no code works twice.
    Column("totp_secret", Text, nullable=True),
    Column("totp_enabled", Boolean, nullable=False, server_default=false()),
    Column("totp_last_step", BigInteger, nullable=True),
    # Email and name folded for search (``user_search_text``), kept by every write of either.
    Column("search_text", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "email"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index(None, "email"),
)


class NewUserRow(TypedDict):
    """A user as ``create_user`` writes it: every column of ``users`` but those the database
    fills in with their defaults (the sign-in counters and two-factor state). A UserRow
    is one too, so what needs only these columns takes a NewUserRow."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    email: str
    name: str
    role: str
    password_hash: str | None
    status: str
    created_at: datetime
    permissions: str  # granted on top of the role, comma-separated
    updated_at: datetime | None
    last_login_at: datetime | None
    last_active_at: datetime | None
    search_text: str  # email and name folded, what ``?q=`` looks in


class UserRow(NewUserRow):
    """A row of ``users``, as reading a user gives it."""

    failed_logins: int
    locked_until: datetime | None
    totp_secret: str | None  # sealed
    totp_enabled: bool
    totp_last_step: int | None
    search_text: str  # folded email and name, for ``?q=``


def user_row(mapping: RowMapping) -> UserRow:
    """A row read with ``select(users)``, typed: its keys are exactly the table's columns
    (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(UserRow, dict(mapping))


# Which tenant an email belongs to: an email is one account in the whole installation, so
# sign-in can find the tenant from it. A global lookup table, like ``tenants``.
user_emails = Table(
    "user_emails",
    metadata,
    Column("email", String(320), nullable=False),
    Column("tenant_id", UUIDType(), nullable=False),
    Column("user_id", UUIDType(), nullable=False),
    PrimaryKeyConstraint("email"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("name", String(200), nullable=False),
    # The first characters of the key, kept so people can tell their keys apart.
    Column("key_prefix", String(16), nullable=False),
    # SHA-256 of the whole key: keys carry 256 random bits, so a fast hash is enough.
    Column("key_hash", String(64), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    # The user who created it; disabling that user revokes the key.
    Column("user_id", UUIDType(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index(None, "key_hash"),
)


class ApiKeyRow(TypedDict):
    """A row of ``api_keys``: what issuing, listing and revoking a key give."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    name: str
    key_prefix: str
    key_hash: str
    scopes: str  # comma-separated permissions
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    user_id: uuid.UUID | None


def api_key_row(mapping: RowMapping) -> ApiKeyRow:
    """A row read with ``select(api_keys)``, typed: its keys are exactly the table's columns
    (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(ApiKeyRow, dict(mapping))


sessions = Table(
    "sessions",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("user_id", UUIDType(), nullable=False),
    # SHA-256 of the opaque token the client holds; the token itself is never stored.
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("ip_address", String(45), nullable=True),
    Column("user_agent", String(1024), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
    ),
    Index(None, "token_hash"),
    Index(None, "tenant_id", "user_id"),
)


class SessionRow(TypedDict):
    """A row of ``sessions``, as opening a session writes it."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    user_id: uuid.UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    ip_address: str | None
    user_agent: str | None


password_resets = Table(
    "password_resets",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("user_id", UUIDType(), nullable=False),
    # SHA-256 of the token in the emailed link; the link itself is never stored.
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
    ),
    Index(None, "token_hash"),
)


class PasswordResetRow(TypedDict):
    """A row of ``password_resets``: one emailed link."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    user_id: uuid.UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


def password_reset_row(mapping: RowMapping) -> PasswordResetRow:
    """A row read with ``select(password_resets)``, typed: its keys are exactly the table's
    columns (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(PasswordResetRow, dict(mapping))


recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("user_id", UUIDType(), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
    ),
    Index(None, "tenant_id", "user_id"),
)
