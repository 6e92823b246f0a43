"""Checking the resource rollups (``resource_days``, ``resource_totals``,
``resource_actors``) against the events: what ``vigil rollups check`` runs and what the
tests assert with."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Final, NamedTuple

from sqlalchemy import Connection, func, select

from vigil.analytics.buckets import DAY
from vigil.analytics.resource_rollups import ACTOR, CHANGES, CONSUMER_NAME, ResourceDay
from vigil.analytics.rollup_tables import resource_actors, resource_days, resource_totals
from vigil.db.engine import one_snapshot
from vigil.events.tables import events
from vigil.spine.service import cursor_position


class ResourcePair(NamedTuple):
    """A ``resource_actors`` row's key past the tenant."""

    resource_type: str
    resource_id: str
    actor: str


class ResourceTotal(NamedTuple):
    """A ``resource_totals`` row past its key: events, changes and (resource, actor) pairs."""

    events: int
    changes: int
    actors: int


class PairCount(NamedTuple):
    """A pair's events and the first and last UTC day of them."""

    events: int
    first_day: int
    last_day: int


@dataclass(frozen=True, slots=True)
class ResourceDifference:
    """Counters, totals and (resource, actor) pairs that disagree with the events, (key,
    counted, events) for a few of each (a total's key is its resource type and id; a pair
    disagrees when its events differ or its days do not hold its events' days; None for a
    pair missing on one side); how many in all; and how far the consumer had counted (its
    cursor, as the comparison saw it)."""

    through: int
    differences: int
    examples: list[tuple[ResourceDay, int, int]]
    total_examples: list[tuple[tuple[str, str], ResourceTotal, ResourceTotal]]
    pair_examples: list[tuple[ResourcePair, PairCount | None, PairCount | None]]

    @property
    def agrees(self) -> bool:
        """Whether every counter equals its events' count."""
        return self.differences == 0


MAX_REPORTED: Final = 20
_NONE = ResourceTotal(0, 0, 0)


def compare_resource_days(conn: Connection, *, tenant_id: uuid.UUID) -> ResourceDifference:
    """Compare the tenant's counters, totals (events, changes and actors) and pairs with a
    count of the events the consumer has reached,
    all read in one snapshot (``conn`` must not have begun: its transaction is made
    REPEATABLE READ on PostgreSQL; on SQLite a read transaction is one snapshot). Reads
    every such event once."""
    one_snapshot(conn)
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    r, c = resource_days.c, events.c
    stored = {
        ResourceDay(rt, int(day), rid, action): int(n)
        for rt, day, rid, action, n in conn.execute(
            select(r.resource_type, r.day, r.resource_id, r.action, r.events).where(
                r.tenant_id == tenant_id
            )
        )
    }
    day = DAY.slot_of(c.timestamp, conn.dialect.name)
    actual = {
        ResourceDay(rt, int(d), rid, action): int(n)
        for rt, d, rid, action, n in conn.execute(
            select(c.resource_type, day, c.resource_id, c.action, func.count())
            .where(c.tenant_id == tenant_id, c.seq <= through, c.resource_id.is_not(None))
            .group_by(c.resource_type, day, c.resource_id, c.action)
        )
    }
    differing = sorted(k for k in set(stored) | set(actual) if stored.get(k) != actual.get(k))
    stored_pairs, actual_pairs = _pairs(conn, tenant_id, through)
    t = resource_totals.c
    totals = {
        (rt, rid): ResourceTotal(int(n), int(changes), int(actors))
        for rt, rid, n, changes, actors in conn.execute(
            select(t.resource_type, t.resource_id, t.events, t.changes, t.actors).where(
                t.tenant_id == tenant_id
            )
        )
    }
    per_resource: Counter[tuple[str, str]] = Counter()
    changed: Counter[tuple[str, str]] = Counter()
    for key, n in actual.items():
        per_resource[(key.resource_type, key.resource_id)] += n
        if key.action in CHANGES:
            changed[(key.resource_type, key.resource_id)] += n
    actors = Counter((pair.resource_type, pair.resource_id) for pair in actual_pairs)
    expected = {key: ResourceTotal(n, changed[key], actors[key]) for key, n in per_resource.items()}
    totals_differing = sorted(
        k for k in set(totals) | set(expected) if totals.get(k) != expected.get(k)
    )
    pairs_differing = sorted(
        k
        for k in set(stored_pairs) | set(actual_pairs)
        if not _holds(stored_pairs.get(k), actual_pairs.get(k))
    )
    return ResourceDifference(
        through=through,
        differences=len(differing) + len(totals_differing) + len(pairs_differing),
        examples=[(k, stored.get(k, 0), actual.get(k, 0)) for k in differing[:MAX_REPORTED]],
        total_examples=[
            (k, totals.get(k, _NONE), expected.get(k, _NONE))
            for k in totals_differing[:MAX_REPORTED]
        ],
        pair_examples=[
            (k, stored_pairs.get(k), actual_pairs.get(k)) for k in pairs_differing[:MAX_REPORTED]
        ],
    )


def _pairs(
    conn: Connection, tenant_id: uuid.UUID, through: int
) -> tuple[dict[ResourcePair, PairCount], dict[ResourcePair, PairCount]]:
    """The tenant's stored pairs, and the pairs its events up to ``through`` make."""
    a, c = resource_actors.c, events.c
    stored = {
        ResourcePair(rt, rid, actor): PairCount(int(n), int(first), int(last))
        for rt, rid, actor, n, first, last in conn.execute(
            select(
                a.resource_type, a.resource_id, a.actor, a.events, a.first_day, a.last_day
            ).where(a.tenant_id == tenant_id)
        )
    }
    day = DAY.slot_of(c.timestamp, conn.dialect.name)
    actual = {
        ResourcePair(rt, rid, actor): PairCount(int(n), int(first), int(last))
        for rt, rid, actor, n, first, last in conn.execute(
            select(
                c.resource_type, c.resource_id, ACTOR, func.count(), func.min(day), func.max(day)
            )
            .where(
                c.tenant_id == tenant_id,
                c.seq <= through,
                c.resource_id.is_not(None),
                ACTOR.is_not(None),
            )
            .group_by(c.resource_type, c.resource_id, ACTOR)
        )
    }
    return stored, actual


def _holds(stored: PairCount | None, actual: PairCount | None) -> bool:
    """Whether a stored pair agrees with its events: as many, and its days around theirs
    (a purge leaves them wider)."""
    if stored is None or actual is None:
        return stored is actual
    return (
        stored.events == actual.events
        and stored.first_day <= actual.first_day
        and stored.last_day >= actual.last_day
    )
