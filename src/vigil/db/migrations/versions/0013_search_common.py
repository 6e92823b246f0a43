"""The search index counts every value's events exactly, and marks a common value as such.

Until now a value's count stopped growing once it was common (``COMMON_AT`` events), so a
common value's count said only "at least 20,000, once". From this revision every count is
the number of indexed events holding the value, kept through ingest and retention purges,
and ``common`` says the value's postings stopped (it never goes back: its later events
have none). A search uses the counts to report "10,000+" without counting, and a purge
drops a value whose last event it removed, so the dictionary no longer grows forever.

The old counts cannot be repaired without reading every event, so the index is emptied
here and rebuilt from the events by the ``search_index`` consumer: ``vigil migrate``
does it at once with a progress bar (a running server would in the background). Until it
has, a search reads the events it has not reached, as for any event just committed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
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
    op.add_column(
        "search_terms",
        sa.Column("common", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    _index_terms_again()


def downgrade() -> None:
    # The earlier code reads a count under ``COMMON_AT`` as "not common", which an exact
    # count brought down by a purge would mislead: it rebuilds its own index.
    _empty_index()
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE search_terms DROP COLUMN common")  # SQLite 3.35 and later
    else:
        op.drop_column("search_terms", "common")
    _index_terms_again()


def _empty_index() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Emptied with the table, not a trigger call per row.
        op.execute("DROP TRIGGER search_terms_fts_delete")
        op.execute("DROP TRIGGER search_terms_fts_insert")
        op.execute("DROP TABLE search_terms_fts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("TRUNCATE search_postings, search_terms")
    else:
        op.execute("DELETE FROM search_postings")
        op.execute("DELETE FROM search_terms")
    op.execute("UPDATE consumer_cursors SET position = 0 WHERE consumer = 'search_index'")


def _index_terms_again() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_TRIGRAMS:
            op.execute(statement)
