"""Every resource's counted events (``resource_totals``) and ``resource_days`` by resource,
so the dashboard's top resources add up the days of the few resources that can rank
instead of every resource's (``vigil.analytics.resource_counts``).

The totals are added up from ``resource_days``, which the resource rollups' consumer keeps
in the same transactions: one read of that table (about 0.3 s per million events on the
machine ``BENCHMARKS.md`` describes).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UUIDType

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


BY_RESOURCE = ["tenant_id", "resource_type", "resource_id", "day"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # see vigil.analytics.rollup_tables
        op.create_index(
            "ix_resource_days_resource_counts", "resource_days", [*BY_RESOURCE, "action", "events"]
        )
    else:
        op.create_index("ix_resource_days_resource", "resource_days", BY_RESOURCE)
    op.create_table(
        "resource_totals",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "resource_type", "resource_id"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_resource_totals_events", "resource_totals", ["tenant_id", "events"])
    op.execute(
        "INSERT INTO resource_totals (tenant_id, resource_type, resource_id, events)"
        " SELECT tenant_id, resource_type, resource_id, SUM(events) FROM resource_days"
        " GROUP BY tenant_id, resource_type, resource_id"
    )


def downgrade() -> None:
    op.drop_table("resource_totals")
    sqlite = op.get_bind().dialect.name == "sqlite"
    name = "ix_resource_days_resource_counts" if sqlite else "ix_resource_days_resource"
    op.drop_index(name, table_name="resource_days")
