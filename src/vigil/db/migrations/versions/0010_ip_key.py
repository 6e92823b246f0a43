"""Events get ``ip_key``, their address as a sortable 16-byte key, so an ``ip_address`` filter
given a CIDR network is a range scan; its index replaces the one on the address text.

The column is added empty, which costs no rewrite of the table on either database; the
index only holds rows with a key, so it starts empty too (building it still reads the
table once). Existing events get their keys afterwards from the backfill of ``ip_key``
(``vigil.db.backfill``), in short transactions beside ingest; until then they match no
address filter.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

HAS_KEY = sa.text("ip_key IS NOT NULL")


def upgrade() -> None:
    op.add_column("events", sa.Column("ip_key", sa.LargeBinary(16), nullable=True))
    op.create_index(
        "ix_events_tenant_ipkey_time",
        "events",
        ["tenant_id", "ip_key", sa.desc(sa.column("timestamp")), sa.desc(sa.column("id"))],
        sqlite_where=HAS_KEY,
        postgresql_where=HAS_KEY,
    )
    op.drop_index("ix_events_tenant_ip_time", table_name="events")


def downgrade() -> None:
    op.create_index(
        "ix_events_tenant_ip_time", "events", ["tenant_id", "ip_address", "timestamp", "id"]
    )
    op.drop_index("ix_events_tenant_ipkey_time", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("ip_key")
