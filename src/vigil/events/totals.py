"""A list's total counted from the search index's bitmaps (``search.counting``), when every
filter it has is one the bitmaps answer.

The bitmaps hold the events the index has reached (up to its cursor); the few committed
since are counted by reading them, with every filter and term tested on each event. The
sum is exact at any size: a total no longer needs to stop at ``SEARCH_TOTAL_CAP``.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, Select, func, literal_column, select

from vigil.events.filters import EventFilters
from vigil.events.search_clauses import SearchClauses
from vigil.events.tables import events
from vigil.search.bitmaps import chunk_of, facet_key
from vigil.search.consumer import CONSUMER_NAME
from vigil.search.counting import MAX_COUNTED_KEYS, BitmapCount, KeySet, count_indexed
from vigil.spine.service import cursor_position, last_seq

# The filters the bitmaps answer, by the column whose values they key; and those they do
# not (a range of time or addresses, a resource id), for which a total reads events.
# ``tests/unit/test_totals.py`` holds every field of ``EventFilters`` to one of them.
COUNTED_FILTERS: Final = {
    "actions": "action",
    "resource_types": "resource_type",
    "user_id": "user_id",
    "user_email": "user_email",
    "countries": "country",
    "status": "status",
}
UNCOUNTED_FILTERS: Final = frozenset({"resource_id", "ip_networks", "start", "end"})
# A person's events: the bitmaps of its ids when that is all it names (events with no id
# naming an email are not told apart by the bitmaps), else read.
ACTOR_FILTER: Final = "actor"
DESCRIPTIVE_FIELDS: Final = frozenset({"query", "start_text", "end_text"})

# Up to so many events past the index, SQLite reads them by row id (see ``_unindexed``).
TAIL_BY_ROW_ID: Final = 20_000
# A lone term known to match more than the cap is counted exactly only if that reads at
# most so many bitmaps (keys times chunks): about 30 ms. A common word's values at 1M events
# are some 800 (100 ms), at 10M ten times more; the cap then answers in a millisecond.
EXACT_LONE_TERM_BITMAPS: Final = 256


def bitmap_count(filters: EventFilters, search: SearchClauses) -> BitmapCount | None:
    """The bitmaps' form of ``filters`` and its parsed search; None when a filter or term
    has no bitmaps (see ``COUNTED_FILTERS``; a term shorter than three characters, or held
    by more than ``search.lookup.MAX_KEYED_VALUES`` values, an ``ip:`` or ``resource_id:``)."""
    if any(_is_set(getattr(filters, name)) for name in UNCOUNTED_FILTERS):
        return None
    sets = search.bitmap_sets
    if sets is None:
        return None
    counted = BitmapCount()
    actor = filters.actor
    if actor is not None:
        if actor.emails or not actor.user_ids:
            return None
        counted.all_of.append(KeySet(tuple(facet_key("user_id", v) for v in actor.user_ids)))
    for name, column in COUNTED_FILTERS.items():
        value = getattr(filters, name)
        if not _is_set(value):
            continue
        values = value if isinstance(value, tuple) else (value,)
        keys = tuple(facet_key(column, str(getattr(v, "value", v))) for v in values)
        counted.all_of.append(KeySet(keys))
    for negated, found in sets:
        (counted.none_of if negated else counted.all_of).append(found)
    if sum(len(found.keys) for found in (*counted.all_of, *counted.none_of)) > MAX_COUNTED_KEYS:
        return None  # many frequent short words: each key costs a row per chunk
    return counted


def worth_counting(search: SearchClauses) -> bool:
    """Whether a search with no other filter, known to match more than the cap, is counted
    exactly from the bitmaps (see ``EXACT_LONE_TERM_BITMAPS``) rather than answered with
    the cap as a lower bound."""
    sets = search.bitmap_sets
    if sets is None:
        return False
    keys = sum(len(found.keys) for _, found in sets)
    return keys * (chunk_of(search.bitmaps_through or 0) + 1) <= EXACT_LONE_TERM_BITMAPS


def counted_total(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    clauses: list[ColumnElement[bool]],
    search: SearchClauses,
    cap: int | None,
) -> tuple[int, bool]:
    """(total, exact) of the events ``counted`` selects: the indexed ones from the bitmaps,
    the others read, with ``clauses`` (the tenant's and the other filters') and the
    search's terms tested on each. With ``cap``, either may stop once past it (the
    bitmaps for a term held by many values, the reading while the index catches up with a
    backlog): then the total is ``cap`` and not exact."""
    through = index_through(conn, tenant_id=tenant_id, search=search)
    indexed = count_indexed(conn, tenant_id=tenant_id, counted=counted, through=through, cap=cap)
    if not indexed.exact and cap is not None:
        return cap, False
    # From where the bitmaps were counted to: a kept union's tail, and the events after
    # the index.
    later = _unindexed(conn, tenant_id, clauses, indexed.through)
    unindexed = select(events.c.id).where(*later, *search.tested)
    if cap is not None:
        unindexed = unindexed.limit(cap + 1)
    read = int(conn.execute(select(func.count()).select_from(unindexed.subquery())).scalar_one())
    if cap is not None and read > cap:
        return cap, False
    return indexed.count + read, True


def index_through(conn: Connection, *, tenant_id: uuid.UUID, search: SearchClauses) -> int:
    """Up to which ``seq`` the bitmaps answer for the search: the index's cursor, but not
    past where it stood when the terms' values were read (a value it added since would be
    missing from their keys; PostgreSQL reads each statement as of its start)."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    if search.bitmaps_through is not None:
        through = min(through, search.bitmaps_through)
    return through


def _unindexed(
    conn: Connection, tenant_id: uuid.UUID, clauses: list[ColumnElement[bool]], through: int
) -> list[ColumnElement[bool]]:
    """``clauses`` (the tenant's first), for the tenant's events after ``through`` only."""
    later = events.c.seq > through
    behind = last_seq(conn, tenant_id=tenant_id) - through
    if conn.dialect.name != "sqlite" or behind > TAIL_BY_ROW_ID:
        return [*clauses, later]
    # They are few, but SQLite would rather walk the index of a filter (every failed login,
    # say) testing each row's seq: 55 ms at 1M events. Named by row id, they come first
    # (unless the index is far behind: then the set of row ids costs more than the walk).
    tail = events.alias("tail")
    rows: Select[Any] = select(literal_column("tail.rowid")).where(
        tail.c.tenant_id == tenant_id, tail.c.seq > through
    )
    # Without the tenant's own clause too, which SQLite would walk the tenant's index by.
    return [*clauses[1:], literal_column("events.rowid").in_(rows)]


def _is_set(value: object) -> bool:
    return value is not None and value != ()


def filter_fields() -> frozenset[str]:
    """Every field of ``EventFilters``, for the test that each is accounted for."""
    return frozenset(f.name for f in dataclasses.fields(EventFilters))
