"""The activity rollups by UTC day (``activity_days``), kept with ``activity_hours`` in the
same transactions, so a period of whole days adds up a row per day and kind instead of 24
(``vigil.analytics.rollup_counts``).

The days are added up from ``activity_hours``: one read of that table (well under a second
per million events on the machine ``BENCHMARKS.md`` describes). A node still on the
previous version keeps counting hours only; once every node runs this one, ``vigil
rollups check`` finds any day it missed and ``vigil rollups rebuild`` mends it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UUIDType

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_days",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "day", "action", "resource_type", "status"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )
    # Whole days, rounded down for hours before 1970 too (SQL's % and / truncate).
    op.execute(
        "INSERT INTO activity_days (tenant_id, day, action, resource_type, status, events)"
        " SELECT tenant_id, (hour - ((hour % 24) + 24) % 24) / 24 AS day, action,"
        " resource_type, status, SUM(events) FROM activity_hours"
        " GROUP BY tenant_id, (hour - ((hour % 24) + 24) % 24) / 24, action, resource_type,"
        " status"
    )


def downgrade() -> None:
    op.drop_table("activity_days")
