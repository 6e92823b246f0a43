"""What a parsed search query (``events.search_query``) selects, as WHERE clauses on events.

Free text and ``details.`` terms are looked up in the search index (``search.lookup``):
the events it names, and those it has not reached yet tested on ``events.search_text``;
when the index cannot narrow a term down, every event is tested on its text. The other
fields compare their own columns, so they use the same indexes as the list filters. An
excluded term (``-…``) selects every event the term does not match, those without the
field included: ``-user:bot`` keeps events with no actor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)

from vigil.db.search import contains
from vigil.events.ip_ranges import key_range
from vigil.events.search_query import Field, FieldTerm, SearchQuery, TextTerm, UserValue
from vigil.events.search_text import details_segment, search_terms_text
from vigil.events.tables import events
from vigil.search.lookup import IndexedMatches, text_matches, value_matches

Clause = ColumnElement[bool]


@dataclass(frozen=True, slots=True)
class SearchClauses:
    """The clauses of a query's terms; ``keyed`` when one of them names its candidate
    events by key (``events.rowid`` or ``seq``), the tenant's only."""

    clauses: list[Clause]
    keyed: bool


def query_clauses(conn: Connection, *, tenant_id: uuid.UUID, query: SearchQuery) -> SearchClauses:
    """One clause per term of ``query``, to be ANDed with the other filters; the search
    index is read (for free text and ``details.`` terms) to write them."""
    dialect = conn.dialect.name
    clauses: list[Clause] = []
    keyed = False
    budget = _Budget(MAX_LISTED)
    for term in query.terms:
        if isinstance(term, TextTerm):
            folded = search_terms_text(term.text)
            test = _containing(folded, dialect)
            if term.negated:  # an exclusion tests every event anyway
                found = test(events)
            else:
                indexed = budget.take(text_matches(conn, tenant_id=tenant_id, folded=folded))
                found = _narrowed(conn, tenant_id, test, indexed)
                keyed |= indexed is not None
        elif term.field is Field.DETAILS:
            indexed_values = [
                (test, budget.take(indexed))
                for test, indexed in (
                    _details_matches(conn, tenant_id, term, value) for value in term.values
                )
            ]
            found = _any(indexed_values, lambda pair: _narrowed(conn, tenant_id, *pair))
            keyed |= not term.negated and all(i is not None for _, i in indexed_values)
        else:
            found = _field_clause(term)
        # NULL (a column the event lacks) counts as "no match", also under NOT.
        clauses.append(not_(func.coalesce(found, false())) if term.negated else found)
    return SearchClauses(clauses, keyed)


# Event numbers a query may list, over all its terms: every one is a bound parameter, and
# SQLite takes 32,766 of them in a statement (PostgreSQL 65,535).
MAX_LISTED = 20_000


class _Budget:
    """What is left of ``MAX_LISTED`` as a query's terms are written."""

    def __init__(self, left: int) -> None:
        self.left = left

    def take(self, indexed: IndexedMatches | None) -> IndexedMatches | None:
        """``indexed`` if its events fit in what is left (then taken), else None: the
        term is tested on every event instead."""
        if indexed is None or len(indexed.seqs) > self.left:
            return None
        self.left -= len(indexed.seqs)
        return indexed


# A test of one copy of the events table (the table itself, or an alias of it).
TextTest = Callable[[FromClause], Clause]


def _containing(folded: str, dialect: str) -> TextTest:
    def test(table: FromClause) -> Clause:
        return contains(table.c.search_text, folded, dialect=dialect)

    return test


def _narrowed(
    conn: Connection, tenant_id: uuid.UUID, test: TextTest, indexed: IndexedMatches | None
) -> Clause:
    """The events the index names, and those it has not reached that pass ``test``;
    ``test`` on every event when the index has no answer.

    Written as ``key IN (SELECT … UNION ALL SELECT …)`` so that both databases start from
    those few events and sort them, rather than walk every event newest first testing
    each: SQLite's planner prefers any walk that spares it a sort, so there the key is
    the row id."""
    if indexed is None:
        return test(events)
    found = events.alias("found")
    sqlite = conn.dialect.name == "sqlite"
    key = literal_column("found.rowid") if sqlite else found.c.seq
    mine = found.c.tenant_id == tenant_id
    parts = [select(key).where(mine, found.c.seq > indexed.through, test(found))]
    if indexed.seqs:
        parts.append(select(key).where(mine, found.c.seq.in_(sorted(indexed.seqs))))
    candidates = union_all(*parts) if len(parts) > 1 else parts[0]
    outer = literal_column("events.rowid") if sqlite else events.c.seq
    return outer.in_(candidates)


def _details_matches(
    conn: Connection, tenant_id: uuid.UUID, term: FieldTerm, value: Any
) -> tuple[TextTest, IndexedMatches | None]:
    """The test of one value of a ``details.`` term, and the index's answer for it (none
    for an exclusion, which tests every event)."""
    segment = details_segment(term.path, str(value))
    test = _containing(segment, conn.dialect.name)
    if term.negated:
        return test, None
    stored_value = segment[1:-1]  # the index holds values without their boundaries
    return test, value_matches(conn, tenant_id=tenant_id, value=stored_value)


def _field_clause(term: FieldTerm) -> Clause:
    if term.field is Field.USER:
        return _any(term.values, _user_clause)
    if term.field is Field.IP:
        return _any(term.values, lambda network: events.c.ip_key.between(*key_range(network)))
    column = _COLUMNS[term.field]
    values = [getattr(value, "value", value) for value in term.values]
    return column.in_(values)


def _user_clause(value: Any) -> Clause:
    assert isinstance(value, UserValue)
    by_id = events.c.user_id == value.text
    return by_id if value.email is None else or_(by_id, events.c.user_email == value.email)


def _any(values: Sequence[Any], clause: Callable[[Any], Clause]) -> Clause:
    found = [clause(value) for value in values]
    return found[0] if len(found) == 1 else or_(*found)


_COLUMNS = {
    Field.ACTION: events.c.action,
    Field.RESOURCE: events.c.resource_type,
    Field.RESOURCE_ID: events.c.resource_id,
    Field.EMAIL: events.c.user_email,
    Field.STATUS: events.c.status,
    Field.COUNTRY: events.c.country,
}
