"""People: every actor seen in a tenant's events, with their identifiers and their events
per day, per resource type, day and action, and per country (``vigil.people``); and an
index on the events that name their actor by email alone.

The tables start empty and the ``people`` consumer counts every stored event, from the
start of each tenant's commit sequence: ``vigil migrate`` does it at once with a progress
bar (as ``vigil people rebuild`` does), a running server in the background.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UTCDateTime, UUIDType

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", UUIDType(), nullable=False),
        sa.Column("label", sa.String(320), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("last_sign_in", UTCDateTime(), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_people_tenant_last_seen", "people", ["tenant_id", "last_seen"])
    op.create_table(
        "person_identifiers",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("person_id", UUIDType(), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.Column("without_id", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "value"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    )
    op.create_index(
        "ix_person_identifiers_person", "person_identifiers", ["tenant_id", "person_id"]
    )
    op.create_table(
        "person_days",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("person_id", UUIDType(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "day", "person_id"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "person_features",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("person_id", UUIDType(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "resource_type", "person_id", "day", "action"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_person_features_person", "person_features", ["tenant_id", "person_id", "day"]
    )
    op.create_table(
        "person_countries",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("person_id", UUIDType(), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "person_id", "country"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_events_tenant_email_time",
        "events",
        ["tenant_id", "user_email", "timestamp", "id"],
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_tenant_email_time", table_name="events")
    for table in (
        "person_countries",
        "person_features",
        "person_days",
        "person_identifiers",
        "people",
    ):
        op.drop_table(table)
    op.execute("DELETE FROM consumer_cursors WHERE consumer = 'people'")
