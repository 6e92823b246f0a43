"""The search index as a consumer of committed events (DESIGN §2): every event's values go
into the tenant's dictionary, and its ``seq`` into the postings of each value not yet
common, in the transaction that moves the consumer's cursor, so exactly once.

Indexing after the commit, not in the ingest transaction, keeps it off the ingest path:
indexing an event costs several times what storing it does. A search stays exact all the
same: events past the cursor are read directly (``search.lookup``).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, func, select, update

from vigil.events.tables import EventRow
from vigil.events.tables import events as events_table
from vigil.search.tables import search_terms
from vigil.search.terms import COMMON_AT, digest, event_values, stored_search_text

CONSUMER_NAME: Final = "search_index"
_LOOKUP_CHUNK = 500
# Term ids remembered per process, so the values every event repeats need no lookup by
# digest: about 100 bytes each.
_CACHE_TERMS = 200_000
_POSTGRES_COPY = "COPY search_postings (tenant_id, term_id, seq) FROM STDIN"


@dataclass(slots=True)
class IndexPlan:
    """A pass's values: each one's text, the seqs holding it, and its term when known."""

    tenant_id: uuid.UUID

    seqs: dict[bytes, list[int]] = field(default_factory=dict)
    texts: dict[bytes, str] = field(default_factory=dict)
    # The term id of each value the dictionary held, as far as this process knows.
    known: dict[bytes, int] = field(default_factory=dict)
    # What the cache learns once (and only if) the pass commits.
    learned: list[tuple[bytes, int]] = field(default_factory=list)
    # Events stored before the search text existed, with theirs: written with the pass, so
    # that reading an event and its postings never disagree.
    unfilled: list[dict[str, Any]] = field(default_factory=list)


class SearchIndexConsumer:
    """Keeps ``search_terms`` and ``search_postings`` up with committed events."""

    name = CONSUMER_NAME
    # A search reads what the index has not reached yet, so the index need not hurry: it
    # waits for a lull in ingest (or 30 s at most), so it never takes CPU, or SQLite's one
    # write lock, from a burst of events; larger passes share their costs among more events.
    gather_seconds = 0.25
    quiet_seconds = 0.5
    batch_limit = 20_000

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[uuid.UUID, bytes], int] = OrderedDict()

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventRow], now: datetime
    ) -> IndexPlan | None:
        """The pass's distinct values and the terms already in the dictionary."""
        plan = IndexPlan(tenant_id)
        keys: dict[str, bytes] = {}
        for row in events:
            seq = row["seq"]
            if row["search_text"] is None:
                text = stored_search_text(row)
                plan.unfilled.append({"seq_of": seq, "text": text})
            for value in event_values(row):
                key = keys.get(value)
                if key is None:
                    key = keys[value] = digest(value)
                    plan.texts[key] = value
                    plan.seqs[key] = []
                plan.seqs[key].append(seq)
        missing = []
        for key in plan.seqs:
            known = self._cache.get((tenant_id, key))
            if known is None:
                missing.append(key)
            else:
                plan.known[key] = known
        for found in _stored_terms(conn, tenant_id, missing):
            plan.known[found[0]] = found[1]
        return plan if plan.seqs or plan.unfilled else None

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: IndexPlan, now: datetime
    ) -> None:
        """Add each value's events to its count, the values the dictionary lacks to it, and
        postings for the values that were not common before this pass.

        The known values' rows are read as they are now, and on PostgreSQL locked, in the
        order of their ids, as a purge (``search.service.forget_events``) locks them: a
        purge cannot delete one between this read and the write, and neither waits for
        the other in a circle. A value a purge deleted before (its last event gone) is
        added again, as new."""
        known = {key: plan.known[key] for key in plan.seqs if key in plan.known}
        stored = _locked_terms(conn, tenant_id, sorted(set(known.values())))
        fresh = [key for key in plan.seqs if known.get(key) not in stored]
        postings: list[tuple[int, int]] = []
        for key, term_id in _insert_terms(conn, tenant_id, fresh, plan):
            postings.extend((term_id, seq) for seq in plan.seqs[key])
            plan.learned.append((key, term_id))
        changes: list[dict[str, Any]] = []
        for key, term_id in known.items():
            if term_id not in stored:
                continue
            count, common = stored[term_id]
            seqs = plan.seqs[key]
            if not common:
                postings.extend((term_id, seq) for seq in seqs)
            count += len(seqs)
            changes.append(
                {"term": term_id, "count": count, "common": common or count >= COMMON_AT}
            )
            plan.learned.append((key, term_id))
        _insert_postings(conn, tenant_id, sorted(postings))
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
        """Remember the pass's terms: they are in the database now."""
        cache = self._cache
        for key, term_id in plan.learned:
            cache[(plan.tenant_id, key)] = term_id
            cache.move_to_end((plan.tenant_id, key))
        while len(cache) > _CACHE_TERMS:
            cache.popitem(last=False)


def _stored_terms(
    conn: Connection, tenant_id: uuid.UUID, keys: Sequence[bytes]
) -> Iterable[tuple[bytes, int]]:
    """The term id of each of ``keys`` the dictionary holds."""
    t = search_terms.c
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = list(keys[start : start + _LOOKUP_CHUNK])
        query = select(t.digest, t.id).where(t.tenant_id == tenant_id, t.digest.in_(chunk))
        for key, term_id in conn.execute(query):
            yield bytes(key), int(term_id)


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
    last = conn.execute(select(func.max(search_terms.c.id))).scalar_one() or 0
    for number, row in enumerate(rows, start=int(last) + 1):
        row["id"] = number
    conn.execute(search_terms.insert(), rows)
    return [(row["digest"], row["id"]) for row in rows]


def _locked_terms(
    conn: Connection, tenant_id: uuid.UUID, ids: Sequence[int]
) -> dict[int, tuple[int, bool]]:
    """The count and ``common`` of each term of ``ids`` (ascending) that still exists,
    its row locked until the transaction ends on PostgreSQL (SQLite's writer holds the
    whole database already)."""
    t = search_terms.c
    found: dict[int, tuple[int, bool]] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        query = (
            select(t.id, t.events, t.common)
            .where(t.tenant_id == tenant_id, t.id.in_(chunk))
            .order_by(t.id)
            .with_for_update()
        )
        found.update((int(i), (int(n), bool(common))) for i, n, common in conn.execute(query))
    return found


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
