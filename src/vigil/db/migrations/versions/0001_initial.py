"""Tenants, users, API keys and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UTCDateTime, UUIDType

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "users",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), server_default="ACTIVE", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_users"),
        sa.UniqueConstraint("tenant_id", "email", name="uq_users_tenant_id_email"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_users_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_users_email", "users", ["email"])
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_api_keys_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_api_keys_key_hash", "api_keys", ["key_hash"])
    op.create_table(
        "events",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=True),
        sa.Column("user_id", sa.String(255), nullable=True),
        sa.Column("user_email", sa.String(320), nullable=True),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.String(1024), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_events"),
    )
    op.create_index("ix_events_tenant_time", "events", ["tenant_id", "timestamp", "id"])
    op.create_index(
        "ix_events_tenant_user_time", "events", ["tenant_id", "user_id", "timestamp", "id"]
    )
    op.create_index(
        "ix_events_tenant_action_time", "events", ["tenant_id", "action", "timestamp", "id"]
    )
    op.create_index(
        "ix_events_tenant_resource_time",
        "events",
        ["tenant_id", "resource_type", "resource_id", "timestamp", "id"],
    )
    op.create_index(
        "ix_events_tenant_ip_time", "events", ["tenant_id", "ip_address", "timestamp", "id"]
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("tenants")
