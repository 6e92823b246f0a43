"""Counts from the activity rollups equal counting the events wherever the rollups' cursor
stands, over ranges on and off the hour, before 1970 and in every bucket; and a retention
purge racing a pass of the rollups leaves every counter exact."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.integration.test_cli import run_vigil
from tests.integration.test_spine import fresh_stack
from vigil.analytics import rollup_counts
from vigil.analytics.buckets import Bucket, Unit
from vigil.analytics.rollup_check import compare_rollups
from vigil.analytics.rollups import CONSUMER_NAME, RollupConsumer
from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction
from vigil.events import counts
from vigil.events.commit_log import events_after
from vigil.events.filters import EventFilters
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.jobs import purge_expired
from vigil.events.schemas import Action, EventIn, ResourceType, Status
from vigil.events.service import record_many
from vigil.spine.runner import ConsumerRunner
from vigil.spine.service import advance_cursor, claim_cursor, ensure_cursor, last_seq
from vigil.tenants.service import create_tenant

BUCKETS = [
    Bucket(Unit.HOUR),
    Bucket(Unit.DAY),
    Bucket(Unit.WEEK),
    Bucket(Unit.MONTH),
    Bucket(Unit.YEAR),
    Bucket(Unit.YEAR, 100),
]
CONSUMER = RollupConsumer()


def stack_with_tenant(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path, *, retention_days: int = 0
) -> tuple[Stack, uuid.UUID]:
    """A migrated database with no server (nothing counts but the test) and a tenant."""
    fresh = fresh_stack(stack, request, tmp_path)
    with write_transaction(fresh.engine) as conn:
        tenant = create_tenant(conn, name="rollups", retention_days=retention_days)
    return fresh, tenant["id"]


def record(fresh: Stack, tenant_id: uuid.UUID, events: list[EventIn]) -> None:
    for start in range(0, len(events), 200):
        with write_transaction(fresh.engine) as conn:
            record_many(
                conn, tenant_id=tenant_id, events=events[start : start + 200], geo=NO_GEOLOCATION
            )


def count_up_to(fresh: Stack, tenant_id: uuid.UUID, seq: int) -> None:
    """One pass of the rollups up to ``seq``, as the runner makes it."""
    with write_transaction(fresh.engine) as conn:
        ensure_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=utcnow())
        through = claim_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
        assert through is not None
        assert through < seq
        rows = events_after(conn, tenant_id=tenant_id, after_seq=through, limit=seq - through)
        plan = CONSUMER.plan(conn, tenant_id=tenant_id, events=rows, now=utcnow())
        assert plan is not None
        CONSUMER.apply(conn, tenant_id=tenant_id, plan=plan, now=utcnow())
        assert advance_cursor(
            conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, expected=through, to=seq,
            now=utcnow(),
        )  # fmt: skip


def moments(rng: random.Random, now: datetime) -> list[datetime]:
    """Times on, just before and just after hours, before 1970 and in year 1, and at random."""
    anchors = [
        datetime(1969, 12, 31, 23, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1, 3, 1, 1, tzinfo=UTC),
        now.replace(minute=0, second=0, microsecond=0) - timedelta(days=3),
    ]
    nudges = [timedelta(0), timedelta(microseconds=-1), timedelta(microseconds=1)]
    found = [a + n for a in anchors for n in (*nudges, timedelta(minutes=30), timedelta(hours=1))]
    found += [rng.choice(anchors) + timedelta(days=rng.uniform(-30, 3)) for _ in range(300)]
    return [m for m in found if m.year >= 1 and m <= now]


def whole(moment: datetime, unit: str) -> datetime:
    """The start of ``moment``'s ``unit``: "hour", or "day" (in UTC)."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour if unit == "hour" else hour.replace(hour=0)


