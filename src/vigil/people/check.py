"""Checking the people tables against the events, and starting them over.

``compare_people`` is what ``vigil people check`` runs and what the tests assert with: with
each stored identifier's person, every count and time the tables hold must equal one
worked out again from the events the consumer has reached, and every actor of those
events must be someone's.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, delete, select

from vigil.db.engine import one_snapshot
from vigil.events.commit_log import events_after
from vigil.people.consumer import CONSUMER_NAME
from vigil.people.counters import COUNTERS, compare_counts
from vigil.people.directory import Identifier
from vigil.people.retention import hold_people
from vigil.people.sightings import Tally, sightings_of
from vigil.people.tables import (
    EMAIL,
    USER_ID,
    people,
    person_identifiers,
)
from vigil.spine.service import cursor_position, rewind_cursor

MAX_REPORTED: Final = 20  # differences listed at most; the count says how many there are
READ_CHUNK: Final = 20_000  # events read at a time


@dataclass(frozen=True, slots=True)
class PeopleDifference:
    """What disagrees with the events: how many differences in all, a few described, and
    how far the consumer had counted (its cursor, as the comparison saw it)."""

    through: int
    differences: int
    examples: list[str]

    @property
    def agrees(self) -> bool:
        """Whether the tables equal what the events say."""
        return self.differences == 0


def compare_people(conn: Connection, *, tenant_id: uuid.UUID) -> PeopleDifference:
    """Compare the tenant's people tables with the events the consumer has reached, all
    read in one snapshot (``conn`` must not have begun: on PostgreSQL its transaction is
    made REPEATABLE READ, on SQLite one read transaction is one snapshot). Reads every such
    event once, in Python: seconds per million events."""
    one_snapshot(conn)
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    i = person_identifiers.c
    owner = {
        Identifier(kind, value): person_id
        for kind, value, person_id in conn.execute(
            select(i.kind, i.value, i.person_id).where(i.tenant_id == tenant_id)
        )
    }
    expected: dict[uuid.UUID, Tally] = defaultdict(Tally)
    problems: list[str] = []
    after = 0
    while after < through:
        batch = events_after(
            conn, tenant_id=tenant_id, after_seq=after, limit=min(READ_CHUNK, through - after)
        )
        if not batch:
            break
        after = batch[-1]["seq"]
        for seen in sightings_of(batch):
            key = (
                Identifier(USER_ID, seen.user_id)
                if seen.user_id is not None
                else Identifier(EMAIL, seen.email or "")
            )
            person_id = owner.get(key)
            if person_id is None:
                problems.append(
                    f"event seq {seen.seq}: its actor {key.kind} {key.value!r} is no one"
                )
                continue
            expected[person_id].add(seen)
    problems.extend(_compare_people(conn, tenant_id, expected))
    problems.extend(compare_counts(conn, tenant_id=tenant_id, expected=expected))
    return PeopleDifference(
        through=through, differences=len(problems), examples=problems[:MAX_REPORTED]
    )


def _compare_people(
    conn: Connection, tenant_id: uuid.UUID, expected: dict[uuid.UUID, Tally]
) -> list[str]:
    p = people.c
    problems: list[str] = []
    stored: dict[uuid.UUID, tuple[Any, ...]] = {
        row[0]: tuple(row[1:])
        for row in conn.execute(
            select(p.id, p.events, p.first_seen, p.last_seen, p.last_sign_in).where(
                p.tenant_id == tenant_id
            )
        )
    }
    for person_id in sorted(set(stored) | set(expected)):
        tally = expected.get(person_id)
        want = (
            (tally.events, tally.first_seen, tally.last_seen, tally.last_sign_in)
            if tally is not None
            else None
        )
        have = stored.get(person_id)
        if have != want:
            problems.append(f"person {person_id}: stored {_shown(have)}, events say {_shown(want)}")
    return problems


def _shown(values: tuple[Any, ...] | None) -> str:
    if values is None:
        return "nothing"
    events, *times = values
    return f"{events:,} events, " + " / ".join("-" if t is None else t.isoformat() for t in times)


def reset_people(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> None:
    """Empty the tenant's people tables and move the consumer's cursor back to the start
    of its commit sequence, in the caller's transaction: the consumer then counts every
    stored event again. Holds the cursor first, as a purge does, so no pass runs alongside.
    A person keeps their id unless retention purged the event that first named them."""
    hold_people(conn, tenant_id=tenant_id, now=now)
    for table in (*(counter.table for counter in COUNTERS), person_identifiers, people):
        conn.execute(delete(table).where(table.c.tenant_id == tenant_id))
    rewind_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
