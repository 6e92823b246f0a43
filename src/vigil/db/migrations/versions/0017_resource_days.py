"""Resource rollups: how many events each resource had per UTC day and action
(``vigil.analytics.resource_rollups``), so resource analytics add up days instead of reading
every event of their period.

The table starts empty and the ``resource_rollups`` consumer counts every stored event from
the start of each tenant's commit sequence: ``vigil migrate`` does it at once with a
progress bar (as ``vigil rollups rebuild`` does), a running server in the background.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UUIDType

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_days",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "resource_type", "day", "resource_id", "action"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("resource_days")
    op.execute("DELETE FROM consumer_cursors WHERE consumer = 'resource_rollups'")
