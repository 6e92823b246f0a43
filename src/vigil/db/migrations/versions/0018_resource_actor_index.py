"""On SQLite, the index of a resource's events by time ends in the actor's id and email,
so resource analytics count a resource's distinct actors from the index alone
(``vigil.analytics.resources``). PostgreSQL keeps its index as it is (see
``vigil.events.tables``).

Building the index reads every event once: about 8 s per million events on the machine
``BENCHMARKS.md`` describes; ``vigil migrate`` holds the write lock meanwhile.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD_COLUMNS = ["tenant_id", "resource_type", "resource_id", "timestamp", "id"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(
        "ix_events_tenant_resource_actor", "events", [*OLD_COLUMNS, "user_id", "user_email"]
    )
    op.drop_index("ix_events_tenant_resource_time", table_name="events")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index("ix_events_tenant_resource_time", "events", OLD_COLUMNS)
    op.drop_index("ix_events_tenant_resource_actor", table_name="events")
