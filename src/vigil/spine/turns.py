"""SQLite's one write lock, shared between a process's consumers and its writer.

Each consumer's runner paused after a pass that held the lock, so that the writer waiting
on it got a turn; but with several consumers catching up at once (after a burst of
ingest, the search index, the rollups and the people tables all are), one's pause was
another's pass, and ingest found the lock held nearly all the time: single-event ingest
fell from 1,350 to 275 events/s, p99 from 34 ms to 1 s. The runners of one process now
take turns: one pass at a time, and after a pass that held the lock some time, none for
a share of that time, whoever's turn is next.

On PostgreSQL there is no lock to share, but the cores are: with the rollups and the
people tables all catching up after a burst, single-event ingest fell from 1,361 to 709
events/s (p99 from 29 to 146 ms). There the consumers that count in SQL take turns too,
pausing as long as their pass took, a second at most (``spine.dispatcher``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

# After a pass that held the write lock H seconds, no consumer's pass begins for
# ``SHARE`` x H, ``LONGEST_SECONDS`` at most: consumers hold the lock half the time at
# most while they catch up, and the writer waits a pass (about 0.25 s) at worst.
SHARE: Final = 1.0
LONGEST_SECONDS: Final = 0.25


class WriteTurns:
    """Turns at the write lock for one process's consumers (any thread)."""

    def __init__(self, *, share: float = SHARE, longest_seconds: float = LONGEST_SECONDS) -> None:
        """``share`` 0: passes follow each other with no pause (a command catching up
        while nothing else writes)."""
        self._share = share
        self._longest = longest_seconds
        self._lock = threading.Lock()
        self._free_at = 0.0  # time.monotonic() when the next pass may begin

    @contextmanager
    def turn(self, stop: threading.Event) -> Iterator[None]:
        """Wait for this consumer's turn (cut short when ``stop`` is set), hold it for the
        block, then keep the others out for their pause."""
        with self._lock:
            rest = self._free_at - time.monotonic()
            if rest > 0:
                stop.wait(rest)
            began = time.monotonic()
            try:
                yield
            finally:
                held = time.monotonic() - began
                self._free_at = time.monotonic() + min(held * self._share, self._longest)
