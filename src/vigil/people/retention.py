"""Taking purged events off the people tables: counts go down, and a person with no event
left is deleted with their identifiers; first and last seen and the last sign-in are read
again from the events left when a purged event was one of them."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    delete,
    func,
    select,
)

from vigil.events.actor import actor_clause
from vigil.events.tables import EventRow, events
from vigil.people.consumer import CONSUMER_NAME, write_people
from vigil.people.counters import delete_people_counts, take_counts
from vigil.people.directory import (
    LOOKUP_CHUNK,
    Identifier,
    actor_of,
    load_identifiers,
    wanted_by,
)
from vigil.people.sightings import SIGN_IN_ACTION, SIGN_IN_STATUS, Tally, sightings_of
from vigil.people.tables import (
    EMAIL,
    USER_ID,
    people,
    person_identifiers,
)
from vigil.spine.service import cursor_position, hold_cursor

log = logging.getLogger(__name__)


def hold_people(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> None:
    """Lock the tenant's people cursor until the caller's transaction ends (see
    ``spine.service.hold_cursor``). A purge does this before it deletes any event, so no
    pass counts events it deletes and ``forget_events`` reads where the tables stand."""
    hold_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=now)


def forget_events(conn: Connection, *, tenant_id: uuid.UUID, rows: Sequence[EventRow]) -> None:
    """Take deleted events (their rows as they were) off the tenant's people tables, in
    the caller's transaction, after ``hold_people``. Events past the cursor were never
    counted and need nothing. A count that would go below 0 means the tables were wrong
    already: it is logged (``vigil people check`` and ``rebuild`` mend them)."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    seen = sightings_of([row for row in rows if row["seq"] <= through])
    if not seen:
        return
    known = load_identifiers(conn, tenant_id=tenant_id, wanted=wanted_by(seen))
    tallies: dict[uuid.UUID, Tally] = defaultdict(Tally)
    for sighting in seen:
        key = (
            Identifier(USER_ID, sighting.user_id)
            if sighting.user_id is not None
            else Identifier(EMAIL, sighting.email or "")
        )
        entry = known.get(key)
        if entry is None:
            log.error(
                "people of tenant %s: a purged event's actor %s is no one's;"
                " run vigil people check",
                tenant_id,
                key,
            )
            continue
        tallies[entry.person_id].add(sighting)
    take_counts(conn, tenant_id=tenant_id, tallies=tallies)
    _take_from_people(conn, tenant_id, tallies, through)


def _take_from_people(
    conn: Connection, tenant_id: uuid.UUID, tallies: dict[uuid.UUID, Tally], through: int
) -> None:
    p = people.c
    ids = sorted(tallies)
    gone: list[uuid.UUID] = []
    changes: list[dict[str, Any]] = []
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        query = select(p.id, p.first_seen, p.last_seen, p.last_sign_in, p.events).where(
            p.tenant_id == tenant_id, p.id.in_(chunk)
        )
        for person_id, first_seen, last_seen, last_sign_in, count in conn.execute(query).all():
            tally = tallies[person_id]
            left = count - tally.events
            if left < 0:
                log.error(
                    "people of tenant %s: person %s held %s fewer events than a purge"
                    " deleted; run vigil people check",
                    tenant_id,
                    person_id,
                    -left,
                )
            if left <= 0:
                gone.append(person_id)
                continue
            mine = [
                events.c.tenant_id == tenant_id,
                events.c.seq <= through,
                actor_clause(actor_of(conn, tenant_id=tenant_id, person_id=person_id)),
            ]
            if tally.first_seen is not None and tally.first_seen <= first_seen:
                first_seen = conn.execute(
                    select(func.min(events.c.timestamp)).where(*mine)
                ).scalar_one()
            if tally.last_seen is not None and tally.last_seen >= last_seen:
                last_seen = conn.execute(
                    select(func.max(events.c.timestamp)).where(*mine)
                ).scalar_one()
            if tally.last_sign_in is not None and (
                last_sign_in is None or tally.last_sign_in >= last_sign_in
            ):
                last_sign_in = conn.execute(
                    select(func.max(events.c.timestamp)).where(
                        *mine, events.c.action == SIGN_IN_ACTION, events.c.status == SIGN_IN_STATUS
                    )
                ).scalar_one()
            changes.append(
                {
                    "person": person_id,
                    "first_seen": first_seen,
                    "last_seen": last_seen,
                    "last_sign_in": last_sign_in,
                    "events": left,
                }
            )
    write_people(conn, tenant_id=tenant_id, changes=changes)
    delete_people_counts(conn, tenant_id=tenant_id, person_ids=gone)
    for start in range(0, len(gone), LOOKUP_CHUNK):
        chunk = gone[start : start + LOOKUP_CHUNK]
        i = person_identifiers.c
        conn.execute(
            delete(person_identifiers).where(i.tenant_id == tenant_id, i.person_id.in_(chunk))
        )
        conn.execute(delete(people).where(p.tenant_id == tenant_id, p.id.in_(chunk)))
