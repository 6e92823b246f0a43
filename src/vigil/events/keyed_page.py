"""A search's page keyed by the events its bitmaps select (``search.counting``).

A term whose values are common has no postings, so a page of it walks the events newest
first along the other filters' index, testing each one's text: a popular project's name
with ``action=DELETE`` is in 160 to 1,500 of 1M events, and its page of 50 read thousands
of ``DELETE`` events (8 to 63 ms). The bitmaps say which events match exactly, for a few keys
read per chunk. The page fetches the newest of them by key (``search.newest``: the blocks'
time bounds say which to fetch), or, when matches are too dense for that, all of them if
they are few, with the events after the index tested on their text.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from vigil.core.pagination import Cursor
from vigil.events.filters import EventFilters
from vigil.events.search_clauses import (
    SCANNED_US_PER_EVENT,
    WALKED_US_PER_EVENT,
    SearchClauses,
)
from vigil.events.tables import events
from vigil.events.totals import bitmap_count, index_through
from vigil.search.counting import BitmapCount, matching_seqs
from vigil.search.newest import newest_matches

# Up to so many matches, a page may fetch them all by key and sort them: 50 ms at most.
MAX_KEYED_MATCHES: Final = 5_000
# A match fetched by its seq and sorted, measured at 1M events on SQLite: some 10 µs (the
# postings' keyed form, 6 µs, reads its set inside the statement).
KEYED_US_PER_MATCH: Final = 10.0
# Bitmap rows (keys times chunks) a page reads at most to find them: a term in a few
# values at 10M events (153 chunks), or one whose unions are kept (``search.unions``).
MAX_ROWS_READ: Final = 4_096
# Matches fetched with their timestamps, for each row of the page, to find the newest
# (``search.newest``): more means matches so dense that walking the events in time order
# fills the page within about as many rows. At most ``MAX_KEYED_MATCHES`` in all, so a
# deep offset page (``wanted`` in the thousands) walks instead.
NEWEST_FETCHED_PER_ROW: Final = 20


def keyed_by_bitmaps(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    search: SearchClauses,
    wanted: int,
    older_than: Cursor | None = None,
) -> ColumnElement[bool] | None:
    """A clause naming, by key, events that pass ``filters`` and its search among which
    are the ``wanted`` newest (older than ``older_than``, a page's cursor, when given),
    from the bitmaps: the newest matches (``search.newest``), or else every match. None
    when the bitmaps have no answer or it would not be cheap (more than
    ``NEWEST_FETCHED_PER_ROW`` matches fetched per row wanted, then more than
    ``MAX_KEYED_MATCHES`` matches, or ``MAX_ROWS_READ`` rows to read), or when walking
    the events the other filters select finds ``wanted`` of them for less (the costs of
    ``search_clauses``, with the counts the bitmaps give). Keyed as the
    postings' clauses are (``SearchClauses.clauses``): by row id on SQLite, by ``seq`` on
    PostgreSQL, which needs the tenant's own clause beside it."""
    if filters == EventFilters(query=filters.query) and search.matched_at_least > MAX_KEYED_MATCHES:
        return None  # a lone term whose values' counts already say it matches too many
    counted = bitmap_count(filters, search)
    if counted is None:
        return None
    through = index_through(conn, tenant_id=tenant_id, search=search)
    keyed = _newest(conn, tenant_id, counted, through, wanted, older_than)
    if keyed is None:
        keyed = _every(conn, tenant_id, counted, through, wanted, search)
    if keyed is None:
        return None
    seqs, keyed_through = keyed
    # The events past where the bitmaps were read, tested one by one, as a total does.
    later = events.alias("later")
    sqlite = conn.dialect.name == "sqlite"
    key: Any = literal_column("later.rowid") if sqlite else later.c.seq
    tested = select(key).where(
        later.c.tenant_id == tenant_id, later.c.seq > keyed_through, *search.tested_on(later)
    )
    if sqlite:
        # By row id, as the postings' keyed form (``search_clauses._narrowed``): SQLite
        # would rather walk any index that spares it the sort, testing every row.
        named: Select[Any] = select(key).where(
            later.c.tenant_id == tenant_id, later.c.seq.in_(seqs)
        )
        return literal_column("events.rowid").in_(union_all(named, tested))
    listed = select(func.unnest(bindparam("keyed_seqs", seqs, type_=ARRAY(BigInteger))))
    every = union_all(listed, tested).scalar_subquery()
    return events.c.seq == any_(func.array(every))


def _newest(
    conn: Connection,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    through: int,
    wanted: int,
    older_than: Cursor | None,
) -> tuple[list[int], int] | None:
    """(seqs, through) holding the newest ``wanted`` matches, when few enough are fetched."""
    if wanted > MAX_KEYED_MATCHES:
        return None
    found = newest_matches(
        conn,
        tenant_id=tenant_id,
        counted=counted,
        through=through,
        wanted=wanted,
        older_than=older_than,
        max_fetched=min(NEWEST_FETCHED_PER_ROW * wanted, MAX_KEYED_MATCHES),
        max_reads=MAX_ROWS_READ,
    )
    return None if found is None else (found.seqs, found.through)


def _every(
    conn: Connection,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    through: int,
    wanted: int,
    search: SearchClauses,
) -> tuple[list[int], int] | None:
    """(seqs, through) of every match, when they are few and cheaper than walking."""
    found = matching_seqs(
        conn,
        tenant_id=tenant_id,
        counted=counted,
        through=through,
        limit=MAX_KEYED_MATCHES,
        max_reads=MAX_ROWS_READ,
    )
    walked_us = (
        WALKED_US_PER_EVENT if search.page_form(wanted) == "walking" else SCANNED_US_PER_EVENT
    )
    if found is None or not _cheaper_than_walking(
        len(found.seqs), found.filtered, wanted, walked_us
    ):
        return None
    return found.seqs, found.through


def _cheaper_than_walking(matches: int, filtered: int, wanted: int, walked_us: float) -> bool:
    """Whether fetching ``matches`` events by key and sorting them costs less than
    walking the ``filtered`` events newest first, ``walked_us`` each, until ``wanted`` of
    them match, the matches spread evenly in time."""
    walked = min(filtered, wanted * filtered / max(matches, 1))
    return KEYED_US_PER_MATCH * matches < walked_us * walked
