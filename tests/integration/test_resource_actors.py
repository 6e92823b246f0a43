"""Resource analytics' most active resources, from the rollups' (resource, actor) pairs,
equal counting each resource's distinct actors in the events: wherever the consumer's
cursor stands, for periods that hold every pair's days (no event read for it) and for
periods that cut through them, and after a purge has left the pairs' days wider."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import Stack, make_database_url
from tests.integration.test_resource_counts import count_up_to, statements
from tests.integration.test_rollup_counts import record, stack_with_tenant
from vigil.analytics.period import Period
from vigil.analytics.resource_check import compare_resource_days
from vigil.analytics.resource_rollups import (
    ACTOR,
    CHANGES,
    CONSUMER_NAME,
    ResourceRollupConsumer,
)
from vigil.analytics.resources import resource_activity
from vigil.analytics.rollup_tables import resource_actors, resource_days, resource_totals
from vigil.core.clock import utcnow
from vigil.db.engine import build_engine, write_transaction
from vigil.db.migrate import upgrade_to, upgrade_to_head
from vigil.events.jobs import purge_expired
from vigil.events.schemas import Action, EventIn, ResourceType
from vigil.events.tables import events
from vigil.spine.consumers import SeqSpan
from vigil.spine.service import advance_cursor, claim_cursor, ensure_cursor
from vigil.tenants.service import create_tenant

DAY_SECONDS = 86_400


def activity(rng: random.Random, count: int) -> list[EventIn]:
    """``count`` events over the last 30 days on 80 projects and a few models, by 60
    actors (some known by email only), the busiest resources and actors the most often; a
    few name no one."""
    now = utcnow()
    actors = [(f"u-{n}", f"u{n}@example.com") for n in range(45)]
    actors += [(None, f"guest{n}@example.com") for n in range(15)]
    resources = [(ResourceType.PROJECT, f"p-{n}") for n in range(80)]
    resources += [(ResourceType.MODEL, f"m-{n}") for n in range(5)]
    found = []
    for _ in range(count):
        user_id, email = rng.choices(actors, [1 / (n + 1) ** 0.6 for n in range(60)])[0]
        resource_type, resource_id = rng.choices(resources, [1 / (n + 1) for n in range(85)])[0]
        if rng.random() < 0.02:
            user_id = email = None
        found.append(
            EventIn(
                action=rng.choice([Action.CREATE, Action.UPDATE, Action.EXPORT]),
                resource_type=resource_type,
                resource_id=resource_id,
                user_id=user_id,
                user_email=email,
                timestamp=now - timedelta(days=rng.uniform(0, 30)),
            )
        )
    return found


def actors_counted(fresh: Stack, tenant_id: uuid.UUID, period: Period) -> dict[str, int]:
    """Each project's distinct actors in ``period``, counted from its events."""
    e = events.c
    with fresh.engine.connect() as conn:
        return {
            resource_id: int(n)
            for resource_id, n in conn.execute(
                select(e.resource_id, func.count(func.distinct(ACTOR)))
                .where(
                    e.tenant_id == tenant_id,
                    e.resource_type == "PROJECT",
                    e.timestamp >= period.start,
                    e.timestamp < period.end,
                )
                .group_by(e.resource_id)
            )
        }


def actions_counted(
    fresh: Stack, tenant_id: uuid.UUID, period: Period
) -> dict[str, dict[str, int]]:
    """Each project's events per action in ``period``, counted from its events."""
    e = events.c
    found: dict[str, dict[str, int]] = {}
    with fresh.engine.connect() as conn:
        for resource_id, action, n in conn.execute(
            select(e.resource_id, e.action, func.count())
            .where(
                e.tenant_id == tenant_id,
                e.resource_type == "PROJECT",
                e.timestamp >= period.start,
                e.timestamp < period.end,
            )
            .group_by(e.resource_id, e.action)
        ):
            found.setdefault(resource_id, {})[action] = int(n)
    return found


