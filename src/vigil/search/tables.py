"""The search index's tables (``search``): a dictionary of each tenant's distinct values,
postings from each value to the events that hold it, bitmaps of the events holding
each value or column value, which totals are counted from, and the span of time each
block of seqs covers, which newest-first pages are found from.

A value is one segment of an event's ``search_text`` (``events.search_text``): an email, a
user agent, ``⟨path⟩␝value`` of details, … An audit log repeats its values endlessly (the
same people, browsers, reasons), so the dictionary stays far smaller than the events, and
a substring search first finds the values that contain the term (a trigram index over
``search_terms.text``: FTS5 on SQLite, ``pg_trgm`` on PostgreSQL), then their events.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Identity,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    false,
)

from vigil.db.metadata import metadata
from vigil.db.types import UUIDType

search_terms = Table(
    "search_terms",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    # Unique in the whole installation, never reused: the trigram index's row id on SQLite
    # (FTS5 keys every row by one integer), where ``search.consumer`` gives the next one.
    Column("id", BigInteger, Identity(), nullable=False),
    # BLAKE2b-128 of ``text``: the unique key (a long value would not fit a B-tree entry).
    Column("digest", LargeBinary(16), nullable=False),
    Column("text", Text, nullable=False),
    # How many indexed events hold it: added to as events are indexed, taken from as they
    # are purged; a value whose count comes to 0 is deleted (unless common).
    Column("events", BigInteger, nullable=False),
    # Held by ``COMMON_AT`` events once: its postings stopped then, and a search for it reads
    # events in time order instead. It stays common, since its later events have no postings.
    Column("common", Boolean, nullable=False, server_default=false()),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ux_search_terms_tenant_digest", "tenant_id", "digest", unique=True),
    Index("ix_search_terms_id", "id"),
    # PostgreSQL's trigram index (``pg_trgm``); SQLite's is the FTS5 table the migration makes.
    Index(
        "ix_search_terms_text_trgm",
        "text",
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
    ),
)

# Which of the tenant's events (by ``seq``) hold a term.
search_postings = Table(
    "search_postings",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("term_id", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "term_id", "seq"),
    sqlite_with_rowid=False,
)

# Which of the tenant's events hold a key (``search.bitmaps``): a dictionary value (keyed by
# its digest) or a column's value (an action, a person, …), as one Roaring bitmap for each
# ``chunk`` of 65,536 seqs, of the seqs' low 16 bits. A chunk no event holds has no row.
search_bitmaps = Table(
    "search_bitmaps",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("key", LargeBinary(16), nullable=False),
    Column("chunk", BigInteger, nullable=False),
    Column("bits", LargeBinary, nullable=False),
    # Chunk before key: a pass of the indexer writes to one or two chunks, whose rows lie
    # together instead of one per page across the table (at 1M events that cut the pages a
    # pass dirties from thousands to hundreds).
    PrimaryKeyConstraint("tenant_id", "chunk", "key"),
    sqlite_with_rowid=False,
)

# The earliest and latest ``timestamp`` (microseconds since the epoch) among the tenant's
# indexed events in each ``block`` of 4,096 seqs (``search.blocks``), up to the seq
# ``indexed_through``. Bounds, not exact: a purge leaves them as they were, and the events
# left lie inside them all the same.
search_blocks = Table(
    "search_blocks",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("first_us", BigInteger, nullable=False),
    Column("last_us", BigInteger, nullable=False),
    Column("indexed_through", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "block"),
    sqlite_with_rowid=False,
)
