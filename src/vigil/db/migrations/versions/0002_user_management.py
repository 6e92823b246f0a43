"""User management: granted permissions, activity times, the email directory, key owners.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UTCDateTime, UUIDType

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("permissions", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_login_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_active_at", UTCDateTime(), nullable=True))
    op.create_table(
        "user_emails",
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("user_id", UUIDType(), nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_user_emails"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_user_emails_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.execute(
        "INSERT INTO user_emails (email, tenant_id, user_id) SELECT email, tenant_id, id FROM users"
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("user_id", UUIDType(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("user_id")
    op.drop_table("user_emails")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_active_at")
        batch.drop_column("last_login_at")
        batch.drop_column("updated_at")
        batch.drop_column("permissions")
