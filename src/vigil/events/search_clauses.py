"""What a parsed search query (``events.search_query``) selects, as WHERE clauses on events.

Free text and ``details.`` terms are looked up in the search index (``search.lookup``):
the events its postings name, and those it has not reached yet tested on
``events.search_text``; when the index cannot narrow a term down, every event is tested on
its text. The other fields compare their own columns, so they use the same indexes as the
list filters. An excluded term (``-…``) selects every event the term does not match, those
without the field included: ``-user:bot`` keeps events with no actor.

An indexed term is written three ways (``SearchClauses``). To find every match (a count, an
export) the database starts from the postings' events and sorts them (keyed). For one
newest-first page of a frequent term it is cheaper to walk the events in time order and
keep those the postings name, as a set built once (walking), or those whose text holds the
term (scanning): a term in 1 event of 100 fills a page of 50 within 5,000 rows, where
starting from its 10,000 events would fetch and sort them all.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    and_,
    any_,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.util import ClauseAdapter

from vigil.db.search import holds
from vigil.events.ip_ranges import key_range
from vigil.events.search_query import Field, FieldTerm, SearchQuery, TextTerm, UserValue
from vigil.events.search_text import details_segment, search_terms_text
from vigil.events.tables import events
from vigil.search.bitmaps import FACET_COLUMNS, facet_key
from vigil.search.counting import KeySet
from vigil.search.lookup import IndexedMatches, TermLookup, text_matches, value_matches
from vigil.search.terms import digest

Clause = ColumnElement[bool]


# A test of one copy of the events table (the table itself, or an alias of it).
TextTest = Callable[[FromClause], Clause]
# One value of a text or ``details.`` term: its test, and what the index says of it.
Lookup = tuple[TextTest, "IndexedMatches | None"]


@dataclass(frozen=True, slots=True)
class _Term:
    negated: bool
    lookups: list[Lookup]  # any of them matches; none for a column's field
    column_clause: Clause | None = None
    held_by: int = 0  # so many events match at least, as the index's counts say
    # The keys of the bitmaps (``search.bitmaps``) of every indexed event that matches:
    # it holds one of them. None when no bitmaps answer the term.
    keys: tuple[bytes, ...] | None = None
    through: int | None = None  # the index's cursor when ``keys`` were read, if they were
    text: str | None = None  # a free-text term's folded text

    def form(self, write: Callable[[Lookup], Clause]) -> Clause:
        found = self.column_clause if not self.lookups else _any(self.lookups, write)
        assert found is not None
        # NULL (a column the event lacks) counts as "no match", also under NOT.
        return not_(func.coalesce(found, false())) if self.negated else found

    @property
    def candidates(self) -> int | None:
        """How many events may match at most, when the index names them all."""
        found = [indexed for _, indexed in self.lookups if indexed is not None]
        if self.negated or not self.lookups or len(found) < len(self.lookups):
            return None
        return sum(indexed.candidates for indexed in found)


PageForm = Literal["keyed", "walking", "scanning"]


class SearchClauses:
    """A query's terms as WHERE clauses, to be ANDed with the other filters, in three forms.

    ``clauses`` select every match; when ``keyed``, one of them names its candidate events
    by key (``events.rowid`` or ``seq``), the tenant's only. ``for_page`` may choose a
    walk in time order instead (see the module's docstring), testing each event's ``seq``
    against the postings, or its text."""

    def __init__(self, conn: Connection, terms: list[_Term]) -> None:
        self._conn = conn
        self._terms = terms
        counted = [n for n in (term.candidates for term in terms) if n is not None]
        self.keyed = bool(counted)
        # A query of one term matches at least as many events as its busiest value holds;
        # with more terms, all must hold, which no count says.
        self.matched_at_least = terms[0].held_by if len(terms) == 1 else 0
        # The fewest events a keyed term may match, out of about ``_indexed_through``.
        self._candidates = min(counted) if counted else 0
        self._indexed_through = max(
            (i.through for term in terms for _, i in term.lookups if i is not None), default=0
        )

    @property
    def bitmap_sets(self) -> list[tuple[bool, KeySet]] | None:
        """Each term as (negated, keys): every indexed event it matches holds one of the
        keys' bitmaps (none of them, when negated); None when a term has no bitmaps."""
        if any(term.keys is None for term in self._terms):
            return None
        return [
            (term.negated, KeySet(term.keys, term.text))
            for term in self._terms
            if term.keys is not None
        ]

    @property
    def bitmaps_through(self) -> int | None:
        """The index's cursor as the dictionary was read for the terms' keys (the earliest
        of their reads): their bitmaps answer for the events up to it; None when no term
        read the dictionary."""
        read = [term.through for term in self._terms if term.through is not None]
        return min(read, default=None)

    @property
    def tested(self) -> list[Clause]:
        """Every match, tested on each event's own columns and text (no index): for the
        events past the index, which are few."""
        return [term.form(lambda lookup: lookup[0](events)) for term in self._terms]

    def tested_on(self, alias: FromClause) -> list[Clause]:
        """``tested``, of an alias of the events table."""
        adapter = ClauseAdapter(alias)
        return [adapter.traverse(clause) for clause in self.tested]

    @cached_property
    def clauses(self) -> list[Clause]:
        """Every match, keyed where the index can (PostgreSQL reads the postings here)."""
        return [term.form(lambda lookup: _narrowed(self._conn, *lookup)) for term in self._terms]

    def for_page(self, wanted: int) -> tuple[list[Clause], bool]:
        """The clauses of ``page_form(wanted)``, and whether they are keyed."""
        form = self.page_form(wanted)
        if form == "keyed":
            return self.clauses, self.keyed
        if form == "walking":
            return [term.form(lambda lookup: _member(*lookup)) for term in self._terms], False
        return self.tested, False

    def page_form(self, wanted: int) -> PageForm:
        """The form that finds the newest ``wanted`` matches fastest by the costs below:
        keyed, or a walk that reads about ``wanted * events / candidates`` events (the
        matches spread evenly in time). Keyed when no term is."""
        if not self.keyed:
            return "keyed"
        candidates = max(self._candidates, 1)
        walked = wanted * max(self._indexed_through, candidates) / candidates
        costs: dict[PageForm, float] = {
            "keyed": KEYED_US_PER_CANDIDATE * candidates,
            "walking": POSTINGS_SET_US_PER_CANDIDATE * candidates + WALKED_US_PER_EVENT * walked,
            "scanning": SCANNED_US_PER_EVENT * walked,
        }
        return min(costs, key=lambda form: costs[form])


# What each form costs, in µs, as measured on 1M events (SQLite and PostgreSQL alike within
# a factor of two): a candidate fetched by key and sorted; the set of the postings' events,
# built once per query; an event walked in time order (in index order, mostly cached) and
# tested against that set; or tested on its text.
KEYED_US_PER_CANDIDATE = 6.0
POSTINGS_SET_US_PER_CANDIDATE = 0.4
WALKED_US_PER_EVENT = 1.0
SCANNED_US_PER_EVENT = 2.0


def query_clauses(
    conn: Connection, *, tenant_id: uuid.UUID, query: SearchQuery, use_index: bool = True
) -> SearchClauses:
    """The clauses of the terms of ``query``; the search index's dictionary is read (for
    free text and ``details.`` terms) to write them, unless ``use_index`` is false: then
    those terms are tested on the text of each event the other filters let through."""
    dialect = conn.dialect.name
    terms: list[_Term] = []
    budget = _Budget(MAX_LISTED)
    for term in query.terms:
        if isinstance(term, TextTerm):
            folded = search_terms_text(term.text)
            found = TermLookup(None)
            if use_index:
                found = text_matches(conn, tenant_id=tenant_id, folded=folded)
            # An exclusion tests every event's text: its postings would not narrow it down.
            indexed = None if term.negated else budget.take(found.indexed)
            lookup = (_containing(folded, dialect), indexed)
            held_by = 0 if term.negated else found.held_by
            through = found.through if use_index else None
            written = _Term(term.negated, [lookup], held_by=held_by, keys=found.keys)
            terms.append(dataclasses.replace(written, through=through, text=folded))
        elif term.field is Field.DETAILS:
            tests = [
                _details_matches(conn, tenant_id, term, value, use_index) for value in term.values
            ]
            lookups = [(test, budget.take(found.indexed)) for test, found, _ in tests]
            held_by = max(found.held_by for _, found, _ in tests)
            keys = tuple(digest(stored) for _, _, stored in tests)
            terms.append(_Term(term.negated, lookups, held_by=held_by, keys=keys))
        else:
            terms.append(_Term(term.negated, [], _field_clause(term), keys=_field_keys(term)))
    return SearchClauses(conn, terms)


# Dictionary values a query may name, over all its terms: every one is a bound parameter,
# and SQLite takes 32,766 of them in a statement (PostgreSQL 65,535).
MAX_LISTED = 20_000


class _Budget:
    """What is left of ``MAX_LISTED`` as a query's terms are written."""

    def __init__(self, left: int) -> None:
        self.left = left

    def take(self, indexed: IndexedMatches | None) -> IndexedMatches | None:
        """``indexed`` if its values fit in what is left (then taken), else None: the
        term is tested on every event instead."""
        if indexed is None or len(indexed.term_ids) > self.left:
            return None
        self.left -= len(indexed.term_ids)
        return indexed


def _containing(folded: str, dialect: str) -> TextTest:
    def test(table: FromClause) -> Clause:
        return holds(table.c.search_text, folded, dialect=dialect)

    return test


def _narrowed(conn: Connection, test: TextTest, indexed: IndexedMatches | None) -> Clause:
    """Every match, keyed: the events the index names, and those it has not reached that
    pass ``test``; ``test`` on every event when the index has no answer.

    Both databases read those events once, as the query starts, and start from them:
    SQLite into the set an ``IN (SELECT …)`` builds, written as ``rowid IN (SELECT …
    UNION ALL SELECT …)`` since its planner prefers any walk that spares it a sort;
    PostgreSQL into an array (``seq = ANY(ARRAY(SELECT …))``), which its planner takes
    for a short list whatever its statistics say (a join to the postings, planned on
    statistics that lag a table just filled, can cost seconds)."""
    if indexed is None:
        return test(events)
    found = events.alias("found")
    sqlite = conn.dialect.name == "sqlite"
    key = literal_column("found.rowid") if sqlite else found.c.seq
    mine = found.c.tenant_id == indexed.tenant_id
    parts: list[Select[Any]] = [select(key).where(mine, found.c.seq > indexed.through, test(found))]
    if indexed.term_ids:
        posted = select(key).where(mine, found.c.seq.in_(indexed.postings()))
        parts.append(posted if sqlite else indexed.postings())
    candidates = union_all(*parts) if len(parts) > 1 else parts[0]
    if sqlite:
        return literal_column("events.rowid").in_(candidates)
    return events.c.seq == any_(func.array(candidates.scalar_subquery()))


def _member(test: TextTest, indexed: IndexedMatches | None) -> Clause:
    """Every match, tested on each event walked: its ``seq`` among the postings' (a set
    the database builds once), or past the index and passing ``test``.

    ``seq + 0`` is no column, so neither database can start from the postings' events:
    they walk the events in the order asked for, which is the point."""
    if indexed is None:
        return test(events)
    unindexed = and_(events.c.seq > indexed.through, test(events))
    if not indexed.term_ids:
        return unindexed
    return or_((events.c.seq + 0).in_(indexed.postings()), unindexed)


def _details_matches(
    conn: Connection, tenant_id: uuid.UUID, term: FieldTerm, value: Any, use_index: bool
) -> tuple[TextTest, TermLookup, str]:
    """The test of one value of a ``details.`` term, the index's answer for it (none for
    an exclusion, which tests every event, or without ``use_index``), and the value as
    the index holds it."""
    segment = details_segment(term.path, str(value))
    test = _containing(segment, conn.dialect.name)
    stored_value = segment[1:-1]  # the index holds values without their boundaries
    if term.negated or not use_index:
        return test, TermLookup(None), stored_value
    return test, value_matches(conn, tenant_id=tenant_id, value=stored_value), stored_value


def _field_clause(term: FieldTerm) -> Clause:
    if term.field is Field.USER:
        return _any(term.values, _user_clause)
    if term.field is Field.IP:
        return _any(term.values, lambda network: events.c.ip_key.between(*key_range(network)))
    column = FIELD_COLUMNS[term.field]
    values = [getattr(value, "value", value) for value in term.values]
    return column.in_(values)


def _field_keys(term: FieldTerm) -> tuple[bytes, ...] | None:
    """The bitmaps' keys of a field term's values; None for a field without bitmaps."""
    if term.field is Field.USER:
        keys: list[bytes] = []
        for value in term.values:
            assert isinstance(value, UserValue)
            keys.append(facet_key("user_id", value.text))
            if value.email is not None:
                keys.append(facet_key("user_email", value.email))
        return tuple(keys)
    column = FIELD_COLUMNS.get(term.field)
    if column is None or column.name not in FACET_COLUMNS:
        return None
    return tuple(facet_key(column.name, str(getattr(v, "value", v))) for v in term.values)


def _user_clause(value: Any) -> Clause:
    assert isinstance(value, UserValue)
    by_id = events.c.user_id == value.text
    return by_id if value.email is None else or_(by_id, events.c.user_email == value.email)


def _any(values: Sequence[Any], clause: Callable[[Any], Clause]) -> Clause:
    found = [clause(value) for value in values]
    return found[0] if len(found) == 1 else or_(*found)


# The column each plain field compares (``user`` and ``ip`` have clauses of their own).
FIELD_COLUMNS = {
    Field.ACTION: events.c.action,
    Field.RESOURCE: events.c.resource_type,
    Field.RESOURCE_ID: events.c.resource_id,
    Field.EMAIL: events.c.user_email,
    Field.STATUS: events.c.status,
    Field.COUNTRY: events.c.country,
}
