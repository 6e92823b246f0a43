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
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, func, not_, or_

from vigil.db.search import contains
from vigil.events.ip_ranges import key_range
from vigil.events.search_query import Field, FieldTerm, SearchQuery, TextTerm, UserValue
from vigil.events.search_text import details_segment, search_terms_text
from vigil.events.tables import events
from vigil.search.lookup import IndexedMatches, text_matches, value_matches

Clause = ColumnElement[bool]


def query_clauses(conn: Connection, *, tenant_id: uuid.UUID, query: SearchQuery) -> list[Clause]:
    """One clause per term of ``query``, to be ANDed with the other filters; the search
    index is read (for free text and ``details.`` terms) to write them."""
    dialect = conn.dialect.name
    clauses: list[Clause] = []
    for term in query.terms:
        if isinstance(term, TextTerm):
            folded = search_terms_text(term.text)
            found = contains(events.c.search_text, folded, dialect=dialect)
            if not term.negated:  # an exclusion tests every event anyway
                found = _narrowed(found, text_matches(conn, tenant_id=tenant_id, folded=folded))
        elif term.field is Field.DETAILS:
            found = _any(term.values, partial(_details_clause, conn, tenant_id, term))
        else:
            found = _field_clause(term)
        # NULL (a column the event lacks) counts as "no match", also under NOT.
        clauses.append(not_(func.coalesce(found, false())) if term.negated else found)
    return clauses


def _narrowed(test: Clause, indexed: IndexedMatches | None) -> Clause:
    """``test`` on the events the index has not reached, and the index's answer for the
    rest; ``test`` on every event when the index has no answer."""
    if indexed is None:
        return test
    unindexed = and_(events.c.seq > indexed.through, test)
    if not indexed.seqs:
        return unindexed
    return or_(events.c.seq.in_(sorted(indexed.seqs)), unindexed)


def _details_clause(conn: Connection, tenant_id: uuid.UUID, term: FieldTerm, value: Any) -> Clause:
    segment = details_segment(term.path, str(value))
    test = contains(events.c.search_text, segment, dialect=conn.dialect.name)
    if term.negated:
        return test
    stored_value = segment[1:-1]  # the index holds values without their boundaries
    return _narrowed(test, value_matches(conn, tenant_id=tenant_id, value=stored_value))


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