def assert_ranked_as_counted(fresh: Stack, tenant_id: uuid.UUID, period: Period) -> None:
    """Every project listed has the actors, events, changes and events per action that
    counting its events gives, and the most active are those with the most actors."""
    expected = actors_counted(fresh, tenant_id, period)
    actions = actions_counted(fresh, tenant_id, period)
    for limit in (1, 5, 12):
        with fresh.engine.connect() as conn:
            ranked = resource_activity(
                conn, tenant_id=tenant_id, resource_type="PROJECT", period=period, limit=limit
            )
        best = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        assert [(r["resource_id"], r["actors"]) for r in ranked["most_active"]] == best, (
            period,
            limit,
        )
        events_of = {rid: sum(by_action.values()) for rid, by_action in actions.items()}
        changes_of = {
            rid: sum(n for action, n in by_action.items() if action in CHANGES)
            for rid, by_action in actions.items()
        }
        most = sorted(events_of, key=lambda rid: (-events_of[rid], rid))[:limit]
        changed = [rid for rid in sorted(changes_of, key=lambda r: (-changes_of[r], r))
                   if changes_of[rid]][:limit]  # fmt: skip
        assert [r["resource_id"] for r in ranked["most_accessed"]] == most, (period, limit)
        assert [r["resource_id"] for r in ranked["most_changed"]] == changed, (period, limit)
        for listed in ranked.values():
            for r in listed:
                assert r["actors"] == expected[r["resource_id"]], (period, r["resource_id"])
                by_action = actions[r["resource_id"]]
                assert r["by_action"] == by_action, (period, r["resource_id"])
                assert r["events"] == sum(by_action.values())
                assert r["changes"] == sum(
                    n for action, n in by_action.items() if action in CHANGES
                )


def test_most_active_resources_equal_counting_their_actors(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path, retention_days=20)
    rng = random.Random(5)
    record(fresh, tenant_id, activity(rng, 2_500))
    today = int(utcnow().timestamp()) // DAY_SECONDS
    periods = [
        Period(today - 40, today),  # every event
        Period(today - 10, today),
        Period(today - 20, today - 5),
        Period(today - 3, today - 3),
    ]
    for reached in (0, 1_200, 2_499, 2_500):
        if reached:
            count_up_to(fresh, tenant_id, reached)
        for period in periods:
            assert_ranked_as_counted(fresh, tenant_id, period)
    with fresh.engine.connect() as conn:
        assert compare_resource_days(conn, tenant_id=tenant_id).agrees

    # A period holding every counted day is ranked from the totals alone, a row per
    # project: no project's actors counted from its events, no pair read, and the days read
    # only for the projects shown.
    with statements(fresh.engine) as ran, fresh.engine.connect() as conn:
        ranked = resource_activity(
            conn, tenant_id=tenant_id, resource_type="PROJECT", period=periods[0], limit=10
        )
    assert len(ranked["most_active"]) == 10
    lowered = [sql.lower() for sql in ran]
    assert not [sql for sql in lowered if "count(distinct" in sql], ran
    assert not [sql for sql in lowered if "from resource_actors" in sql], ran
    days_read = [sql for sql in lowered if "from resource_days" in sql]
    assert len(days_read) == 2, ran  # whether the period holds every day; the shown's days
    assert sum(" in (" in sql for sql in days_read) == 1, ran

    # A purge takes its events off the pairs and leaves their days wider than their events':
    # the rankings stay exact, only counted from the events where the days now straddle.
    with write_transaction(fresh.engine) as conn:
        assert purge_expired(conn, tenant_id=tenant_id, retention_days=20, now=utcnow()) > 0
    with fresh.engine.connect() as conn:
        assert compare_resource_days(conn, tenant_id=tenant_id).agrees
    for period in [Period(today - 25, today), *periods[1:]]:
        assert_ranked_as_counted(fresh, tenant_id, period)


def test_the_check_names_a_pair_that_disagrees_with_its_events(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path)
    record(fresh, tenant_id, activity(random.Random(8), 300))
    count_up_to(fresh, tenant_id, 300)
    a = resource_actors.c
    with write_transaction(fresh.engine) as conn:
        first = conn.execute(
            select(a.resource_id, a.actor, a.first_day).where(a.tenant_id == tenant_id).limit(1)
        ).one()
        conn.execute(
            update(resource_actors)
            .where(a.resource_id == first.resource_id, a.actor == first.actor)
            .values(first_day=first.first_day + 1)  # no longer around its first event
        )
    with fresh.engine.connect() as conn:
        found = compare_resource_days(conn, tenant_id=tenant_id)
    assert not found.agrees
    assert [(k.resource_id, k.actor) for k, _, _ in found.pair_examples] == [
        (first.resource_id, first.actor)
    ]


