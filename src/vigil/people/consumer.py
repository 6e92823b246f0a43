"""The people tables as a consumer of committed events (DESIGN §2): each event with an
actor is resolved to a person (``people.directory``) and counted on them — events, first
and last seen, last sign-in, and the counters of ``people.counters`` — in the
transaction that moves the consumer's cursor, so exactly once. A retention purge takes
its events off again (``people.retention``).

A pass resolves and counts when it writes, and only the events still stored then: on
SQLite it plans outside the write lock, and a purge committing in between deletes events
the people tables must then never hold.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, func, select, update

from vigil.db.folding import fold
from vigil.events.tables import EventRow, events
from vigil.people.counters import add_counts
from vigil.people.directory import (
    LOOKUP_CHUNK,
    Identifier,
    Known,
    load_identifiers,
    resolve,
    wanted_by,
)
from vigil.people.sightings import Sighting, Tally, earlier, later, sightings_of, stored_only
from vigil.people.tables import people, person_identifiers

CONSUMER_NAME: Final = "people"


@dataclass(frozen=True, slots=True)
class PeoplePlan:
    """A pass's span of ``seq`` (both included) and its events that name an actor."""

    first_seq: int
    last_seq: int
    events: int
    seen: list[Sighting]


class PeopleConsumer:
    """Keeps ``people`` and the tables about them up with committed events."""

    name = CONSUMER_NAME
    # A pass writes a row per person it saw (and per person and day, feature, country),
    # whatever its events: a pass of 1,000 events from 400 people wrote some 2,400 rows
    # and took ingest on SQLite from half the raw insert rate to a quarter. Gathering two
    # seconds of commits makes passes of ~15,000 events under load, a sixth of a row per
    # event. Analytics read the events past the cursor, so they stay exact meanwhile.
    gather_seconds = 2.0
    quiet_seconds = 0.0
    batch_limit = 20_000

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventRow], now: datetime
    ) -> PeoplePlan | None:
        """The events of ``events`` that name an actor; None for no events."""
        if not events:
            return None
        return PeoplePlan(events[0]["seq"], events[-1]["seq"], len(events), sightings_of(events))

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: PeoplePlan, now: datetime
    ) -> None:
        """Count the plan's events still stored on their people."""
        seen = _still_stored(conn, tenant_id, plan)
        if seen:
            count_sightings(conn, tenant_id=tenant_id, seen=seen)

    def after_commit(self, plan: PeoplePlan) -> None:
        """Nothing follows a pass."""


def _still_stored(conn: Connection, tenant_id: uuid.UUID, plan: PeoplePlan) -> list[Sighting]:
    """The plan's sightings without those a purge has deleted since the plan was read."""
    e = events.c
    span = (e.tenant_id == tenant_id, e.seq.between(plan.first_seq, plan.last_seq))
    if conn.execute(select(func.count()).where(*span)).scalar_one() >= plan.events:
        return plan.seen
    return stored_only(plan.seen, set(conn.execute(select(e.seq).where(*span)).scalars()))


def count_sightings(conn: Connection, *, tenant_id: uuid.UUID, seen: Sequence[Sighting]) -> None:
    """Resolve ``seen`` (in commit order) to people, creating those not known yet, and
    add them to every table about people, in the caller's transaction."""
    found = resolve(
        tenant_id, seen, load_identifiers(conn, tenant_id=tenant_id, wanted=wanted_by(seen))
    )
    tallies: dict[uuid.UUID, Tally] = defaultdict(Tally)
    for sighting, person_id in zip(seen, found.persons, strict=True):
        tallies[person_id].add(sighting)
    _insert_identifiers(conn, tenant_id, found.new_identifiers)
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
    add_counts(conn, tenant_id=tenant_id, tallies=tallies)


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
