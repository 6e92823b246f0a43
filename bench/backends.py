"""The two databases, seen raw: fresh databases, bulk and single-row inserts, replayed SQL.

Everything here bypasses Vigil (plain ``sqlite3`` and ``psycopg``), which is what makes it
the baseline: the same rows, table and indexes, without HTTP, validation or SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.dataset import Event
from bench.rows import COLUMNS, column_list, postgres_row, sqlite_row
from vigil.db.engine import SQLITE_PRAGMAS
from vigil.testing.postgres import Cluster

_COLUMN_LIST = column_list(COLUMNS)
# Built from the constant column names only, never from input.
_SQLITE_INSERT = f"INSERT INTO events ({_COLUMN_LIST}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
_POSTGRES_INSERT = (
    f"INSERT INTO events ({_COLUMN_LIST}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"  # noqa: S608
)
_POSTGRES_COPY = f"COPY events ({_COLUMN_LIST}) FROM STDIN"


class Backend(ABC):
    """One database engine: how to make a database, load it and query it without Vigil."""

    name: str

    @abstractmethod
    def new_database(self, label: str) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""

    @abstractmethod
    def connect(self, url: str) -> Any:
        """A raw DB-API connection in autocommit mode."""

    @abstractmethod
    def row(self, event: Event, tenant_id: uuid.UUID, seq: int) -> tuple[Any, ...]:
        """The stored form of ``event`` on this engine, numbered ``seq`` in its tenant."""

    @abstractmethod
    def insert_batches(self, conn: Any, batches: Iterable[list[tuple[Any, ...]]]) -> None:
        """Insert each batch in its own transaction, the engine's fastest way."""

    @abstractmethod
    def insert_one(self, conn: Any, row: tuple[Any, ...]) -> None:
        """Insert one row in its own transaction."""

    @abstractmethod
    def stream(self, conn: Any, statement: str, params: Any) -> Iterator[tuple[Any, ...]]:
        """Run a query and yield its rows without holding them all."""

    def fetch_all(self, conn: Any, statement: str, params: Any) -> list[tuple[Any, ...]]:
        """Run a query and fetch every row."""
        return list(conn.execute(statement, params).fetchall())

    def analyze(self, conn: Any) -> None:
        """Refresh the planner's statistics."""
        conn.execute("ANALYZE")

    @abstractmethod
    def version(self, conn: Any) -> str:
        """The engine's version."""

    @abstractmethod
    def explain(self, conn: Any, statement: str, params: Any) -> str:
        """The plan the engine picks for a query, as text."""

    @abstractmethod
    def size_mb(self, conn: Any) -> float:
        """Space the events table and its indexes take, in MiB."""


class SQLiteBackend(Backend):
    """Database files in a temporary directory, with the PRAGMAs Vigil's engine sets."""

    name = "sqlite"

    def __init__(self, root: Path) -> None:
        self._root = root

    def new_database(self, label: str) -> str:
        return f"sqlite:///{self._root / f'{label}.db'}"

    def connect(self, url: str) -> sqlite3.Connection:
        conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            conn.execute(pragma)
        return conn

    def row(self, event: Event, tenant_id: uuid.UUID, seq: int) -> tuple[Any, ...]:
        return sqlite_row(event, tenant_id.bytes, seq)

    def insert_batches(self, conn: Any, batches: Iterable[list[tuple[Any, ...]]]) -> None:
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_SQLITE_INSERT, batch)
            conn.execute("COMMIT")

    def insert_one(self, conn: Any, row: tuple[Any, ...]) -> None:
        self.insert_batches(conn, [[row]])

    def stream(self, conn: Any, statement: str, params: Any) -> Iterator[tuple[Any, ...]]:
        yield from conn.execute(statement, params)  # SQLite steps row by row anyway

    def version(self, conn: Any) -> str:
        return sqlite3.sqlite_version

    def explain(self, conn: Any, statement: str, params: Any) -> str:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params).fetchall()
        return "; ".join(str(step[-1]) for step in plan)

    def size_mb(self, conn: Any) -> float:
        # The whole file: SQLite has only this table of any size.
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        return round(pages * page_size / 2**20, 1)


class PostgresBackend(Backend):
    """Databases on the benchmark's throwaway cluster; bulk loads through COPY."""

    name = "postgresql"

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster

    def new_database(self, label: str) -> str:
        return self._cluster.create_database(label)

    def connect(self, url: str) -> psycopg.Connection[Any]:
        parsed = make_url(url)
        return psycopg.connect(
            host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database,
            autocommit=True,
        )  # fmt: skip

    def row(self, event: Event, tenant_id: uuid.UUID, seq: int) -> tuple[Any, ...]:
        return postgres_row(event, tenant_id, seq)

    def insert_batches(self, conn: Any, batches: Iterable[list[tuple[Any, ...]]]) -> None:
        for batch in batches:
            with conn.transaction(), conn.cursor() as cur, cur.copy(_POSTGRES_COPY) as copy:
                for row in batch:
                    copy.write_row(row)

    def insert_one(self, conn: Any, row: tuple[Any, ...]) -> None:
        conn.execute(_POSTGRES_INSERT, row)

    def stream(self, conn: Any, statement: str, params: Any) -> Iterator[tuple[Any, ...]]:
        # A server-side cursor fetching 2,000 rows at a time, as Vigil's export does.
        with conn.transaction(), conn.cursor(name="bench_stream") as cur:
            cur.itersize = 2000
            cur.execute(statement, params)
            yield from cur

    def analyze(self, conn: Any) -> None:
        # VACUUM too: autovacuum would otherwise start on the freshly loaded table in the
        # middle of the query benchmark; this is the state it leaves the table in.
        conn.execute("VACUUM (ANALYZE) events")

    def version(self, conn: Any) -> str:
        return str(conn.execute("SHOW server_version").fetchone()[0])

    def explain(self, conn: Any, statement: str, params: Any) -> str:
        plan = conn.execute(f"EXPLAIN {statement}", params).fetchall()
        return "; ".join(line[0].strip() for line in plan)

    def size_mb(self, conn: Any) -> float:
        size = int(conn.execute("SELECT pg_total_relation_size('events')").fetchone()[0])
        return round(size / 2**20, 1)
