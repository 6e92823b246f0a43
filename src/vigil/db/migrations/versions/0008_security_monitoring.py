"""Security monitoring: alert rules, alerts, working hours, notification settings, the
delivery outbox and the in-app inbox.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UTCDateTime, UUIDType

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DEFAULT_WORKING_HOURS = '{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"}'


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False))
        batch.add_column(
            sa.Column(
                "working_hours", sa.Text(), server_default=DEFAULT_WORKING_HOURS, nullable=False
            )
        )
    op.create_table(
        "alert_rules",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_alert_rules"),
        _tenant_fk("alert_rules"),
    )
    op.create_table(
        "alerts",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("open_key", sa.String(480), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_alerts"),
        sa.UniqueConstraint("tenant_id", "open_key", name="uq_alerts_tenant_id_open_key"),
        _tenant_fk("alerts"),
    )
    op.create_index(
        "ix_alerts_tenant_status_last_seen", "alerts", ["tenant_id", "status", "last_seen"]
    )
    op.create_index("ix_alerts_tenant_last_seen", "alerts", ["tenant_id", "last_seen"])
    op.create_table(
        "notification_settings",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("email_recipients", sa.Text(), nullable=False),
        sa.Column("slack_enabled", sa.Boolean(), nullable=False),
        sa.Column("slack_webhook", sa.Text(), nullable=True),
        sa.Column("in_app_enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_notification_settings"),
        _tenant_fk("notification_settings"),
    )
    op.create_table(
        "outbox",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("alert_id", UUIDType(), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_outbox"),
        _tenant_fk("outbox"),
    )
    op.create_index("ix_outbox_status_next_attempt", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_tenant_alert", "outbox", ["tenant_id", "alert_id"])
    op.create_table(
        "notifications",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("user_id", UUIDType(), nullable=False),
        sa.Column("alert_id", UUIDType(), nullable=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_notifications"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_notifications_tenant_id_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_notifications_tenant_user_created",
        "notifications",
        ["tenant_id", "user_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("outbox")
    op.drop_table("notification_settings")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("working_hours")
        batch.drop_column("timezone")
