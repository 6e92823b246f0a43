"""Turns for one process's consumers: at SQLite's one write lock, and, for the work that
may fall behind, at the cores ingest needs.

**The write lock.** Each consumer's runner paused after a pass that held the lock, so
that the writer waiting on it got a turn; but with several consumers catching up at once
(after a burst of ingest, the search index, the rollups and the people tables all are),
one's pause was another's pass, and ingest found the lock held nearly all the time:
single-event ingest fell from 1,350 to 275 events/s, p99 from 34 ms to 1 s. The runners
of one process take turns: one pass at a time, and after a pass that held the lock some
time, none for a share of that time, whoever's turn is next. (The pause stays when
nothing is committing: a writer that has just begun to wait for the lock has not
committed yet, and SQLite's busy handler, polling, rarely finds the lock free between
passes that follow each other at once.)

**Ingest first.** Detections must keep up with every event: an alert cannot wait. The
rest (rollups, people tables, search index: ``Consumer.background``) only keeps derived
data that the reads complete with the events past its cursor, so it can wait. Counting
every event as it came took 18% off batch ingest and 47% off single events on SQLite
(17% and 19% on PostgreSQL), where the target is 10% at most (BENCHMARKS.md). While
events are committing, background passes run one at a time, each followed by a pause
``BACKGROUND_SHARE`` times as long as it took (plan and write alike: on two cores the
cost is the CPU, not only the lock), so together they take about a tenth of the time
(a pause is 5 s at most, so a pass longer than half a second gets a larger share).
Once ingest pauses for ``INGEST_SECONDS`` they run back to back. So that sustained
ingest cannot leave them ever further behind, a runner whose oldest waiting event is
more than ``MOST_BEHIND_SECONDS`` old does not pause until it has caught up
(``ConsumerRunner.overdue``).

This is the idea of PostgreSQL's cost-based vacuum delay (``vacuum_cost_delay``):
maintenance sleeps in proportion to the work it did, so the foreground keeps its pace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Final

# After a pass that held the write lock H seconds, no consumer's pass begins for
# ``SHARE`` x H, ``LONGEST_SECONDS`` at most: consumers hold the lock half the time at
# most while they catch up, and the writer waits a pass (about 0.25 s) at worst.
SHARE: Final = 1.0
LONGEST_SECONDS: Final = 0.25
# After a background pass of P seconds while events are committing, no background pass
# begins for ``BACKGROUND_SHARE`` x P (``BACKGROUND_LONGEST_SECONDS`` at most): a tenth
# of the time for all of them together.
BACKGROUND_SHARE: Final = 9.0
BACKGROUND_LONGEST_SECONDS: Final = 5.0
# Events are committing when one committed within this many seconds.
INGEST_SECONDS: Final = 1.0
# A background consumer whose oldest waiting event is older than this stops pausing.
MOST_BEHIND_SECONDS: Final = 30.0


class WriteTurns:
    """Turns at the write lock and at background work for one process's consumers (any
    thread)."""

    def __init__(
        self,
        *,
        share: float = SHARE,
        longest_seconds: float = LONGEST_SECONDS,
        background_share: float = BACKGROUND_SHARE,
        most_behind_seconds: float = MOST_BEHIND_SECONDS,
    ) -> None:
        """``share`` and ``background_share`` 0: passes follow each other with no pause (a
        command catching up while nothing else writes). ``most_behind_seconds``: how old
        a background consumer's oldest waiting event may grow before it stops pausing."""
        self.most_behind_seconds = most_behind_seconds
        self._share = share
        self._longest = longest_seconds
        self._background_share = background_share
        self._lock = threading.Lock()  # one pass at a time at the write lock
        self._background = threading.Lock()  # one background pass at a time
        self._free_at = 0.0  # time.monotonic() when the next pass may begin
        self._background_free_at = 0.0  # ... and the next background pass
        self._committed_at = float("-inf")  # time.monotonic() of the last commit heard of

    def committed(self) -> None:
        """Events committed (this process's writer, or on PostgreSQL any node's)."""
        self._committed_at = time.monotonic()

    def ingesting(self) -> bool:
        """Whether events committed in the last ``INGEST_SECONDS``."""
        return time.monotonic() - self._committed_at < INGEST_SECONDS

    @contextmanager
    def turn(self, stop: threading.Event) -> Iterator[None]:
        """Wait for this consumer's turn at the write lock (cut short when ``stop`` is
        set), hold it for the block, then keep the others out for their pause."""
        with self._lock:
            _wait_until(self._free_at, stop)
            began = time.monotonic()
            try:
                yield
            finally:
                held = time.monotonic() - began
                self._free_at = time.monotonic() + min(held * self._share, self._longest)

    @contextmanager
    def background(self, stop: threading.Event, *, overdue: bool) -> Iterator[None]:
        """A background consumer's whole pass. While events are committing (and it is not
        ``overdue``, too far behind to wait), it waits until no other background pass runs
        and the last one's pause is over; after it, while events are committing, the
        background passes pause ``background_share`` times as long as it took. With
        nothing committing, it runs at once, beside the others (on PostgreSQL a catch-up
        uses every core)."""
        gated = not overdue and self.ingesting()
        with self._background if gated else nullcontext():
            if gated:
                _wait_until(self._background_free_at, stop)
            began = time.monotonic()
            try:
                yield
            finally:
                took = time.monotonic() - began
                # An overdue pass is not paused for: it does not shorten the others' turns.
                if gated and self.ingesting():
                    pause = min(took * self._background_share, BACKGROUND_LONGEST_SECONDS)
                    self._background_free_at = max(
                        self._background_free_at, time.monotonic() + pause
                    )


def _wait_until(moment: float, stop: threading.Event) -> None:
    """Sleep until ``time.monotonic()`` reaches ``moment`` or ``stop`` is set."""
    rest = moment - time.monotonic()
    if rest > 0:
        stop.wait(rest)
