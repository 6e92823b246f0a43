"""Ingest first: while events are committing, the consumers that keep derived data
(``background``) take about a tenth of the time between them; detections keep their
share; once ingest pauses, or once a background consumer has been behind too long, it
catches up without that pause (``spine.turns``). Measured with consumers whose passes
take a known time per event."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

SECONDS_PER_EVENT = 100e-6  # a pass of 400 events takes 40 ms
BACKLOG = 8_000
COMMITS_EVERY = 0.05  # seconds between the pretend ingest's commits
DEADLINE = 60.0


@dataclass(frozen=True, slots=True)
class Pass:
    events: int
    began: float
    ended: float


class TimedCounter(SpanCounter):
    """Takes ``SECONDS_PER_EVENT`` per event of its pass, and keeps each pass's times."""

    gather_seconds = 0.0
    batch_limit = 400

    def __init__(self, name: str, *, background: bool) -> None:
        self.name = name
        self.background = background
        self.passes: list[Pass] = []

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: SeqSpan, now: datetime
    ) -> None:
        events = plan.last_seq - plan.first_seq + 1
        began = time.monotonic()
        time.sleep(events * SECONDS_PER_EVENT)
        self.passes.append(Pass(events, began, time.monotonic()))

    def done(self) -> int:
        return sum(p.events for p in self.passes)


def busy_share(passes: list[Pass]) -> float:
    """The share of the time from the first pass's start to the last one's end spent in
    passes."""
    return sum(p.ended - p.began for p in passes) / (passes[-1].ended - passes[0].began)


@contextmanager
def ingesting(turns: WriteTurns, runners: list[ConsumerRunner]) -> Iterator[None]:
    """Events commit every ``COMMITS_EVERY`` seconds (each heard of, as the writer's are,
    and waking the runners) until the block ends."""
    stop = threading.Event()

    def commits() -> None:
        while not stop.wait(COMMITS_EVERY):
            turns.committed()
            for runner in runners:
                runner.wake()

    turns.committed()
    thread = threading.Thread(target=commits)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def catching_up(runner: ConsumerRunner, tenant_id: uuid.UUID) -> threading.Thread:
    thread = threading.Thread(target=runner.catch_up, kwargs={"only": [tenant_id]})
    thread.start()
    return thread


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {DEADLINE:.0f} s"
        time.sleep(0.02)


@pytest.fixture
def backlog(
    stack: Stack, request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Stack, uuid.UUID]:
    fresh, tenant_id = stack_with_tenant(stack, request, tmp_path)
    record(fresh, tenant_id, [EventIn(action="UPDATE", resource_type="PROJECT")] * BACKLOG)
    return fresh, tenant_id


def test_background_work_takes_a_tenth_of_the_time_while_events_commit_then_catches_up(
    backlog: tuple[Stack, uuid.UUID],
) -> None:
    fresh, tenant_id = backlog
    turns = WriteTurns()
    counter = TimedCounter("slow_rollup", background=True)
    alerts = TimedCounter("slow_alerts", background=False)
    runners = [ConsumerRunner(fresh.engine, c, turns=turns) for c in (counter, alerts)]
    with ingesting(turns, runners):
        threads = [catching_up(runner, tenant_id) for runner in runners]
        wait_for(lambda: len(counter.passes) >= 6, "six background passes")
        # Meanwhile the consumer that must keep up had its share of the time: the
        # write lock's turns give it about half.
        assert alerts.done() == BACKLOG, alerts.done()
        assert busy_share(alerts.passes) > 0.3, alerts.passes
        throttled = list(counter.passes)
        assert busy_share(throttled) < 0.2, throttled
        assert counter.done() < BACKLOG
    # Ingest paused: the rest comes at the write lock's pace alone.
    for thread in threads:
        thread.join(DEADLINE)
    assert counter.done() == BACKLOG
    after = [p for p in counter.passes if p.began > throttled[-1].ended + 1.5]
    assert len(after) >= 2, counter.passes
    assert busy_share(after) > 0.3, after


def test_a_background_consumer_too_far_behind_stops_pausing_for_ingest(
    backlog: tuple[Stack, uuid.UUID],
) -> None:
    fresh, tenant_id = backlog
    turns = WriteTurns(most_behind_seconds=1.5)
    counter = TimedCounter("slow_rollup", background=True)
    runner = ConsumerRunner(fresh.engine, counter, turns=turns)
    with ingesting(turns, [runner]):
        thread = catching_up(runner, tenant_id)
        # Ingest never pauses, yet the whole backlog is consumed: past 1.5 s behind, the
        # passes follow at the write lock's pace.
        wait_for(lambda: counter.done() == BACKLOG, "the whole backlog")
        thread.join(DEADLINE)
    first = counter.passes[0].began
    early = [p for p in counter.passes if p.ended < first + 1.4]
    late = [p for p in counter.passes if p.began > first + 1.6]
    assert busy_share(early) < 0.2, early
    assert len(late) >= 2, counter.passes
    assert busy_share(late) > 0.3, late
