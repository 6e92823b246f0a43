"""Group commit: concurrent requests share one transaction, answered only after it commits.

The writer is a thread of its own. A transaction starts the moment a request is queued,
not when the event loop next gets round to it: the loop is then usually busy decoding the
requests that arrived together with the first, and waiting for it left the database idle
for a quarter of the time under batch ingest.

On SQLite the open transaction also takes in the requests that queue while it inserts.
There a commit writes every page the group dirtied in the table's seven B-trees, so it is
the costly step; without this, a few busy clients settle into two half groups (one
inserting while the other is decoded) and commit twice as often. On PostgreSQL a group is
fixed when it starts: its transaction takes the tenants' sequence counters in one sorted
statement (``events.sequence``), and taking more later could deadlock with another node.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from vigil.core.clock import utcnow
from vigil.core.errors import ServiceUnavailable
from vigil.events.service import BatchOutcome, PendingBatch, store_batches
from vigil.events.tables import EventRow

log = logging.getLogger(__name__)

JOIN_SECONDS = 0.002
JOIN_STEP_SECONDS = 0.0002
CATCH_UP_SECONDS = 0.01
# A SQLite transaction stops taking in newly queued requests this long after it began, so
# under sustained load the first request of a group waits for at most about this much more.
EXTEND_SECONDS = 0.25

# Told the new rows of each group that committed (the spine hands them to its consumers),
# on the writer's thread; it must be quick, thread-safe, and must not raise into the writer.
CommitListener = Callable[[list[EventRow]], None]

Outcome = BatchOutcome | Exception
# Awaited on the event loop (``submit``) or waited for on another thread (``submit_from_thread``).
_Answer = asyncio.Future[BatchOutcome] | concurrent.futures.Future[BatchOutcome]


@dataclass(slots=True)
class _Submission:
    batch: PendingBatch
    answer: _Answer


class EventWriter:
    """One writer per process: each transaction stores whatever requests queued while the
    last one ran (up to ``max_group_events`` events), and answers them once it commits."""

    def __init__(self, engine: Engine, *, max_group_events: int = 20_000) -> None:
        self._engine = engine
        self._max_group_events = max_group_events
        self._extends = engine.dialect.name == "sqlite"
        # Appended to on any thread under ``_ready``; taken from by the writer's thread
        # alone (deque's popleft is atomic, so draining needs no lock). ``None`` stops it.
        self._queue: deque[_Submission | None] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Connection | None = None  # the writer's thread's alone
        self._usual_group = 1.0
        self._listeners: list[CommitListener] = []

    @property
    def queued(self) -> int:
        """Requests waiting for a transaction, read without the lock (a deque's length is
        atomic): a moment out of date at worst, and never in the writer's way."""
        return len(self._queue)

    def add_listener(self, listener: CommitListener) -> None:
        """Call ``listener`` after each commit that stored new events."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start the writer's thread; answers to ``submit`` go back to the running loop."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="vigil-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Store what is queued, then stop; later submissions are refused."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._enqueue(None)
        await asyncio.to_thread(thread.join)

    async def submit(self, batch: PendingBatch) -> BatchOutcome:
        """Queue a batch and wait until it is committed (or refused).

        Raises ``ServiceUnavailable`` when the writer is not running or the database
        could not store the batch, ``Conflict`` never (it comes back in the outcome).
        """
        if self._thread is None:
            raise ServiceUnavailable("the event writer is not running")
        answer: asyncio.Future[BatchOutcome] = asyncio.get_running_loop().create_future()
        self._enqueue(_Submission(batch, answer))
        return await answer

    def submit_from_thread(
        self, batch: PendingBatch, *, timeout: float = 30.0
    ) -> BatchOutcome | None:
        """``submit`` for code outside the event loop (streamed exports, for one).

        Waits up to ``timeout`` seconds for the commit, except when called on the loop's
        own thread (a generator finalised there), where waiting would stall every other
        request: then it only queues the batch and returns ``None``.
        """
        if self._thread is None or self._loop is None:
            raise ServiceUnavailable("the event writer is not running")
        answer: concurrent.futures.Future[BatchOutcome] = concurrent.futures.Future()
        self._enqueue(_Submission(batch, answer))
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        return None if on_loop else answer.result(timeout=timeout)

    def _enqueue(self, item: _Submission | None) -> None:
        with self._ready:
            self._queue.append(item)
            self._ready.notify()

    # The writer's thread from here on.

    def _run(self) -> None:
        try:
            while (group := self._next_group()) is not None:
                self._write(group)
        finally:
            self._close_connection()
            self._refuse_leftovers()

    def _next_group(self) -> list[_Submission] | None:
        """Wait for a request, then take it with all that queued behind it (``None``: stop)."""
        with self._ready:
            while not self._queue:
                self._ready.wait()
            first = self._queue.popleft()
        if first is None:
            return None
        if not self._extends:
            self._let_the_loop_catch_up()
        self._let_others_join()
        return [first, *self._take_queued(len(first.batch.events))]

    def _let_the_loop_catch_up(self) -> None:
        """Wait (at most ``CATCH_UP_SECONDS``) until the event loop has run what it had
        ready, so the requests it has already read join this group too. For PostgreSQL,
        where a group is fixed when it starts and each commit waits for the disk (1-3 ms),
        commits' sizes are what throughput comes from: starting on the first request alone
        cut single-event ingest from 16 clients by a third. (On SQLite the open transaction
        takes in late requests, so its insert starts at once.)"""
        if self._loop is None:
            return
        caught_up = threading.Event()
        try:
            self._loop.call_soon_threadsafe(caught_up.set)
        except RuntimeError:  # the loop has closed
            return
        caught_up.wait(CATCH_UP_SECONDS)

    def _let_others_join(self) -> None:
        """Hold the group open a moment when it is much smaller than groups have lately
        been: a commit answers many clients at once, their next requests arrive close
        together, and one that came a little early would otherwise take a commit of its
        own, halving what the next commit carries. Never longer than ``JOIN_SECONDS``; with
        a single client (groups of one) it never waits."""
        deadline = time.monotonic() + JOIN_SECONDS
        while len(self._queue) + 1 < self._usual_group / 2 and time.monotonic() < deadline:
            time.sleep(JOIN_STEP_SECONDS)

    def _take_queued(self, size: int) -> list[_Submission]:
        """Queued requests while the group (``size`` events so far) has room; the stop
        marker stays queued, so the group in hand is still stored first."""
        taken: list[_Submission] = []
        while size < self._max_group_events and self._queue:
            head = self._queue[0]
            if head is None:
                break
            self._queue.popleft()
            taken.append(head)
            size += len(head.batch.events)
        return taken

    def _write(self, group: list[_Submission]) -> None:
        try:
            outcomes = self._commit(group)
        except Exception as error:  # a bug, not the database: still answer everyone
            log.exception("event write failed for %d batches", len(group))
            failure = ServiceUnavailable(f"events could not be stored: {type(error).__name__}")
            outcomes = [failure] * len(group)
        # The usual number of requests per group, slowly following the load.
        self._usual_group += (len(group) - self._usual_group) / 8
        self._answer(group, outcomes)
        new_rows: list[EventRow] = []
        for outcome in outcomes:
            if isinstance(outcome, BatchOutcome) and outcome.conflict is None:
                new_rows += [r for r, new in zip(outcome.rows, outcome.created, strict=True) if new]
        if new_rows:
            self._notify(new_rows)

    def _commit(self, group: list[_Submission]) -> list[Outcome]:
        """Store ``group``; one outcome per member, in order. On SQLite the requests taken
        into the open transaction are appended to ``group`` itself."""
        try:
            return list(self._store(group, extend=self._extends))
        except Exception:
            # Another node may have stored one of these producer ids between our check and
            # our insert, or one batch holds something the database refuses: try again
            # batch by batch, so a conflict is seen for what it is and a bad batch fails alone.
            log.warning("group of %d batches failed; storing them one by one", len(group))
        results: list[Outcome] = []
        for submission in group:
            try:
                results.extend(self._store([submission], extend=False))
            except Exception:
                log.exception(
                    "a batch of %d events could not be stored", len(submission.batch.events)
                )
                # The database's words can quote the rows: they stay in the log.
                results.append(ServiceUnavailable("events could not be stored; retry later"))
        return results

    def _store(self, group: list[_Submission], *, extend: bool) -> list[BatchOutcome]:
        # The writer keeps its connection from one group to the next: checking one out of
        # the pool (with its liveness ping) cost a round trip per commit. A failed group
        # drops it, and the next group connects afresh.
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(vigil_write=True)
        conn = self._conn
        try:
            with conn.begin():
                batches = [s.batch for s in group]
                outcomes = store_batches(conn, batches=batches, received_at=utcnow())
                deadline = time.monotonic() + EXTEND_SECONDS
                size = sum(len(b.events) for b in batches)
                while extend and time.monotonic() < deadline:
                    if not (more := self._take_queued(size)):
                        break
                    group += more  # before storing: if the transaction fails, they are retried
                    batches = [s.batch for s in more]
                    size += sum(len(b.events) for b in batches)
                    outcomes += store_batches(conn, batches=batches, received_at=utcnow())
                return outcomes
        except Exception:
            self._close_connection()
            raise

    def _answer(self, group: list[_Submission], outcomes: list[Outcome]) -> None:
        on_loop: list[tuple[_Answer, Outcome]] = []
        for submission, outcome in zip(group, outcomes, strict=True):
            if isinstance(submission.answer, concurrent.futures.Future):
                _settle(submission.answer, outcome)
            else:
                on_loop.append((submission.answer, outcome))
        if on_loop and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                self._loop.call_soon_threadsafe(_settle_all, on_loop)

    def _refuse_leftovers(self) -> None:
        """Answer what was queued after the stop marker, so no caller waits for nothing."""
        refused = ServiceUnavailable("the event writer is not running")
        leftovers = [s for s in self._queue if s is not None]
        self._queue.clear()
        self._answer(leftovers, [refused] * len(leftovers))

    def _close_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:  # already broken: nothing to give back
                log.debug("closing the writer's connection failed", exc_info=True)

    def _notify(self, rows: list[EventRow]) -> None:
        for listener in self._listeners:
            try:
                listener(rows)
            except Exception:
                log.exception("after-commit listener %r failed", listener)


def _settle(answer: _Answer, outcome: Outcome) -> None:
    if answer.done():  # the client went away; the write stands
        return
    if isinstance(outcome, BatchOutcome):
        answer.set_result(outcome)
    else:
        answer.set_exception(outcome)


def _settle_all(answers: list[tuple[_Answer, Outcome]]) -> None:
    for answer, outcome in answers:
        _settle(answer, outcome)
