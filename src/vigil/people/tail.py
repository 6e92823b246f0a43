"""The events the people consumer has not counted yet, each resolved to its person by the
consumer's own rule (``people.directory``): what makes the people tables exact at any
moment for those who read them (team analytics, a person's page) while the consumer is
behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection

from vigil.events.commit_log import events_after
from vigil.events.filters import Actor
from vigil.people.consumer import CONSUMER_NAME
from vigil.people.directory import load_identifiers, resolve, wanted_by
from vigil.people.sightings import Sighting, day_of, sightings_of
from vigil.spine.service import cursor_position, last_seq

TAIL_CHUNK: Final = 20_000  # events past the cursor read at a time


@dataclass(frozen=True, slots=True)
class PeopleTail:
    """The events past the people consumer's cursor, each with its person (people not
    known yet given the id they will have), in commit order: read once per answer."""

    seen: list[tuple[Sighting, uuid.UUID]]

    def within(self, first_day: int, last_day: int) -> list[tuple[Sighting, uuid.UUID]]:
        """Those of the UTC days ``first_day`` to ``last_day`` (both included; whole days
        from 1970-01-01, as ``sightings.day_of``)."""
        return [
            (sighting, person_id)
            for sighting, person_id in self.seen
            if first_day <= day_of(sighting.timestamp) <= last_day
        ]

    def of(self, person_id: uuid.UUID) -> list[Sighting]:
        """The person's events, in commit order."""
        return [sighting for sighting, pid in self.seen if pid == person_id]


def read_tail(conn: Connection, *, tenant_id: uuid.UUID) -> PeopleTail:
    """Every event past the people consumer's cursor, resolved in commit order from the
    first, as the consumer will resolve them."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    head = last_seq(conn, tenant_id=tenant_id)
    seen: list[Sighting] = []
    after = through
    while after < head:
        batch = events_after(conn, tenant_id=tenant_id, after_seq=after, limit=TAIL_CHUNK)
        if not batch:
            break
        after = batch[-1]["seq"]
        seen.extend(sightings_of(batch))
    if not seen:
        return PeopleTail([])
    known = load_identifiers(conn, tenant_id=tenant_id, wanted=wanted_by(seen))
    found = resolve(tenant_id, seen, known)
    return PeopleTail(list(zip(seen, found.persons, strict=True)))


def actor_in(sightings: list[Sighting]) -> Actor:
    """The events of a person only the tail names, as an ``Actor``: their ids, and the
    emails events named without an id (as ``directory.actor_of`` for a known person)."""
    user_ids = sorted({s.user_id for s in sightings if s.user_id is not None})
    emails = sorted({s.email for s in sightings if s.user_id is None and s.email is not None})
    return Actor(user_ids=tuple(user_ids), emails=tuple(emails))