def test_the_migration_counts_each_resources_changes_and_actors(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    engine = build_engine(make_database_url(stack.backend, request, tmp_root))
    try:
        upgrade_to(engine, "0023")
        with write_transaction(engine) as conn:
            tenant_id = create_tenant(conn, name="before-totals", retention_days=0)["id"]
            mine = {"tenant_id": tenant_id, "resource_type": "PROJECT"}
            days = [("p-1", 1, "CREATE", 2), ("p-1", 2, "UPDATE", 3), ("p-1", 2, "LOGIN", 4),
                    ("p-2", 1, "EXPORT", 5)]  # fmt: skip
            conn.execute(
                resource_days.insert(),
                [{**mine, "resource_id": rid, "day": day, "action": action, "events": n}
                 for rid, day, action, n in days],
            )  # fmt: skip
            totals = [("p-1", 9), ("p-2", 5)]
            conn.execute(
                resource_totals.insert(),
                [{**mine, "resource_id": rid, "events": n} for rid, n in totals],
            )
            pairs = [("p-1", "u-1"), ("p-1", "u-2"), ("p-2", "u-1")]
            conn.execute(
                resource_actors.insert(),
                [{**mine, "resource_id": rid, "actor": actor, "events": 1, "first_day": 1,
                  "last_day": 2} for rid, actor in pairs],
            )  # fmt: skip
        upgrade_to_head(engine)
        t = resource_totals.c
        with engine.connect() as conn:
            found = conn.execute(
                select(t.resource_id, t.events, t.changes, t.actors)
                .where(t.tenant_id == tenant_id)
                .order_by(t.resource_id)
            ).all()
        assert [tuple(row) for row in found] == [("p-1", 9, 5, 2), ("p-2", 5, 0, 1)]
    finally:
        engine.dispose()


# Actors the same string whether they come as an id or an email, events with no actor, and
# one resource id under two types: what could make a pair count twice, or not at all.
MIXED_ACTORS = [("u-1", "a@x.com"), (None, "a@x.com"), ("a@x.com", None), (None, None),
                ("u-2", None), (None, "b@x.com")]  # fmt: skip
MIXED_RESOURCES = [(ResourceType.PROJECT, "p-1"), (ResourceType.MODEL, "p-1"),
                   (ResourceType.PROJECT, "p-2"), (ResourceType.PROJECT, "p-3")]  # fmt: skip


def count_span(fresh: Stack, tenant_id: uuid.UUID, reached: int, seq: int) -> None:
    """One pass of the resource rollups over the seqs after ``reached`` up to ``seq``,
    whatever a purge left of them."""
    with write_transaction(fresh.engine) as conn:
        ensure_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=utcnow())
        assert claim_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME) == reached
        ResourceRollupConsumer().apply(
            conn, tenant_id=tenant_id, plan=SeqSpan(reached + 1, seq), now=utcnow()
        )
        moved = advance_cursor(
            conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, expected=reached, to=seq,
            now=utcnow(),
        )  # fmt: skip
        assert moved


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_totals_stay_exact_through_passes_purges_and_pairs_made_again(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path, seed: int
) -> None:
    """Random steps of events, passes of the consumer up to a random point and purges
    reaching past it: after each, the check agrees and every ranking equals counting."""
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path, retention_days=10)
    rng = random.Random(seed)
    now = utcnow()
    today = int(now.timestamp()) // DAY_SECONDS
    counted = head = 0
    for _ in range(10):
        made = []
        for _ in range(rng.randint(1, 15)):
            user_id, email = rng.choice(MIXED_ACTORS)
            resource_type, resource_id = rng.choice(MIXED_RESOURCES)
            made.append(EventIn(
                action=rng.choice([Action.CREATE, Action.DELETE, Action.EXPORT, Action.LOGIN]),
                resource_type=resource_type, resource_id=resource_id, user_id=user_id,
                user_email=email, timestamp=now - timedelta(days=rng.uniform(0, 12)),
            ))  # fmt: skip
        record(fresh, tenant_id, made)
        head += len(made)
        if rng.random() < 0.7:
            reached, counted = counted, rng.randint(counted + 1, head)
            count_span(fresh, tenant_id, reached, counted)
        if rng.random() < 0.4:
            with write_transaction(fresh.engine) as conn:
                purge_expired(conn, tenant_id=tenant_id, retention_days=rng.randint(2, 11), now=now)
        with fresh.engine.connect() as conn:
            found = compare_resource_days(conn, tenant_id=tenant_id)
        assert found.agrees, found
        for period in (Period(today - 20, today), Period(today - 5, today)):
            assert_ranked_as_counted(fresh, tenant_id, period)