def test_counts_equal_counting_the_events_wherever_the_cursor_stands(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path)
    rng = random.Random(7)
    now = utcnow()
    times = moments(rng, now)
    rng.shuffle(times)
    record(
        fresh,
        tenant_id,
        [
            EventIn(
                action=rng.choice([Action.CREATE, Action.UPDATE, Action.LOGIN]),
                resource_type=rng.choice([ResourceType.PROJECT, ResourceType.USER]),
                status=rng.choice([Status.SUCCESS, Status.FAILED]),
                timestamp=moment,
            )
            for moment in times
        ],
    )
    head = len(times)
    compared = 0
    for reached in (0, head // 3, 2 * head // 3, head):
        if reached:
            count_up_to(fresh, tenant_id, reached)
        with fresh.engine.connect() as conn:
            for _ in range(25):
                a, b = sorted(rng.sample(times, 2))
                start = rng.choice([a, whole(a, "hour"), whole(a, "day"), None])
                end = rng.choice([b, whole(b, "hour"), whole(b, "day"), None])
                if start is not None and end is not None and start >= end:
                    continue
                filters = EventFilters(
                    start=start,
                    end=end,
                    status=rng.choice([None, Status.FAILED]),
                    actions=rng.choice([(), (Action.CREATE, Action.LOGIN)]),
                )
                for bucket in BUCKETS:
                    read = counts.count_by_kind_and_slot(
                        conn, tenant_id=tenant_id, filters=filters, slot_of=bucket.slot_of
                    )
                    # By hour, and by day where every slot is whole days.
                    for whole_days in {False, bucket.whole_days}:
                        rolled = rollup_counts.count_by_kind_and_slot(
                            conn, tenant_id=tenant_id, filters=filters, slot_of=bucket.slot_of,
                            whole_days=whole_days,
                        )  # fmt: skip
                        assert sorted(rolled) == sorted(read), (reached, filters, bucket)
                        compared += 1
            assert compare_rollups(conn, tenant_id=tenant_id).agrees
    assert compared > 300


def old_and_new(now: datetime) -> list[EventIn]:
    """30 events older than a 10-day retention, then 20 within it."""
    return [
        EventIn(action=Action.CREATE, resource_type=ResourceType.PROJECT, timestamp=now - age)
        for age in [timedelta(days=20)] * 30 + [timedelta(days=1)] * 20
    ]


def test_a_purge_between_a_pass_s_plan_and_its_write_leaves_exact_counters(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """On SQLite a pass plans outside the write lock; a purge may commit in between."""
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path, retention_days=10)
    now = utcnow()
    record(fresh, tenant_id, old_and_new(now))
    with fresh.engine.connect() as conn:
        rows = events_after(conn, tenant_id=tenant_id, after_seq=0, limit=100)
        plan = CONSUMER.plan(conn, tenant_id=tenant_id, events=rows, now=now)
    assert plan is not None
    with write_transaction(fresh.engine) as conn:
        assert purge_expired(conn, tenant_id=tenant_id, retention_days=10, now=now) == 30
    with write_transaction(fresh.engine) as conn:
        ensure_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=now)
        CONSUMER.apply(conn, tenant_id=tenant_id, plan=plan, now=now)
        assert advance_cursor(
            conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, expected=0, to=50, now=now
        )
    with fresh.engine.connect() as conn:
        assert compare_rollups(conn, tenant_id=tenant_id).agrees
        counted = rollup_counts.count_by_kind_and_slot(
            conn, tenant_id=tenant_id, filters=EventFilters(), slot_of=BUCKETS[0].slot_of
        )
    assert sum(kind.events for kind in counted) == 20


def test_a_purge_before_the_rollups_begin_holds_their_first_pass(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A purge of a tenant the rollups have not counted yet (no cursor): their first pass
    must not count the events the purge is deleting (PostgreSQL runs the two at once)."""
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path, retention_days=10)
    now = utcnow()
    record(fresh, tenant_id, old_and_new(now))
    runner = ConsumerRunner(fresh.engine, RollupConsumer(), yield_to_writers=False)
    if fresh.backend == "postgresql":
        with write_transaction(fresh.engine) as conn:
            assert purge_expired(conn, tenant_id=tenant_id, retention_days=10, now=now) == 30
            # The first pass starts while the deletion is not committed: it must wait for
            # it (or leave the tenant to a later pass), never count what is being deleted.
            first = threading.Thread(target=runner.catch_up)
            first.start()
            first.join(timeout=2)
        first.join(timeout=30)
        assert not first.is_alive()
    else:  # SQLite's one write lock keeps them apart
        with write_transaction(fresh.engine) as conn:
            assert purge_expired(conn, tenant_id=tenant_id, retention_days=10, now=now) == 30
    runner.catch_up()
    with fresh.engine.connect() as conn:
        assert last_seq(conn, tenant_id=tenant_id) == 50
        found = compare_rollups(conn, tenant_id=tenant_id)
        assert found.agrees, found
        assert found.through == 50
        counted = rollup_counts.count_by_kind_and_slot(
            conn, tenant_id=tenant_id, filters=EventFilters(), slot_of=BUCKETS[0].slot_of
        )
    assert sum(kind.events for kind in counted) == 20


def test_check_names_a_wrong_counter_and_rebuild_mends_it(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path)
    now = (utcnow() - timedelta(hours=1)).replace(minute=30)  # a half hour gone by
    record(
        fresh,
        tenant_id,
        [
            EventIn(action=Action.DELETE, resource_type=ResourceType.MODEL, timestamp=now)
            for _ in range(300)
        ],
    )
    count_up_to(fresh, tenant_id, 300)
    with write_transaction(fresh.engine) as conn:  # damage a counter, as a bad restore could
        conn.exec_driver_sql("UPDATE activity_hours SET events = events + 7")
    check = run_vigil(fresh, "rollups", "check", "--tenant", "rollups")
    assert check.returncode == 1
    assert "rollups: 1 counters disagree" in check.stderr
    hour = now.strftime("%Y-%m-%dT%H:00:00.000000Z")
    assert f"{hour} DELETE MODEL SUCCESS: counted 307, events 300" in check.stderr

    rebuilt = run_vigil(fresh, "rollups", "rebuild", "--tenant", "rollups")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "activity rollups: 300 events counted" in rebuilt.stderr
    assert "resource rollups: 300 events counted" in rebuilt.stderr
    again = run_vigil(fresh, "rollups", "check", "--tenant", "rollups")
    assert again.returncode == 0, again.stderr
    assert "rollups: rollups agree with the events they have counted" in again.stderr
    assert "not counted yet" not in again.stderr
    record(fresh, tenant_id, [EventIn(action=Action.LOGIN, resource_type=ResourceType.USER)])
    behind = run_vigil(fresh, "rollups", "check", "--tenant", "rollups")
    assert behind.returncode == 0, behind.stderr
    assert "1 committed since not counted yet" in behind.stderr
    unknown = run_vigil(fresh, "rollups", "check", "--tenant", "no-such-tenant")
    assert unknown.returncode == 1
    assert "tenant 'no-such-tenant' not found" in unknown.stderr
