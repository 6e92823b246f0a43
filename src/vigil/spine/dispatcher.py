"""Puts the spine together for a running app: a runner per registered consumer, and the
watcher that wakes them when anything commits."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from vigil.events.tables import EventRow
from vigil.spine.consumers import ConsumerRegistry
from vigil.spine.recent import RecentCommits
from vigil.spine.runner import ConsumerRunner
from vigil.spine.turns import WriteTurns
from vigil.spine.wakeup import watcher_for

POSTGRES_LONGEST_PAUSE = 1.0  # seconds


class Dispatcher:
    """Runs every consumer of ``registry`` beside the writer, never in its way."""

    def __init__(self, engine: Engine, registry: ConsumerRegistry) -> None:
        self._recent = RecentCommits(readers=registry.names())
        # One at a time at SQLite's write lock (``spine.turns``); on PostgreSQL the counters
        # one at a time, pausing as long as a pass took (a second at most), so catching up
        # after a burst takes about half a core at most from ingest.
        postgres = engine.dialect.name == "postgresql"
        turns = WriteTurns(longest_seconds=POSTGRES_LONGEST_PAUSE) if postgres else WriteTurns()
        self._runners = [
            ConsumerRunner(engine, consumer, self._recent, turns=turns) for consumer in registry
        ]
        self._turns = turns
        # PostgreSQL's ``NOTIFY`` comes from the transactions that number events, of any
        # node (and from an alert's live signal, rare enough to leave counted); SQLite's
        # ``data_version`` changes with any commit, the consumers' own included, so there
        # only this process's writer says events are committing.
        self._watcher = watcher_for(engine, self._events_committed if postgres else self.wake)
        self._also: list[Callable[[], None]] = []

    @property
    def recent(self) -> RecentCommits:
        """The rows this process committed a moment ago, for readers beside the consumers."""
        return self._recent

    def also_wake(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` too whenever the consumers are woken (the live feed's hub)."""
        self._also.append(wake)

    def start(self) -> None:
        """Start the runners (each first catches up on what earlier processes left)."""
        for runner in self._runners:
            runner.start()
        self._watcher.start()

    def wake(self) -> None:
        """Events committed: every consumer looks now (any thread; never blocks)."""
        for runner in self._runners:
            runner.wake()
        for wake in self._also:
            wake()

    def committed(self, rows: list[EventRow]) -> None:
        """This process's writer committed ``rows``: keep them for the consumers, wake them."""
        self._recent.add(rows)
        self._events_committed()

    def _events_committed(self) -> None:
        """Events committed: background consumers make way for ingest a while
        (``spine.turns``), and every consumer looks now."""
        self._turns.committed()
        self.wake()

    def stop(self) -> None:
        """Stop watching, let each runner finish its pass, and stop."""
        self._watcher.stop()
        for runner in self._runners:
            runner.stop()
