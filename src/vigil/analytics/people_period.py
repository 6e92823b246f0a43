"""Who acted in a period, and how much: from the people counters (``person_days``,
``person_features``) for the events the people consumer has counted, and from the events
themselves for those it has not reached yet (resolved to people by the same rule,
``people.directory``), so the answer is exact at any moment.

Callers read in one snapshot (``analytics.snapshot``), so the cursor, the counters and the
events past it agree.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict

from sqlalchemy import Connection, func, select

from vigil.analytics.period import Period
from vigil.people.sightings import Sighting
from vigil.people.tables import person_days, person_features
from vigil.people.tail import PeopleTail


def _within(tail: PeopleTail, period: Period) -> list[tuple[Sighting, uuid.UUID]]:
    """The tail's events of ``period``."""
    return tail.within(period.first_day, period.last_day)


def people_in(
    conn: Connection, *, tenant_id: uuid.UUID, period: Period, tail: PeopleTail
) -> Counter[uuid.UUID]:
    """Everyone who acted in ``period``, with their events (a row per person and day)."""
    found: Counter[uuid.UUID] = Counter()
    d = person_days.c
    for person_id, n in conn.execute(
        select(d.person_id, func.sum(d.events))
        .where(d.tenant_id == tenant_id, d.day.between(period.first_day, period.last_day))
        .group_by(d.person_id)
    ):
        found[person_id] += int(n)
    for _, person_id in _within(tail, period):
        found[person_id] += 1
    return found


def active_count(
    conn: Connection, *, tenant_id: uuid.UUID, period: Period, tail: PeopleTail
) -> int:
    """How many people acted in ``period``: counted in SQL, plus those only the events
    past the cursor name."""
    d = person_days.c
    in_period = (d.tenant_id == tenant_id, d.day.between(period.first_day, period.last_day))
    counted = conn.execute(select(func.count(func.distinct(d.person_id))).where(*in_period))
    total = int(counted.scalar_one())
    newcomers = {person_id for _, person_id in _within(tail, period)}
    if newcomers:
        known = set(
            conn.execute(
                select(d.person_id).distinct().where(*in_period, d.person_id.in_(newcomers))
            ).scalars()
        )
        total += len(newcomers - known)
    return total


def users_per_type(
    conn: Connection, *, tenant_id: uuid.UUID, period: Period, tail: PeopleTail
) -> Counter[str]:
    """How many people acted on each resource type in ``period`` (the table's key puts
    each type's people in order, so SQL counts them without sorting), plus those only the
    events past the cursor name."""
    f = person_features.c
    in_period = (f.tenant_id == tenant_id, f.day.between(period.first_day, period.last_day))
    found: Counter[str] = Counter()
    # Each type's people first (GROUP BY in the key's order: no sort on either database),
    # then counted; count(DISTINCT) made PostgreSQL sort every row of the period.
    pairs_in_period = (
        select(f.resource_type, f.person_id)
        .where(*in_period)
        .group_by(f.resource_type, f.person_id)
        .subquery("used")
    )
    for resource_type, n in conn.execute(
        select(pairs_in_period.c.resource_type, func.count()).group_by(
            pairs_in_period.c.resource_type
        )
    ):
        found[resource_type] = int(n)
    newcomers = {(s.resource_type, person_id) for s, person_id in _within(tail, period)}
    if newcomers:
        people = {person_id for _, person_id in newcomers}
        rows = conn.execute(
            select(f.resource_type, f.person_id)
            .distinct()
            .where(*in_period, f.person_id.in_(people))
        )
        known = {(resource_type, person_id) for resource_type, person_id in rows}
        for resource_type, _ in newcomers - known:
            found[resource_type] += 1
    return found


def features_of(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    period: Period,
    person_ids: list[uuid.UUID],
    tail: PeopleTail,
) -> dict[uuid.UUID, Counter[tuple[str, str]]]:
    """What each of a few people used in ``period``: events per (resource type, action)."""
    found: dict[uuid.UUID, Counter[tuple[str, str]]] = defaultdict(Counter)
    if not person_ids:
        return found
    f = person_features.c
    for person_id, resource_type, action, n in conn.execute(
        select(f.person_id, f.resource_type, f.action, func.sum(f.events))
        .where(
            f.tenant_id == tenant_id,
            f.person_id.in_(person_ids),
            f.day.between(period.first_day, period.last_day),
        )
        .group_by(f.person_id, f.resource_type, f.action)
    ):
        found[person_id][(resource_type, action)] += int(n)
    wanted = set(person_ids)
    for sighting, person_id in _within(tail, period):
        if person_id in wanted:
            found[person_id][(sighting.resource_type, sighting.action)] += 1
    return found
