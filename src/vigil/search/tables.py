"""The search index's tables (``search``): a dictionary of each tenant's distinct values,
and postings from each value to the events that hold it.

A value is one segment of an event's ``search_text`` (``events.search_text``): an email, a
user agent, ``⟨path⟩␝value`` of details, … An audit log repeats its values endlessly (the
same people, browsers, reasons), so the dictionary stays far smaller than the events, and
a substring search first finds the values that contain the term (a trigram index over
``search_terms.text``: FTS5 on SQLite, ``pg_trgm`` on PostgreSQL), then their events.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
)

from vigil.db.metadata import metadata
from vigil.db.types import UUIDType

# BIGINT on PostgreSQL; on SQLite the INTEGER PRIMARY KEY that is the rowid, which the
# trigram index (FTS5, external content) refers to.
TermId = BigInteger().with_variant(Integer(), "sqlite")

search_terms = Table(
    "search_terms",
    metadata,
    Column("id", TermId, primary_key=True, autoincrement=True),
    Column("tenant_id", UUIDType(), nullable=False),
    # BLAKE2b-128 of ``text``: the unique key (a long value would not fit a B-tree entry).
    Column("digest", LargeBinary(16), nullable=False),
    Column("text", Text, nullable=False),
    # How many events held it when they were indexed: once it reaches ``COMMON_AT`` its
    # postings stop, and a search for it reads events in time order instead.
    Column("events", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ux_search_terms_tenant_digest", "tenant_id", "digest", unique=True),
    # Never reuse an id: postings of a deleted term must not come to mean a new one.
    sqlite_autoincrement=True,
)

# Which events (by their tenant's ``seq``; the term says which tenant) hold a term. A
# posting whose event is gone (retention) is harmless: a search joins it with events.
search_postings = Table(
    "search_postings",
    metadata,
    Column("term_id", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("term_id", "seq"),
    sqlite_with_rowid=False,
)
