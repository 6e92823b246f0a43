"""Questions about the search index as a whole: how far behind it is, and whether it holds
exactly what the events say it should."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pyroaring import BitMap
from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select, update

from vigil.events.commit_log import events_after
from vigil.events.tables import EventRow
from vigil.search.bitmaps import (
    ALL_EVENTS,
    FACET_COLUMNS,
    event_facets,
    facet_key,
    remove_events,
    seqs_in,
)
from vigil.search.blocks import (
    BlockTimes,
    PassTimes,
    forget_blocks_before,
    read_blocks,
    stray_blocks,
    times_of,
)
from vigil.search.consumer import CONSUMER_NAME
from vigil.search.tables import search_bitmaps, search_postings, search_terms
from vigil.search.terms import COMMON_AT, digest, event_values
from vigil.spine.service import cursor_position, events_behind, hold_cursor

_READ_CHUNK = 5_000
_LOOKUP_CHUNK = 500


def events_to_index(engine: Engine) -> int:
    """How many committed events, over every tenant, the search index has not reached."""
    with engine.connect() as conn:
        return events_behind(conn, consumer=CONSUMER_NAME)


def hold_index(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> None:
    """Lock the tenant's search index cursor until the caller's transaction ends (see
    ``spine.service.hold_cursor``). A purge does this before it deletes any event: the
    indexer, which claims the cursor first too, then never reads events the purge
    deletes, and ``forget_events`` reads where the index stands."""
    hold_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=now)


def forget_events(conn: Connection, *, tenant_id: uuid.UUID, rows: Sequence[EventRow]) -> None:
    """Take deleted events (their rows as they were) out of the tenant's index, in the
    caller's transaction: their postings and bits go, their values' counts go down, and a value
    left with no event is deleted, unless it is common (it stays so, since its later
    events have no postings) or, on SQLite, the newest term (whose id numbers the next);
    the blocks' time bounds wholly before the oldest event left go (``search.blocks``).
    The events must be deleted already.
    Events the index had not reached yet need nothing: it will not find them.

    A purge calls ``hold_index`` first, so no pass of the indexer runs alongside."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    if rows:
        forget_blocks_before(conn, tenant_id=tenant_id)
    held: dict[bytes, list[int]] = {}
    facets: dict[bytes, list[int]] = {}
    for row in rows:
        if row["seq"] <= through:
            for value in event_values(row):
                held.setdefault(digest(value), []).append(row["seq"])
            for facet in event_facets(row):
                facets.setdefault(facet, []).append(row["seq"])
    remove_events(conn, tenant_id=tenant_id, held={**held, **facets})
    if not held:
        return
    t, p = search_terms.c, search_postings.c
    keys = list(held)
    terms: list[tuple[int, list[int]]] = []
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        query = select(t.id, t.digest).where(t.tenant_id == tenant_id, t.digest.in_(chunk))
        terms.extend((int(term_id), held[bytes(key)]) for term_id, key in conn.execute(query))
    mine = p.tenant_id == tenant_id
    for term_id, seqs in terms:
        conn.execute(delete(search_postings).where(mine, p.term_id == term_id, p.seq.in_(seqs)))
        conn.execute(
            update(search_terms)
            .where(t.tenant_id == tenant_id, t.id == term_id)
            .values(events=t.events - len(seqs))
        )
    emptied: list[ColumnElement[bool]] = [
        t.tenant_id == tenant_id,
        t.events <= 0,
        t.common.is_(False),
    ]
    if conn.dialect.name == "sqlite":
        emptied.append(t.id < select(func.max(search_terms.c.id)).scalar_subquery())
    ids = [term_id for term_id, _ in terms]
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        conn.execute(
            delete(search_terms).where(t.id.in_(ids[start : start + _LOOKUP_CHUNK]), *emptied)
        )


@dataclass(slots=True)
class IndexDifference:
    """Where a tenant's index and its events disagree; empty lists mean they agree.

    ``missing``: (value, seq) the events hold but the postings lack; ``extra``: postings of
    events that do not hold the value (or no longer exist); ``miscounted``: values whose
    count is not the number of indexed events holding them, or that are not marked common
    though that many events hold them; ``bitmaps``: keys (a value, ``column=value``, or a
    digest no event has) whose bitmaps are not exactly the indexed events holding them;
    ``blocks``: blocks (``search.blocks``) whose time bounds are missing, miss an indexed
    event's timestamp, or stop short of its seq.
    ``emptied`` lists values no event holds any more that a purge kept (on SQLite, the
    newest term): harmless, and not a disagreement."""

    through: int
    missing: list[tuple[str, int]] = field(default_factory=list)
    extra: list[tuple[str, int]] = field(default_factory=list)
    miscounted: list[str] = field(default_factory=list)
    bitmaps: list[str] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        """True when the index is exactly what the events say."""
        return not (self.missing or self.extra or self.miscounted or self.bitmaps or self.blocks)


