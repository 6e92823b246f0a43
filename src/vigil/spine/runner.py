"""One consumer, on a thread of its own: on each wake it brings every tenant's cursor up to
that tenant's last committed event, a bounded pass at a time.

A pass that raises leaves the cursor where it was: the same events are tried again after
a pause that doubles with each failure (1 s … 5 min), while the consumer goes on with the
other tenants and the other consumers and the writer never notice.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction
from vigil.events.commit_log import events_after, span_after
from vigil.spine import service
from vigil.spine.consumers import Consumer, CountsSpans
from vigil.spine.recent import RecentCommits
from vigil.spine.turns import WriteTurns

log = logging.getLogger(__name__)

# The safety net: look for work this often even if no wake came (a lost notification).
SAFETY_POLL_SECONDS = 5.0
FIRST_RETRY_SECONDS = 1.0
# After a catch-up of this many events, wait this long for more before the next one.
BUSY_EVENTS = 1000
BUSY_GATHER_SECONDS = 0.25
LONGEST_RETRY_SECONDS = 300.0
# SQLite has one write lock for the whole database: a pass should hold it about this long
# at most, so that ingest and the other consumers (an alert waits on one) are held up no
# longer. Passes start at ``FIRST_PASS`` events (or ``batch_limit``, if smaller), then are
# sized from how many events a second of the lock took in the last passes (to
# ``SMALLEST_PASS`` at least, ``batch_limit`` at most).
WRITE_HOLD_SECONDS = 0.25
# While events are committing (``WriteTurns.ingesting``), a request waits for the pass in
# progress: passes then hold the lock this long at most. With 0.25 s passes while the
# rollups and the people tables caught up after a burst, single-event ingest's p99 was
# 190 ms against 26 ms without them.
BUSY_WRITE_HOLD_SECONDS = 0.04
FIRST_PASS = 1_000
SMALLEST_PASS = 200


class ConsumerRunner:
    """Runs ``consumer`` over every tenant's newly committed events."""

    def __init__(
        self,
        engine: Engine,
        consumer: Consumer[Any],
        recent: RecentCommits | None = None,
        *,
        turns: WriteTurns | None = None,
        yield_to_writers: bool = True,
    ) -> None:
        """``turns``: the process's runners take turns at SQLite's write lock
        (``spine.turns``), pausing after each pass; ``yield_to_writers`` False: this runner
        alone, with no pause (a command that catches up while nothing else writes, such as
        ``vigil db index``, goes faster without)."""
        self._engine = engine
        self._consumer = consumer
        self._recent = recent or RecentCommits(capacity_bytes=0)
        self._postgres = engine.dialect.name == "postgresql"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._known: set[uuid.UUID] = set()  # tenants whose cursor row exists
        self._failures: dict[uuid.UUID, int] = {}
        # On PostgreSQL only the consumers that count spans in SQL (the rollups and the
        # people tables, whose passes are the longest) take turns; detections never wait.
        self._counts_spans = isinstance(consumer, CountsSpans)
        # Events per second of SQLite's write lock in the last passes (None before one).
        self._hold_rate: float | None = None
        self._turns = turns or (
            WriteTurns() if yield_to_writers else WriteTurns(share=0.0, background_share=0.0)
        )
        # time.monotonic() of the first commit this runner has not caught up with (None:
        # none); at first, whatever earlier processes left.
        self._waiting_since: float | None = time.monotonic()
        # While a catch-up runs: the oldest commit it is catching up with.
        self._catching_up_since: float | None = None
        self._retry_at: dict[uuid.UUID, float] = {}
        self._thread = threading.Thread(
            target=self._run, name=f"vigil-consumer-{consumer.name}", daemon=True
        )

    @property
    def name(self) -> str:
        """The consumer's name."""
        return self._consumer.name

    def start(self) -> None:
        """Begin, with a first look for work left by an earlier process."""
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        """Something committed: look now (any thread; never blocks)."""
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
        self._wake.set()

    def overdue(self) -> bool:
        """Whether the oldest event this runner is catching up with committed more than
        the turns' ``most_behind_seconds`` ago: a background consumer then runs without
        pausing for ingest until it has caught up (``spine.turns``)."""
        since = self._catching_up_since
        return since is not None and time.monotonic() - since > self._turns.most_behind_seconds

    def stop(self) -> None:
        """Finish the pass in progress, then stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        last_done = 0
        while not self._stop.is_set():
            self._wake.wait(timeout=self._next_look())
            if self._stop.is_set():
                return
            self._wake.clear()
            # Let a stream of small commits share a pass; under heavy ingest, let more of
            # them, since every pass ends in a write transaction the writer then waits for
            # (on SQLite, the one write lock).
            gather = self._consumer.gather_seconds
            if last_done >= BUSY_EVENTS:
                gather = max(gather, BUSY_GATHER_SECONDS)
            if gather:
                self._stop.wait(gather)
            if self._stop.is_set():
                return
            try:
                last_done = self.catch_up()
            except Exception:  # the database is away, say: look again soon
                log.exception("consumer %s could not look for work", self.name)
                self._stop.wait(FIRST_RETRY_SECONDS)

    def _next_look(self) -> float:
        if not self._retry_at:
            return SAFETY_POLL_SECONDS
        soonest = min(self._retry_at.values()) - time.monotonic()
        return min(SAFETY_POLL_SECONDS, max(soonest, 0.0))

    def catch_up(
        self,
        on_pass: Callable[[int], None] | None = None,
        *,
        only: Collection[uuid.UUID] | None = None,
    ) -> int:
        """Run passes until no tenant is behind (or its retry is not due); events consumed.
        ``on_pass`` hears how many events each pass finished (for a progress bar); ``only``
        names the tenants to catch up (default: every tenant)."""
        # What commits from here on is the next catch-up's: this one reads the heads now.
        self._catching_up_since, self._waiting_since = self._waiting_since, None
        done, finished = 0, False
        try:
            with self._engine.connect() as conn:
                behind = service.tenants_behind(conn, consumer=self.name)
            if only is not None:
                behind = [(tenant_id, head) for tenant_id, head in behind if tenant_id in only]
            # A tenant no longer behind (another node caught it up) has no retry pending.
            waiting = {tenant_id for tenant_id, _ in behind}
            for tenant_id in [t for t in self._retry_at if t not in waiting]:
                self._retry_at.pop(tenant_id, None)
                self._failures.pop(tenant_id, None)
            for tenant_id, head in behind:
                # A failing tenant (retried with back-off) does not hold the others' lag
                # clock: its failure shows on its own (``vigil_consumer_failing_tenants``).
                if self._retry_at.get(tenant_id, 0.0) > time.monotonic():
                    continue
                done += self._drain(tenant_id, head, on_pass)
            finished = not self._stop.is_set()
        finally:
            if not (finished and only is None):  # some tenant may still be behind
                left = [t for t in (self._catching_up_since, self._waiting_since) if t]
                if left:
                    self._waiting_since = min(left)
            self._catching_up_since = None
        return done

    def _drain(
        self, tenant_id: uuid.UUID, head: int, on_pass: Callable[[int], None] | None = None
    ) -> int:
        """Passes until the cursor reaches ``head`` (what the tenant had committed when this
        catch-up began; later commits wake the runner again); events consumed."""
        done = 0
        while not self._stop.is_set():
            try:
                consumed, reached = self._pass(tenant_id, head)
            except Exception as error:
                self._failed(tenant_id, error)
                return done
            if tenant_id in self._failures:
                del self._failures[tenant_id]
                self._retry_at.pop(tenant_id, None)
                log.info("consumer %s is moving again for tenant %s", self.name, tenant_id)
            done += consumed
            if on_pass is not None:
                on_pass(consumed)
            if reached is None or reached >= head:
                return done
        return done

    def _pass(self, tenant_id: uuid.UUID, head: int) -> tuple[int, int | None]:
        """One bounded pass over the tenant's next events: how many it finished and the
        ``seq`` it reached; None when there was nothing to do (or another node holds the
        cursor, and will go on). A background consumer's pass waits for its turn after
        the others' (``spine.turns``)."""
        if not self._consumer.background:
            return self._pass_now(tenant_id, head)
        with self._turns.background(self._stop, overdue=self.overdue()):
            return self._pass_now(tenant_id, head)

    def _pass_now(self, tenant_id: uuid.UUID, head: int) -> tuple[int, int | None]:
        now = utcnow()
        if tenant_id not in self._known:
            with write_transaction(self._engine) as conn:
                service.ensure_cursor(conn, tenant_id=tenant_id, consumer=self.name, now=now)
            self._known.add(tenant_id)
        consumer, limit = self._consumer, self._pass_limit()
        if self._postgres:
            # One transaction holding the cursor's row: other nodes skip this tenant until
            # it commits, and a node that dies mid-pass releases it with its connection.
            # The counters take turns (``spine.turns``): no lock to share here, but CPU.
            turn = self._turns.turn(self._stop) if self._counts_spans else nullcontext()
            with turn, write_transaction(self._engine) as conn:
                position = service.claim_cursor(conn, tenant_id=tenant_id, consumer=self.name)
                if position is None:
                    return 0, None
                found = self._next(conn, tenant_id, position, limit, now)
                if found is None:
                    return 0, self._skip_purged(conn, tenant_id, position, head, now)
                count, last, plan = found
                if plan is not None:
                    consumer.apply(conn, tenant_id=tenant_id, plan=plan, now=now)
                moved = service.advance_cursor(
                    conn,
                    tenant_id=tenant_id,
                    consumer=self.name,
                    expected=position,
                    to=last,
                    now=now,
                )
                if not moved:  # cannot happen while the row is locked; never commit if it did
                    raise RuntimeError(f"the cursor of {self.name} moved while claimed")
        else:
            # SQLite has one write lock for the whole file: plan in a read snapshot, then
            # write the plan and move the cursor in a short write transaction, only if no
            # other process moved the cursor meanwhile.
            with self._engine.connect() as conn:
                position = service.cursor_position(conn, tenant_id=tenant_id, consumer=self.name)
                # The plan reads this snapshot: events committed after it began (which the
                # recent commits may already hold) wait for the next pass.
                visible = service.last_seq(conn, tenant_id=tenant_id)
                found = self._next(conn, tenant_id, position, min(limit, visible - position), now)
            if found is None:
                with write_transaction(self._engine) as conn:
                    return 0, self._skip_purged(conn, tenant_id, position, visible, now)
            count, last, plan = found
            with self._turns.turn(self._stop), write_transaction(self._engine) as conn:
                began = time.monotonic()
                moved = service.advance_cursor(
                    conn,
                    tenant_id=tenant_id,
                    consumer=self.name,
                    expected=position,
                    to=last,
                    now=now,
                )
                if not moved:
                    return 0, None
                if plan is not None:
                    consumer.apply(conn, tenant_id=tenant_id, plan=plan, now=now)
            self._held(count, time.monotonic() - began)
        self._recent.passed(reader=self.name, tenant_id=tenant_id, seq=last)
        if plan is not None:
            try:
                consumer.after_commit(plan)
            except Exception:
                log.exception("consumer %s: after-commit step failed", self.name)
        return count, last

    def _pass_limit(self) -> int:
        """Events the next pass may take: ``batch_limit`` on PostgreSQL; on SQLite as many
        as hold the write lock ``WRITE_HOLD_SECONDS``, or ``BUSY_WRITE_HOLD_SECONDS``
        while events are committing, at the rate the last passes took."""
        most = self._consumer.batch_limit
        if self._postgres:
            return most
        if self._hold_rate is None:
            return min(most, FIRST_PASS)
        hold = BUSY_WRITE_HOLD_SECONDS if self._turns.ingesting() else WRITE_HOLD_SECONDS
        return max(SMALLEST_PASS, min(most, int(self._hold_rate * hold)))

    def _held(self, events: int, seconds: float) -> None:
        """A pass of ``events`` held SQLite's write lock ``seconds``: keep the rate for the
        next passes' size (the time grows about in step with the events; half the last
        pass, half those before, so one slow pass does not set it alone)."""
        if events < SMALLEST_PASS or seconds <= 0:
            return  # a pass this small is mostly its fixed cost: it says little of the rate
        rate = events / seconds
        self._hold_rate = rate if self._hold_rate is None else (self._hold_rate + rate) / 2
        log.debug(
            "consumer %s: %d events held the write lock %.3f s; passes of %d now",
            self.name,
            events,
            seconds,
            self._pass_limit(),
        )

    def _skip_purged(
        self, conn: Connection, tenant_id: uuid.UUID, position: int, head: int, now: datetime
    ) -> int | None:
        """Nothing left after ``position``, though the tenant had committed up to ``head``
        (as this pass saw it): those events were purged (retention) before this consumer
        read them. Move the cursor to ``head`` so the tenant stops counting as behind; None
        when there was nothing to skip (or another process moved the cursor first)."""
        if position >= head:
            return None
        moved = service.advance_cursor(
            conn, tenant_id=tenant_id, consumer=self.name, expected=position, to=head, now=now
        )
        if moved:
            log.info("consumer %s skipped purged events %d-%d", self.name, position + 1, head)
        return head if moved else None

    def _next(
        self, conn: Connection, tenant_id: uuid.UUID, position: int, limit: int, now: datetime
    ) -> tuple[int, int, Any] | None:
        """The next pass over the events after ``position`` (at most ``limit``): how many,
        the last one's ``seq``, and the consumer's plan; None when there are none. The
        events come from this process's recent commits when it holds them, from the
        database otherwise; a consumer that ``CountsSpans`` is given their span alone. A
        run from the recent commits may stop where another process's events begin; the
        drain's ``head`` sends it on to those."""
        if limit <= 0:
            return None
        consumer = self._consumer
        held = self._recent.after(tenant_id=tenant_id, after_seq=position, limit=limit)
        if isinstance(consumer, CountsSpans):
            if held:
                first, last, count = held[0]["seq"], held[-1]["seq"], len(held)
            else:
                span = span_after(conn, tenant_id=tenant_id, after_seq=position, limit=limit)
                if span is None:
                    return None
                first, last, count = span
            plan = consumer.plan_span(
                conn, tenant_id=tenant_id, first_seq=first, last_seq=last, now=now
            )
            return count, last, plan
        batch = held or events_after(conn, tenant_id=tenant_id, after_seq=position, limit=limit)
        if not batch:
            return None
        plan = consumer.plan(conn, tenant_id=tenant_id, events=batch, now=now)
        return len(batch), batch[-1]["seq"], plan

    def _failed(self, tenant_id: uuid.UUID, error: Exception) -> None:
        # The first line only: the rest of a database error quotes the statement's
        # parameters, which are event data.
        said = (str(error).splitlines() or [""])[0]
        failures = self._failures.get(tenant_id, 0) + 1
        self._failures[tenant_id] = failures
        wait = min(FIRST_RETRY_SECONDS * 2 ** min(failures - 1, 16), LONGEST_RETRY_SECONDS)
        self._retry_at[tenant_id] = time.monotonic() + wait
        log.exception(
            "consumer %s failed for tenant %s (%d in a row); retrying in %.0f s",
            self.name, tenant_id, failures, wait, exc_info=error,
        )  # fmt: skip
        try:
            with write_transaction(self._engine) as conn:
                service.note_failure(
                    conn,
                    tenant_id=tenant_id,
                    consumer=self.name,
                    error=f"{type(error).__name__}: {said}",
                    now=utcnow(),
                )
        except Exception:
            log.warning("could not note the failure of consumer %s", self.name, exc_info=True)
