"""The people tables as a consumer of committed events (DESIGN §2): each event with an
actor is resolved to a person (``people.directory``) and counted on them — events, first
and last seen, last sign-in, and the counters of ``people.counters`` — in the
transaction that moves the consumer's cursor, so exactly once. A retention purge takes
its events off again (``people.retention``).

A pass counts in SQL, when it writes, the events of its span still stored then (on
SQLite it plans outside the write lock, and a purge committing in between deletes events
the people tables must then never hold): Python sees one row per distinct actor of the
span and writes one per person and counter row, never a row per event. Counting each
event in Python cost about 50 µs of the server's CPU per event, as much as ingesting it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from vigil.db.folding import fold
from vigil.events.tables import events
from vigil.people.counters import add_stored
from vigil.people.directory import (
    LOOKUP_CHUNK,
    Identifier,
    Known,
    load_identifiers,
    resolve,
    wanted_by,
)
from vigil.people.sightings import SIGN_IN_ACTION, SIGN_IN_STATUS, Tally, earlier, later
from vigil.people.tables import people, person_identifiers
from vigil.spine.consumers import SeqSpan, SpanCounter

CONSUMER_NAME: Final = "people"


class PeopleConsumer(SpanCounter):
    """Keeps ``people`` and the tables about them up with committed events."""

    name = CONSUMER_NAME
    # A pass writes a row per person it saw (and per person and day, feature, country),
    # whatever its events: a pass of 1,000 events from 400 people wrote some 2,400 rows.
    # Gathering two seconds of commits makes passes of ~15,000 events under load, a
    # sixth of a row per event. Analytics read the events past the cursor, so they stay
    # exact meanwhile, and the passes take a small share of the time while events commit
    # (``spine.turns``).
    gather_seconds = 2.0
    background = True
    batch_limit = 20_000

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: SeqSpan, now: datetime
    ) -> None:
        """Count the span's events still stored on their people."""
        count_stored(conn, tenant_id=tenant_id, first_seq=plan.first_seq, last_seq=plan.last_seq)


class ActorSpan(NamedTuple):
    """One actor (an id and email as events name them together) in a span of events: how
    many events, the first and last, and the last successful sign-in."""

    user_id: str | None
    email: str | None
    events: int
    first_seen: datetime
    last_seen: datetime
    last_sign_in: datetime | None


def actors_stored(
    conn: Connection, *, tenant_id: uuid.UUID, first_seq: int, last_seq: int
) -> list[ActorSpan]:
    """Every actor of the tenant's stored events from ``first_seq`` to ``last_seq`` (both
    included), in the order of their first event: the order ``people.directory.resolve``
    needs (an actor seen again resolves as it did the first time)."""
    e = events.c
    sign_in = case((and_(e.action == SIGN_IN_ACTION, e.status == SIGN_IN_STATUS), e.timestamp))
    rows = conn.execute(
        select(
            e.user_id,
            e.user_email,
            func.count(),
            func.min(e.timestamp),
            func.max(e.timestamp),
            func.max(sign_in),
        )
        .where(
            e.tenant_id == tenant_id,
            e.seq.between(first_seq, last_seq),
            or_(e.user_id.is_not(None), e.user_email.is_not(None)),
        )
        .group_by(e.user_id, e.user_email)
        .order_by(func.min(e.seq))
    )
    return [ActorSpan(*row) for row in rows]


