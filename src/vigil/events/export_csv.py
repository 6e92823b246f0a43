"""CSV exports, as fast as each engine allows.

The columns, their order and their cells are DESIGN §3's: ids as text, times in UTC with
microseconds and a ``Z``, cells a spreadsheet would evaluate prefixed with ``'``, quoting as
RFC 4180 (a cell holding ``,``, ``"``, CR or LF is quoted, its quotes doubled), rows ending
in CRLF: byte for byte what Python's ``csv`` module writes, except that PostgreSQL writes an
empty text as ``""`` (NULL stays an empty cell). On PostgreSQL the database writes the CSV
(``COPY (SELECT …) TO STDOUT (FORMAT csv)``) and Python only moves bytes; on SQLite raw rows
(no result processing) are formatted by hand.

The SQL below is put together from constants only; the filters are bound parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, literal_column, select

from vigil.events.filters import EventFilters
from vigil.events.service import match
from vigil.events.tables import events
from vigil.events.wire import PUBLIC_FIELDS

CSV_COLUMNS = PUBLIC_FIELDS[:12]  # everything but received_at, in the contract's order
CSV_HEADER = (",".join(CSV_COLUMNS) + "\r\n").encode()
# A spreadsheet would run a cell starting with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
CHUNK_BYTES = 256 * 1024  # about what one chunk of the answer holds

RowCounter = Callable[[int], None]


def csv_chunks(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, on_row_count: RowCounter
) -> Generator[bytes]:
    """The CSV export of the tenant's matching events, newest first, header included, in
    chunks of about ``CHUNK_BYTES``; ``on_row_count`` hears the running row count as each is
    made.

    Raises what the driver raises if the database fails mid-way.
    """
    yield CSV_HEADER
    if conn.dialect.name == "postgresql":
        yield from _postgres_chunks(conn, tenant_id, filters, on_row_count)
    else:
        yield from _sqlite_chunks(conn, tenant_id, filters, on_row_count)


def _newest_first(
    conn: Connection, tenant_id: uuid.UUID, filters: EventFilters, *cells: str
) -> Select[Any]:
    columns: list[ColumnElement[Any]] = [literal_column(cell) for cell in cells]
    return (
        select(*columns)
        .select_from(events)
        .where(*match(conn, tenant_id=tenant_id, filters=filters))
        .order_by(events.c.timestamp.desc(), events.c.id.desc())
    )


# PostgreSQL ---------------------------------------------------------------------------------

# PostgreSQL text cannot hold NUL, so that trigger cannot occur there.
_PG_TRIGGERS = ", ".join(f"chr({ord(t)})" for t in FORMULA_TRIGGERS if t != "\0")


def _pg_guarded(column: str) -> str:
    starts = f"left({column}, 1) IN ({_PG_TRIGGERS})"
    return f"CASE WHEN {starts} THEN '''' || {column} ELSE {column} END"


# COPY quotes the cells itself, and writes NULL as an empty cell.
_PG_CELLS = ", ".join(
    [
        "id::text",
        """to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
        "action",
        "status",
        "resource_type",
        _pg_guarded("resource_id"),
        _pg_guarded("user_id"),
        _pg_guarded("user_email"),
        "ip_address",
        _pg_guarded("user_agent"),
        "country",
        "details",
    ]
)


def _postgres_chunks(
    conn: Connection, tenant_id: uuid.UUID, filters: EventFilters, on_row_count: RowCounter
) -> Generator[bytes]:
    query = _newest_first(conn, tenant_id, filters, _PG_CELLS)
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    # COPY takes no server-side parameters: psycopg binds these on the client, as literals.
    statement = f"COPY ({compiled.string}) TO STDOUT (FORMAT csv)"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement, compiled.params) as copy:
            # Each row arrives as a message of its own ending in LF (a quoted cell may hold
            # line breaks of its own, inside the message): that last LF becomes CRLF.
            rows = 0
            size = 0
            batch: list[bytes] = []
            for message in copy:
                line = bytes(message)
                batch.append(line[:-1])
                size += len(line)
                if size >= CHUNK_BYTES:
                    rows += len(batch)
                    on_row_count(rows)
                    yield b"\r\n".join(batch) + b"\r\n"
                    batch, size = [], 0
            if batch:
                rows += len(batch)
                on_row_count(rows)
                yield b"\r\n".join(batch) + b"\r\n"
    finally:
        cursor.close()


# SQLite -------------------------------------------------------------------------------------
# Stored ids are 16 bytes and times integer microseconds; formatting them, and the few cells
# that need it, in Python beats SQLite's SQL functions (6 µs a row against 8).

_SQLITE_COLUMNS = (
    "id", "timestamp", "action", "status", "resource_type", "resource_id", "user_id",
    "user_email", "ip_address", "user_agent", "country", "details",
)  # fmt: skip
_MICROS_PER_MINUTE = 60_000_000


def _sqlite_chunks(
    conn: Connection, tenant_id: uuid.UUID, filters: EventFilters, on_row_count: RowCounter
) -> Generator[bytes]:
    query = _newest_first(conn, tenant_id, filters, *_SQLITE_COLUMNS)
    result = conn.execution_options(yield_per=500).execute(query)
    minute_text = _MinuteText()
    rows = 0
    size = 0
    batch: list[str] = []
    for part in result.partitions():
        for ident, micros, action, status, resource_type, resource_id, user_id, user_email, \
                ip_address, user_agent, country, details in part:  # fmt: skip
            h = ident.hex()
            minute, rest = divmod(micros, _MICROS_PER_MINUTE)
            second, micro = divmod(rest, 1_000_000)
            batch.append(
                f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]},"
                f"{minute_text(minute)}{second:02d}.{micro:06d}Z,"
                f"{action},{status},{resource_type},"
                f"{_text_cell(resource_id)},{_text_cell(user_id)},{_text_cell(user_email)},"
                f"{ip_address or ''},{_text_cell(user_agent)},{country or ''},"
                f"{_json_cell(details)}\r\n"
            )
        size += sum(map(len, batch[-len(part) :]))
        if size >= CHUNK_BYTES:
            rows += len(batch)
            on_row_count(rows)
            yield "".join(batch).encode()
            batch, size = [], 0
    if batch:
        rows += len(batch)
        on_row_count(rows)
        yield "".join(batch).encode()


class _MinuteText:
    """``YYYY-MM-DDTHH:MM:`` of a minute since the epoch; rows come in time order, so the
    last one made is the one asked for again, nearly always."""

    def __init__(self) -> None:
        self._minute: int | None = None
        self._text = ""

    def __call__(self, minute: int) -> str:
        if minute != self._minute:
            moment = datetime.fromtimestamp(minute * 60, UTC)
            self._minute, self._text = minute, moment.isoformat()[:17]
        return self._text


def _text_cell(text: str | None) -> str:
    # As Python's csv module writes a cell, the formula guard inside any quotes.
    if text is None:
        return ""
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + text
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _json_cell(details: str | None) -> str:
    # Compact JSON on one line, which never starts like a formula ("{").
    if details is None:
        return ""
    if '"' in details:
        return '"' + details.replace('"', '""') + '"'
    return '"' + details + '"' if "," in details else details
