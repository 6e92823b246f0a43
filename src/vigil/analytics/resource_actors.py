"""How many distinct actors each resource of a type had in a period, bounded from the
(resource, actor) pairs the resource rollups keep (``rollup_tables.resource_actors``).

A pair's first and last day hold every counted event of it, so in a period it is
certainly an actor when its days fall inside the period, certainly not when they miss
it, and perhaps when they straddle an end. The bounds are exact for every resource when
the period holds all of its pairs' days, as "the last 90 days" does under the default
90-day retention; otherwise a resource whose bounds differ is counted from its events
(``analytics.resources``). Events past the consumer's cursor are read and fold in: each
one in the period makes its pair an actor for certain.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Final, NamedTuple

from sqlalchemy import Connection, and_, case, func, select, tuple_

from vigil.analytics.period import Period
from vigil.analytics.resource_rollups import ACTOR, CONSUMER_NAME
from vigil.analytics.rollup_counts import past
from vigil.analytics.rollup_tables import resource_actors
from vigil.events.tables import events
from vigil.spine.service import cursor_position

# Distinct (resource, actor) pairs past the cursor beyond which the bounds are not worth
# their lookups; the caller counts from the events instead. A pass of the consumer is at
# most 20,000 events, so only a long backlog comes near it.
MAX_TAIL_PAIRS: Final = 5_000
LOOKUP_CHUNK: Final = 500  # pairs looked up per statement (SQLite's bound parameters)


class ActorBounds(NamedTuple):
    """A resource's distinct actors in a period: at least ``least``, at most ``most``."""

    least: int
    most: int

    @property
    def exact(self) -> bool:
        """Whether the bounds meet, so the count is known."""
        return self.least == self.most


def actor_bounds(
    conn: Connection, *, tenant_id: uuid.UUID, resource_type: str, period: Period
) -> dict[str, ActorBounds] | None:
    """Bounds on the distinct actors (a user id, or an email for events with none) of each
    resource of ``resource_type`` with an actor in ``period``, by resource id; a resource
    missing had none. One grouped read of the type's pairs that meet the period, one read
    of the events past the cursor and a lookup of their pairs. None when more than
    ``MAX_TAIL_PAIRS`` pairs are past the cursor (a backlog). Read in the caller's
    snapshot, so the pairs and the cursor agree."""
    a = resource_actors.c
    inside = and_(a.first_day >= period.first_day, a.last_day <= period.last_day)
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for resource_id, least, most in conn.execute(
        select(a.resource_id, func.sum(case((inside, 1), else_=0)), func.count())
        .where(
            a.tenant_id == tenant_id,
            a.resource_type == resource_type,
            a.last_day >= period.first_day,
            a.first_day <= period.last_day,
        )
        .group_by(a.resource_id)
    ):
        found[resource_id] = [int(least), int(most)]
    return tail_bounds(
        conn, tenant_id=tenant_id, resource_type=resource_type, period=period, found=found
    )


def tail_bounds(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    resource_type: str,
    period: Period,
    found: dict[str, list[int]],
    certain: bool = False,
) -> dict[str, ActorBounds] | None:
    """``found`` (``{resource id: [least, most]}`` from the stored pairs) with the events
    past the cursor folded in, as ``ActorBounds``; None when more than ``MAX_TAIL_PAIRS``
    pairs are past the cursor. ``certain``: every stored pair is counted in ``found`` as
    an actor for certain (the period holds every counted event), so only pairs not
    stored yet add to it."""
    tail = _tail_pairs(conn, tenant_id, resource_type, period)
    if tail is None:
        return None
    bounds_of = defaultdict(lambda: [0, 0], found)
    for (resource_id, _), days in _stored_days(conn, tenant_id, resource_type, tail).items():
        bounds = bounds_of[resource_id]
        if certain and days is not None:
            continue
        if days is None or days[1] < period.first_day or days[0] > period.last_day:
            bounds[0] += 1  # an actor the pairs did not count in the period at all
            bounds[1] += 1
        elif days[0] < period.first_day or days[1] > period.last_day:
            bounds[0] += 1  # counted as perhaps; the event past the cursor settles it
    return {resource_id: ActorBounds(*bounds) for resource_id, bounds in bounds_of.items()}


def _tail_pairs(
    conn: Connection, tenant_id: uuid.UUID, resource_type: str, period: Period
) -> list[tuple[str, str]] | None:
    """The distinct (resource id, actor) pairs of the type's events in the period past the
    consumer's cursor; None when there are more than ``MAX_TAIL_PAIRS``."""
    e = events.c
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    pairs = [
        (str(resource_id), str(actor))
        for resource_id, actor in conn.execute(
            select(e.resource_id, ACTOR)
            .where(
                past(conn, tenant_id=tenant_id, after=through),
                e.resource_type == resource_type,
                e.resource_id.is_not(None),
                ACTOR.is_not(None),
                e.timestamp >= period.start,
                e.timestamp < period.end,
            )
            .distinct()
            .limit(MAX_TAIL_PAIRS + 1)
        )
    ]
    return None if len(pairs) > MAX_TAIL_PAIRS else pairs


def _stored_days(
    conn: Connection, tenant_id: uuid.UUID, resource_type: str, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int] | None]:
    """Each pair's stored (first day, last day), None for a pair not stored."""
    a = resource_actors.c
    days: dict[tuple[str, str], tuple[int, int] | None] = dict.fromkeys(pairs)
    for start in range(0, len(pairs), LOOKUP_CHUNK):
        for resource_id, actor, first, last in conn.execute(
            select(a.resource_id, a.actor, a.first_day, a.last_day).where(
                a.tenant_id == tenant_id,
                a.resource_type == resource_type,
                tuple_(a.resource_id, a.actor).in_(pairs[start : start + LOOKUP_CHUNK]),
            )
        ):
            days[(resource_id, actor)] = (int(first), int(last))
    return days
