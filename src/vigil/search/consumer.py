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

from sqlalchemy import Connection, bindparam, select, update

from vigil.events.tables import EventRow
from vigil.search.tables import search_terms
from vigil.search.terms import COMMON_AT, digest, event_values

CONSUMER_NAME: Final = "search_index"
_LOOKUP_CHUNK = 500
# Terms remembered per process (id, and whether common), so the values every event repeats
# cost no query: about 100 bytes each.
_CACHE_TERMS = 200_000
_POSTGRES_COPY = "COPY search_postings (term_id, seq) FROM STDIN"


@dataclass(frozen=True, slots=True)
class _Known:
    id: int
    events: int  # as last read or written; only ever grows


@dataclass(slots=True)
class IndexPlan:
    """A pass's values: each one's text, the seqs holding it, and its term when known."""

    tenant_id: uuid.UUID

    seqs: dict[bytes, list[int]] = field(default_factory=dict)
    texts: dict[bytes, str] = field(default_factory=dict)
    known: dict[bytes, _Known] = field(default_factory=dict)
    # What the cache learns once (and only if) the pass commits.
    learned: list[tuple[bytes, _Known]] = field(default_factory=list)


class SearchIndexConsumer:
    """Keeps ``search_terms`` and ``search_postings`` up with committed events."""

    name = CONSUMER_NAME
    # A search reads what the index has not reached yet, so the index need not hurry:
    # larger passes share the per-pass costs among more events.
    gather_seconds = 0.25
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
        return plan if plan.seqs else None

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: IndexPlan, now: datetime
    ) -> None:
        """Add the new terms, the postings of terms not yet common, and the counts."""
        new = [key for key in plan.seqs if key not in plan.known]
        if new:
            rows = [
                {
                    "tenant_id": tenant_id,
                    "digest": key,
                    "text": plan.texts[key],
                    "events": len(plan.seqs[key]),
                }
                for key in new
            ]
            inserted = conn.execute(
                search_terms.insert().returning(search_terms.c.id, search_terms.c.digest),
                rows,
            ).all()
            for term_id, key in inserted:
                plan.known[bytes(key)] = _Known(int(term_id), 0)
        postings: list[tuple[int, int]] = []
        counts: list[dict[str, int]] = []
        for key, seqs in plan.seqs.items():
            known = plan.known[key]
            if known.events < COMMON_AT:
                postings.extend((known.id, seq) for seq in seqs)
            if known.events:  # a new term was inserted with its count
                counts.append({"term": known.id, "more": len(seqs)})
            plan.learned.append((key, _Known(known.id, known.events + len(seqs))))
        _insert_postings(conn, sorted(postings))
        if counts:
            conn.execute(
                update(search_terms)
                .where(search_terms.c.id == bindparam("term"))
                .values(events=search_terms.c.events + bindparam("more")),
                counts,
            )

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
        for key, term_id, events in conn.execute(query):
            yield bytes(key), _Known(int(term_id), int(events))


def _insert_postings(conn: Connection, postings: list[tuple[int, int]]) -> None:
    if not postings:
        return
    if conn.dialect.name == "postgresql":
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(_POSTGRES_COPY) as copy:
                for posting in postings:
                    copy.write_row(posting)
        finally:
            cursor.close()
    else:
        conn.exec_driver_sql("INSERT INTO search_postings (term_id, seq) VALUES (?, ?)", postings)
