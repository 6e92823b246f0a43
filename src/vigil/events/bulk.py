"""The ingest hot path: event rows into the table with each driver's fastest bulk insert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from vigil.core.clock import to_micros

# Every column of ``events``, in the order the bulk paths below write them.
INSERT_COLUMNS = (
    "tenant_id", "id", "timestamp", "action", "resource_type", "resource_id", "user_id",
    "user_email", "ip_address", "user_agent", "details", "status", "received_at", "country",
)  # fmt: skip
_COLUMN_LIST = ", ".join(f'"{name}"' for name in INSERT_COLUMNS)
_SQLITE_INSERT = f"INSERT INTO events ({_COLUMN_LIST}) VALUES ({', '.join('?' * 14)})"  # noqa: S608
_POSTGRES_COPY = f"COPY events ({_COLUMN_LIST}) FROM STDIN"


def insert_rows(conn: Connection, *, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows with the driver's fastest bulk path, in the caller's transaction.

    This is the ingest hot path, so it skips SQLAlchemy's per-row parameter processing:
    ``executemany`` with ready-made values on SQLite, ``COPY`` on PostgreSQL.
    """
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, rows)
    else:
        _executemany_sqlite(conn, rows)


def _executemany_sqlite(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    # The same encodings as UUIDType and UTCDateTime: 16 raw bytes, integer microseconds.
    values = [
        (
            row["tenant_id"].bytes,
            row["id"].bytes,
            to_micros(row["timestamp"]),
            row["action"],
            row["resource_type"],
            row["resource_id"],
            row["user_id"],
            row["user_email"],
            row["ip_address"],
            row["user_agent"],
            row["details"],
            row["status"],
            to_micros(row["received_at"]),
            row["country"],
        )
        for row in rows
    ]
    conn.exec_driver_sql(_SQLITE_INSERT, values)


def _copy_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(_POSTGRES_COPY) as copy:
            for row in rows:
                copy.write_row([row[name] for name in INSERT_COLUMNS])
    finally:
        cursor.close()
