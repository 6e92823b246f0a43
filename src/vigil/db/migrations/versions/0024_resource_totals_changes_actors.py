"""Each resource's counted changes and actors beside its events (``resource_totals``), so
resource analytics over a period holding every counted day read a row per resource
instead of adding up every resource's days and (resource, actor) pairs
(``vigil.analytics.resources``).

Filled from ``resource_days`` (the CREATE, UPDATE and DELETE counters) and
``resource_actors`` (the pairs), which the resource rollups' consumer keeps in the same
transactions.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

FILL = (
    "UPDATE resource_totals SET"
    " changes = (SELECT COALESCE(SUM(d.events), 0) FROM resource_days AS d"
    " WHERE d.tenant_id = resource_totals.tenant_id"
    " AND d.resource_type = resource_totals.resource_type"
    " AND d.resource_id = resource_totals.resource_id"
    " AND d.action IN ('CREATE', 'UPDATE', 'DELETE')),"
    " actors = (SELECT COUNT(*) FROM resource_actors AS a"
    " WHERE a.tenant_id = resource_totals.tenant_id"
    " AND a.resource_type = resource_totals.resource_type"
    " AND a.resource_id = resource_totals.resource_id)"
)


def upgrade() -> None:
    for name in ("changes", "actors"):
        op.add_column(
            "resource_totals",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        )
    op.execute(FILL)


def downgrade() -> None:
    for name in ("actors", "changes"):
        op.drop_column("resource_totals", name)
