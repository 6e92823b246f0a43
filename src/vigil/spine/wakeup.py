"""Hearing that events committed, in this process or any other.

PostgreSQL: a connection of its own runs ``LISTEN vigil_events``; the transaction that
numbers events sends ``NOTIFY`` (``events.sequence``), delivered to every node once it
commits. SQLite: ``PRAGMA data_version`` changes whenever another connection, in any
process, commits to the file; a thread reads it every 50 ms. Either way the runners then
look at the cursors, so a missed signal costs time, never events.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine

from vigil.events.sequence import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

Wake = Callable[[], None]


class CommitWatcher(ABC):
    """A thread that calls ``wake`` when something may have committed."""

    def __init__(self, wake: Wake, *, name: str) -> None:
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Begin watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (within about a second)."""
        self._stop.set()
        self._thread.join(timeout=10)

    @abstractmethod
    def _run(self) -> None:
        """Watch until stopped."""


class PostgresListener(CommitWatcher):
    """``LISTEN`` for the commits of every node; reconnects (and wakes) after a failure."""

    def __init__(self, engine: Engine, wake: Wake) -> None:
        super().__init__(wake, name="vigil-listen")
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)

    def _run(self) -> None:
        pause = 1.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    pause = 1.0
                    self._wake()  # whatever committed while nobody listened
                    while not self._stop.is_set():
                        heard = False
                        for _ in conn.notifies(timeout=1.0):
                            heard = True
                            break  # one wake for however many arrived together
                        if heard:
                            self._wake()
            except Exception as error:  # whatever it was, listen again: never die silently
                log.warning("listening for commits failed (%s); again in %.0f s", error, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)


class SqliteWatcher(CommitWatcher):
    """Polls ``PRAGMA data_version`` of the database file every ``INTERVAL_SECONDS``."""

    INTERVAL_SECONDS = 0.05

    def __init__(self, engine: Engine, wake: Wake) -> None:
        super().__init__(wake, name="vigil-watch-commits")
        database = engine.url.database
        if not database or database == ":memory:":
            raise ValueError("an in-memory SQLite database cannot be watched across connections")
        self._path = database

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            seen = None
            while not self._stop.wait(self.INTERVAL_SECONDS):
                try:
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:
                    log.debug("reading data_version failed", exc_info=True)
                    continue
                if version != seen:
                    seen = version
                    self._wake()
        finally:
            conn.close()


def watcher_for(engine: Engine, wake: Wake) -> CommitWatcher:
    """The watcher that suits the engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresListener(engine, wake)
    return SqliteWatcher(engine, wake)
