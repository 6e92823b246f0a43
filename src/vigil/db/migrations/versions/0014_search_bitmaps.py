"""The search index keeps a bitmap of events for every value and every filtered column.

``search_bitmaps`` holds, for each key (a dictionary value, or a column's value such as
``action=DELETE``), the tenant's indexed events that hold it, as Roaring bitmaps in chunks
of 65,536 seqs (``vigil.search.bitmaps``). A search's total is then counted from them,
exactly, in milliseconds at any size, where counting by reading events took seconds at
10M events once a term was combined with another filter.

Every indexed event must be in them, so the index is emptied here and rebuilt from the
events by the ``search_index`` consumer, as at revision 0013: ``vigil migrate`` does it at
once with a progress bar (a running server would in the background). Until it has, a
search reads the events it has not reached, as for any event just committed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from vigil.db.types import UUIDType

revision = "0014"
down_revision = "0013"
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


def upgrade() -> None:
    _empty_index()
    op.create_table(
        "search_bitmaps",
        sa.Column("tenant_id", UUIDType(), nullable=False),
        sa.Column("key", sa.LargeBinary(16), nullable=False),
        sa.Column("chunk", sa.BigInteger(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "chunk", "key"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    # The earlier code would leave the bitmaps behind as it indexes and purges: it has no
    # use for them, and a later upgrade rebuilds them with the rest.
    op.drop_table("search_bitmaps")


def _empty_index() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Emptied with the table, not a trigger call per row.
        op.execute("DROP TRIGGER search_terms_fts_delete")
        op.execute("DROP TRIGGER search_terms_fts_insert")
        op.execute("DROP TABLE search_terms_fts")
        op.execute("DELETE FROM search_postings")
        op.execute("DELETE FROM search_terms")
        for statement in SQLITE_TRIGRAMS:
            op.execute(statement)
    else:
        op.execute("TRUNCATE search_postings, search_terms")
    op.execute("UPDATE consumer_cursors SET position = 0 WHERE consumer = 'search_index'")
