"""The search index keeps the span of time each block of 4,096 seqs covers.

``search_blocks`` holds, for each block of a tenant's seqs, the earliest and latest
``timestamp`` (microseconds since the epoch) among its indexed events, and the seq up
to which they hold every one (``vigil.search.blocks``): a page of a search then reads
the matches of the blocks that can hold its newest events, not every match. Filled here
from the events the index has reached, in one read of the events table (16 s for 10M
events on PostgreSQL on the machine ``BENCHMARKS.md`` describes); the ``search_index``
consumer keeps it from then on.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UUIDType

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# Blocks of 4,096 seqs (``vigil.search.blocks.BLOCK_BITS``, 12, as it was at this revision).
# SQLite stores timestamps as microseconds already (``vigil.db.types.UTCDateTime``).
# Every event up to the cursor was indexed: a block's bounds hold them up to the cursor,
# or to the block's last seq.
_FILL = (
    "INSERT INTO search_blocks (tenant_id, block, first_us, last_us, indexed_through)"
    " SELECT e.tenant_id, e.seq >> 12, MIN({micros}), MAX({micros}),"
    " {least}(MAX(c.position), ((e.seq >> 12) + 1) * 4096 - 1)"
    " FROM events AS e JOIN consumer_cursors AS c"
    " ON c.tenant_id = e.tenant_id AND c.consumer = 'search_index'"
    " WHERE e.seq <= c.position"
    " GROUP BY e.tenant_id, e.seq >> 12"
)
FILL_SQLITE = _FILL.format(micros="e.timestamp", least="MIN")
FILL_POSTGRES = _FILL.format(
    micros="CAST(EXTRACT(EPOCH FROM e.timestamp) * 1000000 AS BIGINT)", least="LEAST"
)


def upgrade() -> None:
    op.create_table(
        "search_blocks",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("first_us", sa.BigInteger(), nullable=False),
        sa.Column("last_us", sa.BigInteger(), nullable=False),
        sa.Column("indexed_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "block"),
        sqlite_with_rowid=False,
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute(FILL_SQLITE if sqlite else FILL_POSTGRES)


def downgrade() -> None:
    op.drop_table("search_blocks")
