"""The live feed's signals besides events (``live_signals``): alerts opened or escalated
and in-app notifications, for the streams of every node, kept an hour.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UTCDateTime, UUIDType

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_signals",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", UUIDType(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_live_signals"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_live_signals_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_live_signals_tenant_created", "live_signals", ["tenant_id", "created_at"])
    op.create_index("ix_live_signals_created", "live_signals", ["created_at"])


def downgrade() -> None:
    op.drop_table("live_signals")
