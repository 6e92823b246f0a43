"""The search index as a consumer of committed events (DESIGN §2): every event's values go
into the tenant's dictionary, its ``seq`` into the postings of each value not yet common
and into the bitmaps of its values and columns (``search.bitmaps``), and its timestamp
into its block's bounds (``search.blocks``), in the transaction that moves the consumer's
cursor, so exactly once.

Indexing after the commit, not in the ingest transaction, keeps it off the ingest path:
indexing an event costs several times what storing it does. A search stays exact all the
same: events past the cursor are read directly (``search.lookup``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, delete, func, select, update

from vigil.events.tables import EventRow
from vigil.events.tables import events as events_table
from vigil.search.bitmaps import add_events, event_facets
from vigil.search.blocks import PassTimes, times_of, widen_blocks
from vigil.search.tables import search_terms
from vigil.search.terms import COMMON_AT, digest, event_values, stored_search_text
from vigil.spine.service import cursor_position

CONSUMER_NAME: Final = "search_index"
_LOOKUP_CHUNK = 500
_POSTGRES_COPY = "COPY search_postings (tenant_id, term_id, seq) FROM STDIN"


@dataclass(slots=True)
class IndexPlan:
    """A pass's values: each one's text and the seqs holding it; and the seqs holding each
    of its columns' values (``search.bitmaps.event_facets``)."""

    tenant_id: uuid.UUID
    first_seq: int
    last_seq: int
    events: int
    seqs: dict[bytes, list[int]] = field(default_factory=dict)
    texts: dict[bytes, str] = field(default_factory=dict)
    facets: dict[bytes, list[int]] = field(default_factory=dict)
    # The events' timestamps by block (``search.blocks``), and the index's cursor before
    # the pass: the pass reads every event after it.
    times: dict[int, PassTimes] = field(default_factory=dict)
    after_seq: int = 0
    # Events stored before the search text existed, with theirs: written with the pass, so
    # that reading an event and its postings never disagree.
    unfilled: list[dict[str, Any]] = field(default_factory=list)


class SearchIndexConsumer:
    """Keeps ``search_terms`` and ``search_postings`` up with committed events."""

    name = CONSUMER_NAME
    # A search reads what the index has not reached yet, so the index need not hurry: it
    # takes a small share of the time while a burst of events commits (``spine.turns``);
    # larger passes share their costs among more events.
    gather_seconds = 0.25
    background = True
    batch_limit = 20_000

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventRow], now: datetime
    ) -> IndexPlan | None:
        """The pass's distinct values, each with the events holding it."""
        if not events:
            return None
        plan = IndexPlan(tenant_id, events[0]["seq"], events[-1]["seq"], len(events))
        plan.times = times_of(events)
        plan.after_seq = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
        keys: dict[str, bytes] = {}
        for row in events:
            seq = row["seq"]
            if row["search_text"] is None:
                text = stored_search_text(row)
                plan.unfilled.append({"seq_of": seq, "text": text})
            for facet in event_facets(row):
                plan.facets.setdefault(facet, []).append(seq)
            for value in event_values(row):
                key = keys.get(value)
                if key is None:
                    key = keys[value] = digest(value)
                    plan.texts[key] = value
                    plan.seqs[key] = []
                plan.seqs[key].append(seq)
        return plan

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: IndexPlan, now: datetime
    ) -> None:
        """Add each value's events to its count, the values the dictionary lacks to it,
        postings for the values that were not common before this pass, every value's
        and column's events to its bitmaps, and their timestamps to their blocks' bounds
        (those of events a purge took since are harmless: bounds need only hold the rest).

        Everything is read in this transaction, where no purge of the tenant's events can
        run alongside (on SQLite the write lock; on PostgreSQL this pass holds the index's
        cursor, which a purge locks first): the events a purge took since the pass read
        them are left out, since the purge, seeing them past the cursor, left their
        counts alone; and the dictionary's rows are as the last purge left them (a value
        it deleted is added again, as new)."""
        _drop_purged(conn, tenant_id, plan)
        stored = _stored_terms(conn, tenant_id, list(plan.seqs))
        fresh = [key for key in plan.seqs if key not in stored]
        postings: list[tuple[int, int]] = []
        for key, term_id in _insert_terms(conn, tenant_id, fresh, plan):
            postings.extend((term_id, seq) for seq in plan.seqs[key])
        changes: list[dict[str, Any]] = []
        for key, (term_id, count, common) in stored.items():
            seqs = plan.seqs[key]
            if not common:
                postings.extend((term_id, seq) for seq in seqs)
            count += len(seqs)
            changes.append(
                {"term": term_id, "count": count, "common": common or count >= COMMON_AT}
            )
        _insert_postings(conn, tenant_id, sorted(postings))
        add_events(conn, tenant_id=tenant_id, held={**plan.seqs, **plan.facets})
        widen_blocks(conn, tenant_id=tenant_id, after_seq=plan.after_seq, spans=plan.times)
        if changes:
            t = search_terms.c
            conn.execute(
                update(search_terms)
                .where(t.tenant_id == tenant_id, t.id == bindparam("term"))
                .values(events=bindparam("count"), common=bindparam("common")),
                changes,
            )
        if plan.unfilled:
            e = events_table.c
            conn.execute(
                update(events_table)
                .where(e.tenant_id == tenant_id, e.seq == bindparam("seq_of"))
                .values(search_text=bindparam("text")),
                plan.unfilled,
            )

    def after_commit(self, plan: IndexPlan) -> None:
        """Nothing: the pass's work is all in the database."""


