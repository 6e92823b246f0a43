"""Free-text search over what people read: ``events.search_text`` and ``users.search_text``.

``events.search_text`` holds an event's searchable values, folded (``events.search_text``).
This migration only adds the column: events stored before it are filled afterwards, in
short batches, by ``vigil migrate`` (``db.backfill``), so a large table never holds up
ingest. Users are few, so theirs is filled here.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from vigil.accounts.users import user_search_text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("search_text", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    conn = op.get_bind()
    users = sa.table(
        "users",
        sa.column("tenant_id"),
        sa.column("id"),
        sa.column("email"),
        sa.column("name"),
        sa.column("search_text"),
    )
    found = conn.execute(sa.select(users.c.tenant_id, users.c.id, users.c.email, users.c.name))
    for tenant_id, user_id, email, name in found.all():
        conn.execute(
            users.update()
            .where(users.c.tenant_id == tenant_id, users.c.id == user_id)
            .values(search_text=user_search_text({"email": email, "name": name}))
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("search_text")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("search_text")