def count_stored(conn: Connection, *, tenant_id: uuid.UUID, first_seq: int, last_seq: int) -> None:
    """Resolve the actors of the tenant's stored events from ``first_seq`` to ``last_seq``
    to people, creating those not known yet, and add the events to every table about
    people, in the caller's transaction."""
    spans = actors_stored(conn, tenant_id=tenant_id, first_seq=first_seq, last_seq=last_seq)
    if not spans:
        return
    found = resolve(
        tenant_id, spans, load_identifiers(conn, tenant_id=tenant_id, wanted=wanted_by(spans))
    )
    tallies: dict[uuid.UUID, Tally] = defaultdict(Tally)
    for span, person_id in zip(spans, found.persons, strict=True):
        tallies[person_id].add_times(
            span.events, span.first_seen, span.last_seen, span.last_sign_in
        )
    _insert_identifiers(conn, tenant_id, found.new_identifiers)
    if found.new_identifiers:
        _give_statistics(conn)
    if found.now_without_id:
        i = person_identifiers.c
        conn.execute(
            update(person_identifiers)
            .where(i.tenant_id == tenant_id, i.kind == bindparam("k"), i.value == bindparam("v"))
            .values(without_id=True),
            [{"k": key.kind, "v": key.value} for key in sorted(found.now_without_id)],
        )
    fresh = {person_id: tallies[person_id] for person_id in found.new_people}
    if fresh:
        conn.execute(
            people.insert(),
            [
                {
                    "tenant_id": tenant_id,
                    "id": person_id,
                    "label": found.new_people[person_id].value,
                    "first_seen": tally.first_seen,
                    "last_seen": tally.last_seen,
                    "last_sign_in": tally.last_sign_in,
                    "events": tally.events,
                }
                for person_id, tally in fresh.items()
            ],
        )
    _add_to_people(conn, tenant_id, {k: v for k, v in tallies.items() if k not in fresh})
    add_stored(conn, tenant_id=tenant_id, first_seq=first_seq, last_seq=last_seq)


def _give_statistics(conn: Connection) -> None:
    """On PostgreSQL, analyze ``person_identifiers`` while it has no statistics (a new
    database, until autovacuum's first visit): taking it for empty, the planner looked up
    each actor's person through the index by person, reading every identifier of the
    tenant (catching up 100,000 events: 18.9 s, against 2.4 s once analyzed). Once it
    holds rows, autovacuum keeps its statistics."""
    if conn.dialect.name != "postgresql":
        return
    unknown = conn.exec_driver_sql(
        "SELECT reltuples <= 0 FROM pg_class WHERE oid = 'person_identifiers'::regclass"
    ).scalar()
    if unknown:
        conn.exec_driver_sql("ANALYZE person_identifiers")


def _insert_identifiers(
    conn: Connection, tenant_id: uuid.UUID, new: dict[Identifier, Known]
) -> None:
    if new:
        conn.execute(
            person_identifiers.insert(),
            [
                {
                    "tenant_id": tenant_id,
                    "kind": key.kind,
                    "value": key.value,
                    "person_id": known.person_id,
                    "folded": fold(key.value),
                    "without_id": known.without_id,
                }
                for key, known in sorted(new.items())
            ],
        )


def _add_to_people(conn: Connection, tenant_id: uuid.UUID, tallies: dict[uuid.UUID, Tally]) -> None:
    """Add ``tallies`` to stored people (read first: the times are kept as the earliest
    and latest of both)."""
    p = people.c
    ids = sorted(tallies)
    changes: list[dict[str, Any]] = []
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        query = select(p.id, p.first_seen, p.last_seen, p.last_sign_in, p.events).where(
            p.tenant_id == tenant_id, p.id.in_(chunk)
        )
        for person_id, first_seen, last_seen, last_sign_in, count in conn.execute(query):
            tally = tallies[person_id]
            changes.append(
                {
                    "person": person_id,
                    "first_seen": earlier(first_seen, tally.first_seen),
                    "last_seen": later(last_seen, tally.last_seen),
                    "last_sign_in": later(last_sign_in, tally.last_sign_in),
                    "events": count + tally.events,
                }
            )
    write_people(conn, tenant_id=tenant_id, changes=changes)


def write_people(conn: Connection, *, tenant_id: uuid.UUID, changes: list[dict[str, Any]]) -> None:
    """Set each changed person's times and events: ``changes`` holds ``person`` (the id),
    ``first_seen``, ``last_seen``, ``last_sign_in`` and ``events``, one dict per person."""
    if not changes:
        return
    p = people.c
    conn.execute(
        update(people)
        .where(p.tenant_id == tenant_id, p.id == bindparam("person"))
        .values(
            first_seen=bindparam("first_seen"),
            last_seen=bindparam("last_seen"),
            last_sign_in=bindparam("last_sign_in"),
            events=bindparam("events"),
        ),
        changes,
    )
