"""Which events may hold a search term, read from the index (``search``).

A free-text term is looked up in the tenant's dictionary by the trigram index (FTS5 on
SQLite, ``pg_trgm`` on PostgreSQL); a ``details.`` term, being a whole value, by its digest.
When the values found are not too many and none is common, their postings are the complete
answer for every event the index has reached: the answer names those values, and a query
reads their postings itself (``IndexedMatches.postings``), so no list of events passes
through Python. The events after the index's cursor (those committed since its last pass)
are read directly, so a search always sees every committed event. Otherwise — a term
shorter than three characters, or one in thousands of values or a great many events — the
answer names no postings and the search reads events in time order, where such a term is
frequent enough to turn up fast. Either way the values' counts, exact for the events the
index has reached, say how many events hold the term at least.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, select, text

from vigil.db.search import contains
from vigil.search.consumer import CONSUMER_NAME
from vigil.search.tables import search_postings, search_terms
from vigil.search.terms import MAX_CANDIDATES, digest
from vigil.spine.service import cursor_position

MIN_TRIGRAM = 3  # characters: a trigram index cannot look up less
MAX_VALUES = 2_000  # values a term may match and still be looked up by its postings
# Values a term may match and still be counted from their bitmaps (``search.counting``):
# their unions in sealed chunks are kept once read (``search.unions``).
MAX_KEYED_VALUES = 10_000
_SQLITE_MATCH = text(
    # CROSS JOIN keeps SQLite from putting search_terms first and running the full-text
    # query once for each of the tenant's terms (seconds, instead of a millisecond).
    "SELECT t.id, t.events, t.common, t.digest FROM search_terms_fts AS f "
    "CROSS JOIN search_terms AS t ON t.tenant_id = :tenant AND t.id = f.rowid "
    "WHERE search_terms_fts MATCH :phrase LIMIT :limit"
)


@dataclass(frozen=True, slots=True)
class IndexedMatches:
    """The dictionary's values holding a term, whose postings name every event up to
    ``through`` that holds it; events after ``through`` are not indexed yet.

    ``candidates`` is the sum of the values' event counts: no fewer than the events the
    postings name (an event holding two of the values is counted twice)."""

    tenant_id: uuid.UUID
    term_ids: tuple[int, ...]
    candidates: int
    through: int

    def postings(self) -> Select[Any]:
        """``SELECT seq`` of every indexed event holding one of the values (an event may
        come more than once); nothing when no value holds the term."""
        p = search_postings.c
        return select(p.seq).where(p.tenant_id == self.tenant_id, p.term_id.in_(self.term_ids))


@dataclass(frozen=True, slots=True)
class TermLookup:
    """What the dictionary says of a term: its postings when they answer it (``indexed``),
    and ``held_by``, the most indexed events any one value holding it is held by: so many
    events match the term at least (0 when no value was read). ``keys`` are the digests of
    every value holding it, whose bitmaps (``search.bitmaps``) hold every indexed event
    up to ``through`` that does (the index's cursor, read before the dictionary: values
    added since may be missing); None when they were not read or are more than
    ``MAX_KEYED_VALUES``."""

    indexed: IndexedMatches | None
    held_by: int = 0
    keys: tuple[bytes, ...] | None = None
    through: int = 0


def text_matches(conn: Connection, *, tenant_id: uuid.UUID, folded: str) -> TermLookup:
    """The indexed events holding ``folded`` (a folded free-text term) in any value; no
    ``indexed`` when the term is better found by reading events (see the module's
    docstring)."""
    if len(folded) < MIN_TRIGRAM:
        return TermLookup(None)
    # The cursor first: every event it covers has its values in the dictionary read after.
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    if conn.dialect.name == "sqlite":
        phrase = '"' + folded.replace('"', '""') + '"'  # FTS5 string: "" is a quote
        params = {"phrase": phrase, "tenant": tenant_id.bytes, "limit": MAX_KEYED_VALUES + 1}
        terms = conn.execute(_SQLITE_MATCH, params).all()
    else:
        t = search_terms.c
        found = contains(t.text, folded, dialect="postgresql")  # LIKE, which pg_trgm serves
        query = (
            select(t.id, t.events, t.common, t.digest)
            .where(t.tenant_id == tenant_id, found)
            .limit(MAX_KEYED_VALUES + 1)
        )
        terms = conn.execute(query).all()
    return _matches(
        tenant_id, through, [(int(i), int(n), bool(c), bytes(k)) for i, n, c, k in terms]
    )


def value_matches(conn: Connection, *, tenant_id: uuid.UUID, value: str) -> TermLookup:
    """The indexed events holding exactly the value ``value`` (a segment of search text);
    no ``indexed`` when it is common."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    t = search_terms.c
    key = digest(value)
    query = select(t.id, t.events, t.common, t.digest).where(
        t.tenant_id == tenant_id, t.digest == key
    )
    found = [(int(i), int(n), bool(c), bytes(k)) for i, n, c, k in conn.execute(query)]
    lookup = _matches(tenant_id, through, found)
    # Its bitmaps are under its digest whether or not the dictionary holds it (then none).
    return TermLookup(lookup.indexed, lookup.held_by, (key,), through)


def _matches(
    tenant_id: uuid.UUID, through: int, terms: Sequence[tuple[int, int, bool, bytes]]
) -> TermLookup:
    """``terms``: (id, events, common, digest) of each value holding the term."""
    counts = [events for _, events, _, _ in terms]
    held_by = max(counts, default=0)
    if len(terms) > MAX_KEYED_VALUES:
        return TermLookup(None, held_by, through=through)
    keys = tuple(key for _, _, _, key in terms)
    candidates = sum(counts)
    common = any(common for _, _, common, _ in terms)
    if len(terms) > MAX_VALUES or common or candidates > MAX_CANDIDATES:
        return TermLookup(None, held_by, keys, through)
    ids = tuple(term_id for term_id, _, _, _ in terms)
    indexed = IndexedMatches(tenant_id, ids, candidates, through)
    return TermLookup(indexed, held_by, keys, through)
