"""Engines and transactions: SQLite tuned for WAL, PostgreSQL through psycopg 3."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode is durable against application crashes; only a power cut
    # can lose the last transactions, which is the usual trade for an embedded store.
    "PRAGMA synchronous=NORMAL",
    # Each commit of realistic events dirties one leaf page per distinct user, resource and
    # address in the indexes; checkpointing every 40 MB instead of 4 MB copies a page that
    # several commits touched once instead of each time (ingest measured 44 → 31 µs/event).
    "PRAGMA wal_autocheckpoint=10000",
    "PRAGMA journal_size_limit=67108864",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    # 8 MiB of page cache per connection (the operating system caches the file as well): the
    # pools hold a couple of dozen connections, and their caches are the server's memory.
    # (The event writer's connection takes more: see ``WRITER_CACHE_MIB``.)
    "PRAGMA cache_size=-8192",
)
# The event writer's page cache. Each commit of realistic events dirties a leaf page per
# distinct user, resource and address in the indexes, thousands of pages; with 8 MiB they
# were written out and read back in the middle of a transaction. 64 MiB holds a commit of
# 20,000 events (batch ingest measured +10%); it fills only as the indexes grow.
WRITER_CACHE_MIB = 64


POSTGRES_KEEPALIVES = (
    "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
)


def build_engine(
    url: str,
    *,
    pool_size: int = 8,
    max_overflow: int | None = None,
    checkpoint_on_commit: bool = True,
    cache_mib: int | None = None,
) -> Engine:
    """An engine for ``url``; SQLite files get WAL and explicit transaction control.

    ``max_overflow`` (default: ``pool_size``) extra connections open under load.
    ``checkpoint_on_commit=False`` leaves SQLite's WAL checkpoints to a ``WalCheckpointer``;
    ``cache_mib`` sets each SQLite connection's page cache in MiB (default 8). Both are
    ignored on PostgreSQL.
    """
    overflow = pool_size if max_overflow is None else max_overflow
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(
            url,
            pool_size=pool_size,
            max_overflow=overflow,
            checkpoint_on_commit=checkpoint_on_commit,
            cache_mib=cache_mib,
        )
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        # The server notices a node that vanished (cut off, not closed) within about a
        # minute, and lets go of what its transaction held (a consumer's cursor, say),
        # instead of after the operating system's two hours.
        connect_args={"options": POSTGRES_KEEPALIVES},
    )


def _sqlite_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    checkpoint_on_commit: bool,
    cache_mib: int | None,
) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=pool_size,
        max_overflow=max_overflow,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself, so writers can
        # take the write lock up front instead of failing to upgrade it later.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        if not checkpoint_on_commit:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        if cache_mib is not None:
            cursor.execute(f"PRAGMA cache_size={-1024 * int(cache_mib)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("vigil_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def one_snapshot(conn: Connection) -> Connection:
    """``conn`` (not begun yet) made to read one snapshot of the database for the whole
    transaction: REPEATABLE READ on PostgreSQL; on SQLite a read transaction is one
    snapshot already. For answers added up from several tables that consumers update as
    events commit (counters, their cursors, the events past them)."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed on success, rolled back on error.

    On SQLite the transaction takes the write lock at its start (``BEGIN IMMEDIATE``), so
    it never fails later trying to upgrade a read lock.
    """
    with engine.connect() as conn:
        conn.execution_options(vigil_write=True)
        with conn.begin():
            yield conn


class WalCheckpointer:
    """Checkpoints a SQLite WAL from a thread of its own, twice a second.

    Left to SQLite, the commit that crosses the threshold copies the whole WAL back into
    the database before it returns, so one request in a few hundred waits tens of
    milliseconds. Here that copying happens beside the writer instead of in its way.
    """

    INTERVAL_SECONDS = 0.5

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigil-wal-checkpoint", daemon=True)

    def start(self) -> None:
        """Begin checkpointing."""
        self._thread.start()

    def stop(self) -> None:
        """Checkpoint one last time and stop."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        connection = self._engine.raw_connection()
        try:
            while not self._stop.wait(self.INTERVAL_SECONDS):
                self._checkpoint(connection, "PASSIVE")
            self._checkpoint(connection, "TRUNCATE")
        finally:
            connection.close()

    @staticmethod
    def _checkpoint(connection: Any, mode: str) -> None:
        try:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA wal_checkpoint({mode})")
            cursor.close()
        except Exception:  # a busy database is retried on the next tick
            log.debug("WAL checkpoint %s skipped", mode, exc_info=True)
