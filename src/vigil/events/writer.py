"""Group commit: concurrent requests share one transaction, answered only after it commits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from vigil.core.clock import utcnow
from vigil.core.errors import ServiceUnavailable
from vigil.events.service import BatchOutcome, PendingBatch, store_batches
from vigil.events.tables import EventRow

log = logging.getLogger(__name__)

JOIN_SECONDS = 0.002
JOIN_STEP_SECONDS = 0.0002

# Told the new rows of each group that committed (the spine hands them to its consumers);
# it must be quick and must not raise into the writer.
CommitListener = Callable[[list[EventRow]], None]


@dataclass(slots=True)
class _Submission:
    batch: PendingBatch
    future: asyncio.Future[BatchOutcome]


class EventWriter:
    """One writer per process: drains whatever requests queued while the last commit ran."""

    def __init__(self, engine: Engine, *, max_group_events: int = 20_000) -> None:
        self._engine = engine
        self._max_group_events = max_group_events
        self._queue: asyncio.Queue[_Submission | None] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-writer")
        self._conn: Connection | None = None  # used on the executor's one thread only
        self._usual_group = 1.0
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[CommitListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: set[asyncio.Task[BatchOutcome]] = set()

    def add_listener(self, listener: CommitListener) -> None:
        """Call ``listener`` after each commit that stored new events."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start draining the queue."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="vigil-event-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
            self._task = None
        self._executor.submit(self._close_connection).result()
        self._executor.shutdown(wait=True)

    async def submit(self, batch: PendingBatch) -> BatchOutcome:
        """Queue a batch and wait until it is committed (or refused)."""
        if self._task is None:
            raise ServiceUnavailable("the event writer is not running")
        future: asyncio.Future[BatchOutcome] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Submission(batch, future))
        return await future

    def submit_from_thread(
        self, batch: PendingBatch, *, timeout: float = 30.0
    ) -> BatchOutcome | None:
        """``submit`` for code outside the event loop (streamed exports, for one).

        Waits for the commit, except when called on the loop's own thread (a generator
        finalised there), where waiting would deadlock: then it only queues the batch.
        """
        if self._loop is None:
            raise ServiceUnavailable("the event writer is not running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            task = self._loop.create_task(self.submit(batch))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return None
        future = asyncio.run_coroutine_threadsafe(self.submit(batch), self._loop)
        return future.result(timeout=timeout)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            await self._let_others_join()
            group = [first]
            size = len(first.batch.events)
            while size < self._max_group_events and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                group.append(item)
                size += len(item.batch.events)
            # The usual number of requests per group, slowly following the load.
            self._usual_group += (len(group) - self._usual_group) / 8
            batches = [s.batch for s in group]
            try:
                outcomes = await loop.run_in_executor(self._executor, self._commit, batches)
            except Exception as error:
                log.exception("event write failed for %d batches", len(group))
                failure = ServiceUnavailable(f"events could not be stored: {type(error).__name__}")
                for submission in group:
                    if not submission.future.done():
                        submission.future.set_exception(failure)
                continue
            new_rows: list[EventRow] = []
            for submission, outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, BatchOutcome) and outcome.conflict is None:
                    new_rows += [
                        r for r, new in zip(outcome.rows, outcome.created, strict=True) if new
                    ]
                if submission.future.done():  # the client went away; the write stands
                    continue
                if isinstance(outcome, BatchOutcome):
                    submission.future.set_result(outcome)
                else:
                    submission.future.set_exception(outcome)
            if new_rows:
                self._notify(new_rows)

    async def _let_others_join(self) -> None:
        """Hold the group open a moment when it is much smaller than groups have lately
        been: a commit answers many clients at once, their next requests arrive close
        together, and one that came a little early would otherwise take a commit of its
        own, halving what the next commit carries. Never longer than ``JOIN_SECONDS``; with
        a single client (groups of one) it never waits."""
        deadline = time.monotonic() + JOIN_SECONDS
        while self._queue.qsize() + 1 < self._usual_group / 2 and time.monotonic() < deadline:
            await asyncio.sleep(JOIN_STEP_SECONDS)

    def _commit(self, batches: list[PendingBatch]) -> list[BatchOutcome | Exception]:
        try:
            return list(self._store(batches))
        except Exception:
            # Another node may have stored one of these producer ids between our check and
            # our insert, or one batch holds something the database refuses: try again
            # batch by batch, so a conflict is seen for what it is and a bad batch fails alone.
            log.warning("group of %d batches failed; storing them one by one", len(batches))
        results: list[BatchOutcome | Exception] = []
        for batch in batches:
            try:
                results.extend(self._store([batch]))
            except Exception:
                log.exception("a batch of %d events could not be stored", len(batch.events))
                # The database's words can quote the rows: they stay in the log.
                results.append(ServiceUnavailable("events could not be stored; retry later"))
        return results

    def _store(self, batches: list[PendingBatch]) -> list[BatchOutcome]:
        # The writer keeps its connection from one group to the next: checking one out of
        # the pool (with its liveness ping) cost a round trip per commit. A failed group
        # drops it, and the next group connects afresh.
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(vigil_write=True)
        try:
            with self._conn.begin():
                return store_batches(self._conn, batches=batches, received_at=utcnow())
        except Exception:
            self._close_connection()
            raise

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
