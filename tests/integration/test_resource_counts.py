"""The dashboard's top resources from the resource rollups equal counting the events,
wherever the consumer's cursor stands, over wide ranges (the few resources that can rank,
found by their totals) and narrow ones (every resource's days), and after a purge."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from tests.conftest import Stack
from tests.integration.test_rollup_counts import record, stack_with_tenant
from vigil.analytics import resource_counts
from vigil.analytics.resource_check import compare_resource_days
from vigil.analytics.resource_rollups import CONSUMER_NAME, ResourceRollupConsumer
from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction
from vigil.events import counts
from vigil.events.commit_log import events_after
from vigil.events.filters import EventFilters
from vigil.events.jobs import purge_expired
from vigil.events.schemas import Action, EventIn, ResourceType
from vigil.spine.service import advance_cursor, claim_cursor, ensure_cursor

CONSUMER = ResourceRollupConsumer()
TYPES = [ResourceType.PROJECT, ResourceType.MODEL, ResourceType.USER, ResourceType.ENDPOINT]
ACTIONS = [Action.CREATE, Action.UPDATE, Action.DELETE, Action.LOGIN]


def skewed(rng: random.Random, now: datetime, count: int) -> list[EventIn]:
    """``count`` events over the last 30 days on 600 resources, the n-th most used about
    1/n as often as the first (as activity is), a few naming no resource."""
    resources = [(rng.choice(TYPES), f"r-{n}") for n in range(600)]
    weights = [1 / (n + 1) for n in range(len(resources))]
    found = []
    for _ in range(count):
        resource_type, resource_id = rng.choices(resources, weights)[0]
        found.append(
            EventIn(
                action=rng.choice(ACTIONS),
                resource_type=resource_type,
                resource_id=resource_id if rng.random() > 0.02 else None,
                timestamp=now - timedelta(days=rng.uniform(0, 30)),
            )
        )
    return found


def count_up_to(fresh: Stack, tenant_id: uuid.UUID, seq: int) -> None:
    """One pass of the resource rollups up to ``seq``, as the runner makes it."""
    with write_transaction(fresh.engine) as conn:
        ensure_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=utcnow())
        through = claim_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
        assert through is not None
        rows = events_after(conn, tenant_id=tenant_id, after_seq=through, limit=seq - through)
        plan = CONSUMER.plan(conn, tenant_id=tenant_id, events=rows, now=utcnow())
        assert plan is not None
        CONSUMER.apply(conn, tenant_id=tenant_id, plan=plan, now=utcnow())
        assert advance_cursor(
            conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, expected=through, to=seq,
            now=utcnow(),
        )  # fmt: skip


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL the engine runs meanwhile."""
    ran: list[str] = []

    def seen(*args: Any) -> None:
        ran.append(args[2])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def assert_same_top(
    fresh: Stack, tenant_id: uuid.UUID, filters: EventFilters, now: datetime
) -> None:
    with fresh.engine.connect() as conn:
        for limit in (1, 10, 40):
            rolled = resource_counts.top_resources(
                conn, tenant_id=tenant_id, filters=filters, limit=limit, now=now
            )
            read = counts.top_resources(conn, tenant_id=tenant_id, filters=filters, limit=limit)
            assert rolled == read, (filters, limit)


def test_top_resources_equal_counting_the_events_wherever_the_cursor_stands(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path, retention_days=20)
    rng = random.Random(11)
    now = utcnow()
    record(fresh, tenant_id, skewed(rng, now, 3_000))
    head = 3_000
    for reached in (0, head // 2, head - 7, head):
        if reached:
            count_up_to(fresh, tenant_id, reached)
        for days in (31, 20, 12, 3, 0.5):
            for types in ((), (ResourceType.USER,), (ResourceType.MODEL, ResourceType.PROJECT)):
                start = now - timedelta(days=days, minutes=rng.uniform(0, 600))
                end = rng.choice([None, now - timedelta(hours=rng.uniform(1, 30))])
                filters = EventFilters(start=start, end=end, resource_types=types)
                assert_same_top(fresh, tenant_id, filters, now)
        actions = EventFilters(start=now - timedelta(days=25), actions=(Action.DELETE,))
        assert_same_top(fresh, tenant_id, actions, now)
    with fresh.engine.connect() as conn:
        assert compare_resource_days(conn, tenant_id=tenant_id).agrees

    # The month's top ten, by counting the days of the few resources that can rank: one
    # statement of candidates, not one per resource.
    with statements(fresh.engine) as ran, fresh.engine.connect() as conn:
        top = resource_counts.top_resources(
            conn, tenant_id=tenant_id, filters=EventFilters(start=now - timedelta(days=30)),
            limit=10, now=now,
        )  # fmt: skip
    assert len(top) == 10
    assert sum("candidates" in sql for sql in ran) == 1, ran

    # A purge takes its events off the days and the totals alike.
    with write_transaction(fresh.engine) as conn:
        assert purge_expired(conn, tenant_id=tenant_id, retention_days=20, now=now) > 0
    with fresh.engine.connect() as conn:
        found = compare_resource_days(conn, tenant_id=tenant_id)
    assert found.agrees, found
    for days in (30, 15, 5):
        assert_same_top(fresh, tenant_id, EventFilters(start=now - timedelta(days=days)), now)
