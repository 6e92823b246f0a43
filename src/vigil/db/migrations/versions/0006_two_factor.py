"""Two-factor authentication: TOTP secrets and recovery codes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UTCDateTime, UUIDType

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("totp_enabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "recovery_codes",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("user_id", UUIDType(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_recovery_codes"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_recovery_codes_tenant_id_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_recovery_codes_tenant_id_user_id", "recovery_codes", ["tenant_id", "user_id"]
    )


def downgrade() -> None:
    op.drop_table("recovery_codes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled")
        batch.drop_column("totp_secret")
