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
# Terms remembered per process (id, and whether common), so the values every event repeats
# cost no query: about 100 bytes each.
_CACHE_TERMS = 200_000
_POSTGRES_COPY = "COPY search_postings (tenant_id, term_id, seq) FROM STDIN"


@dataclass(frozen=True, slots=True)
class _Known:
    id: int
    # Held by COMMON_AT events or more, as the database said: then it stays common (a
    # purge leaves its count alone), so this may be remembered; a count may not.
    common: bool


@dataclass(slots=True)
class IndexPlan:
    """A pass's values: each one's text, the seqs holding it, and its term when known."""

    tenant_id: uuid.UUID

    seqs: dict[bytes, list[int]] = field(default_factory=dict)
    texts: dict[bytes, str] = field(default_factory=dict)
    known: dict[bytes, _Known] = field(default_factory=dict)
    # What the cache learns once (and only if) the pass commits.
    learned: list[tuple[bytes, _Known]] = field(default_factory=list)
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
        self._cache: OrderedDict[tuple[uuid.UUID, bytes], _Known] = OrderedDict()

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
        """Add the new terms, and the postings and counts of those not yet common, judged by
        their counts as this transaction reads them."""
        new = [key for key in plan.seqs if key not in plan.known]
        for key, term_id in _insert_terms(conn, tenant_id, new, plan):
            plan.known[key] = _Known(term_id, common=False)
        inserted_now = set(new)
        counted = _counts(conn, tenant_id, [k.id for k in plan.known.values() if not k.common])
        postings: list[tuple[int, int]] = []
        counts: list[dict[str, int]] = []
        for key, seqs in plan.seqs.items():
            known = plan.known[key]
            if known.common:
                continue
            before = 0 if key in inserted_now else counted[known.id]
            if before >= COMMON_AT:
                plan.learned.append((key, _Known(known.id, common=True)))
                continue
            postings.extend((known.id, seq) for seq in seqs)
            if key in inserted_now:  # inserted with its count
                plan.learned.append((key, _Known(known.id, common=len(seqs) >= COMMON_AT)))
            else:
                counts.append({"term": known.id, "more": len(seqs)})
        _insert_postings(conn, tenant_id, sorted(postings))
        if plan.unfilled:
            e = events_table.c
            conn.execute(
                update(events_table)
                .where(e.tenant_id == tenant_id, e.seq == bindparam("seq_of"))
                .values(search_text=bindparam("text")),
                plan.unfilled,
            )
        if counts:
            conn.execute(
                update(search_terms)
                .where(
                    search_terms.c.tenant_id == tenant_id, search_terms.c.id == bindparam("term")
                )
                .values(events=search_terms.c.events + bindparam("more")),
                counts,
            )
            # Whether each is common now, as the rows just written say: a purge may have
            # lowered a count since it was read (it leaves a common count alone).
            now_counted = _counts(conn, tenant_id, [count["term"] for count in counts])
            for key in plan.seqs:
                known = plan.known[key]
                if known.id in now_counted:
                    common = now_counted[known.id] >= COMMON_AT
                    plan.learned.append((key, _Known(known.id, common=common)))

    def after_commit(self, plan: IndexPlan) -> None:
        """Remember the pass's terms: they are in the database now."""
        cache = self._cache
        for key, known in plan.learned:
            cache[(plan.tenant_id, key)] = known
            cache.move_to_end((plan.tenant_id, key))
        while len(cache) > _CACHE_TERMS:
            cache.popitem(last=False)


def _stored_terms(
    conn: Connection, tenant_id: uuid.UUID, keys: Sequence[bytes]
) -> Iterable[tuple[bytes, _Known]]:
    t = search_terms.c
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = list(keys[start : start + _LOOKUP_CHUNK])
        query = select(t.digest, t.id, t.events).where(
            t.tenant_id == tenant_id, t.digest.in_(chunk)
        )
        for key, term_id, count in conn.execute(query):
            yield bytes(key), _Known(int(term_id), common=count >= COMMON_AT)


def _insert_terms(
    conn: Connection, tenant_id: uuid.UUID, keys: Sequence[bytes], plan: IndexPlan
) -> list[tuple[bytes, int]]:
    """Add the terms ``keys`` (with their counts in the pass); each key with its new id.
    PostgreSQL numbers them from the column's identity; SQLite, where one writer at a
    time holds the database, from the largest id there is."""
    if not keys:
        return []
    rows: list[dict[str, Any]] = [
        {"tenant_id": tenant_id, "digest": k, "text": plan.texts[k], "events": len(plan.seqs[k])}
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


def _counts(conn: Connection, tenant_id: uuid.UUID, ids: Sequence[int]) -> dict[int, int]:
    """The current count of each term in ``ids``."""
    t = search_terms.c
    found: dict[int, int] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        query = select(t.id, t.events).where(t.tenant_id == tenant_id, t.id.in_(chunk))
        found.update((int(term_id), int(events)) for term_id, events in conn.execute(query))
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
