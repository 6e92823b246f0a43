"""What a parsed search query (``events.search_query``) selects, as WHERE clauses on events.

Free text and ``details.`` terms test ``events.search_text`` (``events.search_text``);
the other fields compare their own columns, so they use the same indexes as the list
filters. An excluded term (``-…``) selects every event the term does not match, those
without the field included: ``-user:bot`` keeps events with no actor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, false, func, not_, or_

from vigil.db.search import contains
from vigil.events.ip_ranges import key_range
from vigil.events.search_query import Field, FieldTerm, SearchQuery, TextTerm, UserValue
from vigil.events.search_text import details_segment, search_terms_text
from vigil.events.tables import events

Clause = ColumnElement[bool]


def query_clauses(query: SearchQuery, *, dialect: str) -> list[Clause]:
    """One clause per term of ``query``, to be ANDed with the other filters."""
    clauses: list[Clause] = []
    for term in query.terms:
        if isinstance(term, TextTerm):
            found = contains(events.c.search_text, search_terms_text(term.text), dialect=dialect)
        else:
            found = _field_clause(term, dialect)
        # NULL (a column the event lacks) counts as "no match", also under NOT.
        clauses.append(not_(func.coalesce(found, false())) if term.negated else found)
    return clauses


def _field_clause(term: FieldTerm, dialect: str) -> Clause:
    if term.field is Field.DETAILS:
        segments = [details_segment(term.path, str(value)) for value in term.values]
        return _any(segments, lambda s: contains(events.c.search_text, s, dialect=dialect))
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