def compare_index(conn: Connection, *, tenant_id: uuid.UUID) -> IndexDifference:
    """Rebuild the tenant's index in memory from its events up to the cursor and compare it
    with the stored one. Reads every event and posting of the tenant: for checks and tests,
    not for the request path."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    expected: dict[str, set[int]] = {}
    expected_bits: dict[bytes, set[int]] = {}
    names: dict[bytes, str] = {}
    spans: dict[int, PassTimes] = {}
    position = 0
    while position < through:
        rows = events_after(conn, tenant_id=tenant_id, after_seq=position, limit=_READ_CHUNK)
        rows = [row for row in rows if row["seq"] <= through]
        if not rows:
            break
        for block, seen in times_of(rows).items():
            known = spans.get(block, seen)
            spans[block] = PassTimes(
                min(known.first_us, seen.first_us),
                max(known.last_us, seen.last_us),
                max(known.last_seq, seen.last_seq),
            )
        for row in rows:
            for value in event_values(row):
                expected.setdefault(value, set()).add(row["seq"])
            for column, key in _facets_named(row):
                names[key] = column
                expected_bits.setdefault(key, set()).add(row["seq"])
        position = rows[-1]["seq"]
    for value, seqs in expected.items():
        names[digest(value)] = value
        expected_bits[digest(value)] = seqs
    t, p = search_terms.c, search_postings.c
    stored_terms = {
        bytes(key): (term_id, text, count, common)
        for term_id, key, text, count, common in conn.execute(
            select(t.id, t.digest, t.text, t.events, t.common).where(t.tenant_id == tenant_id)
        )
    }
    postings: dict[int, set[int]] = {}
    for term_id, seq in conn.execute(select(p.term_id, p.seq).where(p.tenant_id == tenant_id)):
        postings.setdefault(term_id, set()).add(seq)
    difference = IndexDifference(through=through)
    for value, seqs in expected.items():
        stored = stored_terms.get(digest(value))
        if stored is None:
            difference.missing.extend((value, seq) for seq in sorted(seqs))
            continue
        term_id, _, count, common = stored
        if count != len(seqs) or (not common and len(seqs) >= COMMON_AT):
            difference.miscounted.append(value)
        posted = postings.get(term_id, set())
        if not common:  # a common value's postings stopped once it was common
            difference.missing.extend((value, seq) for seq in sorted(seqs - posted))
        difference.extra.extend((value, seq) for seq in sorted(posted - seqs))
    kept = _newest_term(conn) if conn.dialect.name == "sqlite" else None
    for term_id, text, count, common in stored_terms.values():
        if text not in expected:
            difference.extra.extend((text, seq) for seq in sorted(postings.get(term_id, ())))
            if count == 0 and (common or term_id == kept):
                difference.emptied.append(text)
            else:  # a purge should have deleted it
                difference.miscounted.append(text)
    for term_id in postings.keys() - {term_id for term_id, _, _, _ in stored_terms.values()}:
        difference.extra.extend((f"<term {term_id}>", seq) for seq in sorted(postings[term_id]))
    stored_bits = _stored_bitmaps(conn, tenant_id)
    for key in expected_bits.keys() | stored_bits.keys():
        if expected_bits.get(key, set()) != stored_bits.get(key, set()):
            difference.bitmaps.append(names.get(key, f"<key {key.hex()}>"))
    stored_blocks: list[BlockTimes] = read_blocks(conn, tenant_id=tenant_id, through=through)
    difference.blocks = stray_blocks(stored_blocks, spans)
    return difference


def _facets_named(row: EventRow) -> list[tuple[str, bytes]]:
    """``("column=value", key)`` of each of the event's bitmaps but its values'."""
    named = [("*", ALL_EVENTS)]
    for column in FACET_COLUMNS:
        value = row[column]
        if value is not None:
            named.append((f"{column}={value}", facet_key(column, str(value))))
    return named


def _stored_bitmaps(conn: Connection, tenant_id: uuid.UUID) -> dict[bytes, set[int]]:
    """Every seq each of the tenant's bitmaps holds, by key."""
    b = search_bitmaps.c
    found: dict[bytes, set[int]] = {}
    query = select(b.key, b.chunk, b.bits).where(b.tenant_id == tenant_id)
    for key, chunk, bits in conn.execute(query):
        found.setdefault(bytes(key), set()).update(
            seqs_in(int(chunk), BitMap.deserialize(bytes(bits)))
        )
    return found


def _newest_term(conn: Connection) -> int | None:
    """The largest term id in the installation (SQLite numbers the next one from it)."""
    found = conn.execute(select(func.max(search_terms.c.id))).scalar_one_or_none()
    return None if found is None else int(found)
