"""Each resource's actors (``resource_actors``): a pair per resource and actor with its
events and first and last UTC day, so resource analytics rank the most active resources
from the pairs instead of counting every resource's distinct actors in its events
(``vigil.analytics.resource_actors``).

The pairs are counted from the events the resource rollups' consumer has reached (its
cursor, per tenant), as the consumer would have kept them: one grouped read of those
events (about 2 s per million events on the machine ``BENCHMARKS.md`` describes). A
tenant whose consumer has not started yet gets its pairs when it does.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from vigil.analytics.buckets import DAY
from vigil.db.types import UTCDateTime, UUIDType

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pairs = op.create_table(
        "resource_actors",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("first_day", sa.BigInteger(), nullable=False),
        sa.Column("last_day", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "resource_type", "resource_id", "actor"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )
    assert pairs is not None
    # The tables as this revision knows them, not as the application's code may later.
    events = sa.table(
        "events",
        sa.column("tenant_id", UUIDType()),
        sa.column("seq", sa.BigInteger()),
        sa.column("timestamp", UTCDateTime()),
        sa.column("resource_type", sa.String()),
        sa.column("resource_id", sa.String()),
        sa.column("user_id", sa.String()),
        sa.column("user_email", sa.String()),
    )
    cursors = sa.table(
        "consumer_cursors",
        sa.column("tenant_id", UUIDType()),
        sa.column("consumer", sa.String()),
        sa.column("position", sa.BigInteger()),
    )
    e, k = events.c, cursors.c
    actor = sa.func.coalesce(e.user_id, e.user_email)
    day = DAY.slot_of(e.timestamp, op.get_bind().dialect.name)
    counted = (
        sa.select(
            e.tenant_id, e.resource_type, e.resource_id, actor, sa.func.min(day),
            sa.func.max(day), sa.func.count(),
        )
        .select_from(events.join(cursors, k.tenant_id == e.tenant_id))
        .where(
            k.consumer == "resource_rollups",
            e.seq <= k.position,
            e.resource_id.is_not(None),
            actor.is_not(None),
        )
        .group_by(e.tenant_id, e.resource_type, e.resource_id, actor)
    )  # fmt: skip
    op.execute(
        pairs.insert().from_select(
            ["tenant_id", "resource_type", "resource_id", "actor", "first_day", "last_day",
             "events"],
            counted,
        )
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("resource_actors")
