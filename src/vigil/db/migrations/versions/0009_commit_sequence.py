"""The after-commit spine: a per-tenant commit sequence on events, and consumer cursors.

Every event gets ``seq``, its place in its tenant's commit order (1, 2, 3, … with no gaps);
``event_sequences`` holds each tenant's last number; ``consumer_cursors`` holds how far each
consumer (detections, …) has got. Existing events are numbered in the order they were
received, and the detection consumer starts after them: the rules already saw them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UTCDateTime, UUIDType

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NUMBER_EXISTING_EVENTS = """
UPDATE events SET seq = numbered.n
FROM (
    SELECT tenant_id, id,
           row_number() OVER (PARTITION BY tenant_id ORDER BY received_at, id) AS n
    FROM events
) AS numbered
WHERE events.tenant_id = numbered.tenant_id AND events.id = numbered.id
"""


def upgrade() -> None:
    op.add_column("events", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute(NUMBER_EXISTING_EVENTS)
    with op.batch_alter_table("events") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
    op.create_index("ix_events_tenant_seq", "events", ["tenant_id", "seq"], unique=True)
    op.create_table(
        "event_sequences",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_event_sequences"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_event_sequences_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "consumer_cursors",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "consumer", name="pk_consumer_cursors"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_consumer_cursors_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.execute(
        "INSERT INTO event_sequences (tenant_id, last_seq) "
        "SELECT tenant_id, max(seq) FROM events GROUP BY tenant_id"
    )
    # received_at of the newest event stands for "now" (a typed value both backends store).
    op.execute(
        "INSERT INTO consumer_cursors "
        "(tenant_id, consumer, position, updated_at, failures, last_error) "
        "SELECT tenant_id, 'detections', max(seq), max(received_at), 0, NULL "
        "FROM events GROUP BY tenant_id"
    )


def downgrade() -> None:
    op.drop_table("consumer_cursors")
    op.drop_table("event_sequences")
    op.drop_index("ix_events_tenant_seq", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("seq")
