"""Whether one event matches a parsed search query (``events.search_query``), in memory: the
same answer the query's SQL (``events.search_clauses``) gives for it, for a detection rule
judging events as they arrive.

Free text and ``details.`` terms look in the event's search text, folded as stored; the
other fields compare its columns exactly as the SQL does, an absent value matching nothing
(and so every ``-field:…`` exclusion).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vigil.events.ip_ranges import key_range
from vigil.events.search_clauses import FIELD_COLUMNS
from vigil.events.search_query import Field, FieldTerm, SearchQuery, Term, TextTerm, UserValue
from vigil.events.search_text import details_segment, search_terms_text
from vigil.events.tables import EventRow
from vigil.search.terms import stored_search_text

_COLUMNS = {field: column.name for field, column in FIELD_COLUMNS.items()}


def query_matches(query: SearchQuery, event: EventRow) -> bool:
    """True when every term of ``query`` matches ``event`` (a stored row); no terms match
    every event."""
    return all(_term_matches(term, event) != term.negated for term in query.terms)


def _term_matches(term: Term, event: EventRow) -> bool:
    if isinstance(term, TextTerm):
        return search_terms_text(term.text) in stored_search_text(event)
    if term.field is Field.DETAILS:
        text = stored_search_text(event)
        return any(details_segment(term.path, str(value)) in text for value in term.values)
    return any(_value_test(term)(event, value) for value in term.values)


def _value_test(term: FieldTerm) -> Callable[[EventRow, Any], bool]:
    if term.field is Field.USER:
        return _user_matches
    if term.field is Field.IP:
        return in_network
    column = _COLUMNS[term.field]
    return lambda event, value: event[column] == getattr(value, "value", value)  # type: ignore[literal-required]


def _user_matches(event: EventRow, value: Any) -> bool:
    assert isinstance(value, UserValue)
    return event["user_id"] == value.text or (
        value.email is not None and event["user_email"] == value.email
    )


def in_network(event: EventRow, network: Any) -> bool:
    """Whether the event's address is in ``network`` (by its sortable key, as the SQL)."""
    key = event["ip_key"]
    if key is None:
        return False
    first, last = key_range(network)
    return first <= bytes(key) <= last
