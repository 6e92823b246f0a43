"""On SQLite a consumer's pass holds the one write lock, and a request that arrives during
it waits: passes are sized to hold it about 0.25 s, and about 40 ms while events are
committing. Measured with a consumer whose writes take a known time per event."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection

from tests.conftest import Stack
from tests.integration.test_rollup_counts import record, stack_with_tenant
from vigil.events.schemas import EventIn
from vigil.spine.consumers import SeqSpan, SpanCounter
from vigil.spine.runner import ConsumerRunner
from vigil.spine.turns import WriteTurns

SECONDS_PER_EVENT = 50e-6  # the lock held 50 µs per event: 0.25 s is 5,000 events


class SlowCounter(SpanCounter):
    """Holds the write lock ``SECONDS_PER_EVENT`` per event of its pass, and keeps each
    pass's size."""

    name = "slow_counter"
    gather_seconds = 0.0
    background = False
    batch_limit = 20_000

    def __init__(self) -> None:
        self.passes: list[int] = []

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: SeqSpan, now: datetime
    ) -> None:
        events = plan.last_seq - plan.first_seq + 1
        self.passes.append(events)
        time.sleep(events * SECONDS_PER_EVENT)


def test_passes_hold_sqlite_write_lock_briefly_while_events_commit(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path)
    backlog = [EventIn(action="CREATE", resource_type="PROJECT")] * 15_000
    record(fresh, tenant_id, backlog)
    consumer = SlowCounter()
    turns = WriteTurns(share=0.0, background_share=0.0)  # no pauses: the sizes alone
    runner = ConsumerRunner(fresh.engine, consumer, turns=turns)
    if stack.backend == "postgresql":
        # No lock a writer waits for: a pass takes all it may.
        runner.wake()
        assert runner.catch_up(only=[tenant_id]) == 15_000
        assert consumer.passes == [15_000]
        return

    # Nothing committing: passes grow from 1,000 events to about 0.25 s of the lock.
    assert runner.catch_up(only=[tenant_id]) == 15_000
    assert consumer.passes[0] == 1_000
    assert 3_500 <= max(consumer.passes) <= 6_500, consumer.passes

    # Events committing (each heard of and waking the runner): about 40 ms of the lock,
    # 800 events.
    record(fresh, tenant_id, backlog)
    consumer.passes.clear()
    stop = threading.Event()

    def ingest() -> None:
        while not stop.wait(0.1):
            turns.committed()
            runner.wake()

    waker = threading.Thread(target=ingest)
    turns.committed()
    runner.wake()
    waker.start()
    try:
        assert runner.catch_up(only=[tenant_id]) == 15_000
    finally:
        stop.set()
        waker.join()
    assert max(consumer.passes) <= 1_300, consumer.passes
    assert len(consumer.passes) >= 10, consumer.passes
