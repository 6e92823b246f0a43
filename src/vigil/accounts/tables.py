"""Users, their sign-in lookups, sessions, password resets, recovery codes and API keys.

Every primary and unique key of a tenant's data starts with ``tenant_id`` (DESIGN §6), so
the tables can later be distributed by tenant without rework. The foreign keys refer to
``vigil.tenants.tables.tenants``.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
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
    PrimaryKeyConstraint("tenant_id", "id"),
    UniqueConstraint("tenant_id", "email"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index(None, "email"),
)

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