def _drop_purged(conn: Connection, tenant_id: uuid.UUID, plan: IndexPlan) -> None:
    """Leave out of ``plan`` the events no longer stored (a retention purge took them)."""
    e = events_table.c
    query = select(func.count()).where(
        e.tenant_id == tenant_id, e.seq.between(plan.first_seq, plan.last_seq)
    )
    if conn.execute(query).scalar_one() >= plan.events:
        return
    stored = set(
        conn.execute(
            select(e.seq).where(
                e.tenant_id == tenant_id, e.seq.between(plan.first_seq, plan.last_seq)
            )
        ).scalars()
    )
    for held in (plan.seqs, plan.facets):
        for key in list(held):
            kept = [seq for seq in held[key] if seq in stored]
            if kept:
                held[key] = kept
            else:
                del held[key]
    plan.unfilled = [row for row in plan.unfilled if row["seq_of"] in stored]


def _stored_terms(
    conn: Connection, tenant_id: uuid.UUID, keys: Sequence[bytes]
) -> dict[bytes, tuple[int, int, bool]]:
    """(id, count, common) of each of ``keys`` the dictionary holds."""
    t = search_terms.c
    found: dict[bytes, tuple[int, int, bool]] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = list(keys[start : start + _LOOKUP_CHUNK])
        query = select(t.digest, t.id, t.events, t.common).where(
            t.tenant_id == tenant_id, t.digest.in_(chunk)
        )
        for key, term_id, count, common in conn.execute(query):
            found[bytes(key)] = (int(term_id), int(count), bool(common))
    return found


def _insert_terms(
    conn: Connection, tenant_id: uuid.UUID, keys: Sequence[bytes], plan: IndexPlan
) -> list[tuple[bytes, int]]:
    """Add the terms ``keys`` (with their counts in the pass); each key with its new id.
    PostgreSQL numbers them from the column's identity; SQLite, where one writer at a
    time holds the database, from the largest id there is (which a purge never deletes, so
    no id is given twice)."""
    if not keys:
        return []
    rows: list[dict[str, Any]] = [
        {
            "tenant_id": tenant_id,
            "digest": k,
            "text": plan.texts[k],
            "events": len(plan.seqs[k]),
            "common": len(plan.seqs[k]) >= COMMON_AT,
        }
        for k in keys
    ]
    if conn.dialect.name == "postgresql":
        insert = search_terms.insert().returning(search_terms.c.digest, search_terms.c.id)
        return [(bytes(key), int(term_id)) for key, term_id in conn.execute(insert, rows)]
    t = search_terms.c
    last = int(conn.execute(select(func.max(t.id))).scalar_one() or 0)
    for number, row in enumerate(rows, start=last + 1):
        row["id"] = number
    conn.execute(search_terms.insert(), rows)
    # The newest term until now may be one a purge left with no event, unable to delete it
    # then (see ``search.service.forget_events``); now that it is not the newest, it goes.
    conn.execute(delete(search_terms).where(t.id == last, t.events <= 0, t.common.is_(False)))
    return [(row["digest"], row["id"]) for row in rows]


def _insert_postings(
    conn: Connection, tenant_id: uuid.UUID, postings: list[tuple[int, int]]
) -> None:
    if not postings:
        return
    if conn.dialect.name == "postgresql":
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(_POSTGRES_COPY) as copy:
                for term_id, seq in postings:
                    copy.write_row((tenant_id, term_id, seq))
        finally:
            cursor.close()
    else:
        tenant = tenant_id.bytes  # as UUIDType stores it
        conn.exec_driver_sql(
            "INSERT INTO search_postings (tenant_id, term_id, seq) VALUES (?, ?, ?)",
            [(tenant, term_id, seq) for term_id, seq in postings],
        )
