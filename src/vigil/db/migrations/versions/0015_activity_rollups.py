"""Hourly activity rollups: how many events fell in each hour, by action, resource type
and status (``vigil.analytics.rollups``), so summaries add up hours instead of reading
every event of their range.

The table starts empty and the ``activity_rollups`` consumer counts every stored event,
from the start of each tenant's commit sequence, in short passes: ``vigil migrate`` does it
at once with a progress bar (as ``vigil rollups rebuild`` does), a running server in the
background. A summary is exact meanwhile, reading the events the rollups have not reached.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UUIDType

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_hours",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "hour", "action", "resource_type", "status"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("activity_hours")
    op.execute("DELETE FROM consumer_cursors WHERE consumer = 'activity_rollups'")
