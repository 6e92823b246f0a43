"""The search index: a dictionary of each tenant's distinct values with a trigram index
over it, and postings from each value to its events (``vigil.search``).

SQLite indexes the dictionary with FTS5's trigram tokenizer (an external-content table kept
by triggers); PostgreSQL with ``pg_trgm``'s GIN operator class, whose extension this
migration creates: a database where it cannot be created stops the migration with a
message saying what to do, rather than leaving search to scan. The index is filled by the
``search_index`` consumer of committed events; ``vigil migrate`` brings it up to date for
existing events, with a progress bar.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UUIDType

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQLITE_TRIGRAMS = (
    "CREATE VIRTUAL TABLE search_terms_fts USING fts5("
    "text, content='search_terms', content_rowid='id', tokenize='trigram case_sensitive 1', "
    "columnsize=0)",
    "CREATE TRIGGER search_terms_fts_insert AFTER INSERT ON search_terms BEGIN "
    "INSERT INTO search_terms_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER search_terms_fts_delete AFTER DELETE ON search_terms BEGIN "
    "INSERT INTO search_terms_fts(search_terms_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
)
PG_TRGM_MISSING = (
    "PostgreSQL could not create the pg_trgm extension, which Vigil's search index needs: "
    "install PostgreSQL's contrib modules (Debian: postgresql-contrib, part of postgresql) "
    "and run `CREATE EXTENSION pg_trgm;` as a superuser in this database, or let Vigil's "
    "database user create it, then run `vigil migrate` again"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError as error:
            raise RuntimeError(f"{PG_TRGM_MISSING} ({error.orig})") from None
    op.create_table(
        "search_terms",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    )
    op.create_index(
        "ux_search_terms_tenant_digest", "search_terms", ["tenant_id", "digest"], unique=True
    )
    op.create_index("ix_search_terms_id", "search_terms", ["id"])
    op.create_table(
        "search_postings",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("term_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "term_id", "seq"),
        sqlite_with_rowid=False,
    )
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_search_terms_text_trgm ON search_terms USING gin (text gin_trgm_ops)"
        )
    else:
        for statement in SQLITE_TRIGRAMS:
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER search_terms_fts_delete")
        op.execute("DROP TRIGGER search_terms_fts_insert")
        op.execute("DROP TABLE search_terms_fts")
    op.drop_table("search_postings")
    op.drop_table("search_terms")
