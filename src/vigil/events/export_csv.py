"""CSV exports written by the database itself: the fastest way either engine can stream them.

The columns, their order and their cells are DESIGN §3's: ids as text, times in UTC with
microseconds and a ``Z``, cells a spreadsheet would evaluate prefixed with ``'``, quoting as
RFC 4180 (a cell holding ``,``, ``"``, CR or LF is quoted, its quotes doubled), rows ending
in CRLF. Python only moves bytes: on PostgreSQL ``COPY (SELECT …) TO STDOUT (FORMAT csv)``,
on SQLite one text line per row built in SQL.

The SQL below is put together from constants only; the filters are bound parameters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator
from typing import Any

from sqlalchemy import Connection, Select, String, literal_column, select

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
    chunks of about ``CHUNK_BYTES``; ``on_row_count`` hears the running row count after each.

    Raises what the driver raises if the database fails mid-way.
    """
    yield CSV_HEADER
    if conn.dialect.name == "postgresql":
        yield from _postgres_chunks(conn, tenant_id, filters, on_row_count)
    else:
        yield from _sqlite_chunks(conn, tenant_id, filters, on_row_count)


def _newest_first(
    conn: Connection, tenant_id: uuid.UUID, filters: EventFilters, cells: str
) -> Select[Any]:
    return (
        select(literal_column(cells, String))
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
                    yield b"\r\n".join(batch) + b"\r\n"
                    on_row_count(rows)
                    batch, size = [], 0
            if batch:
                rows += len(batch)
                yield b"\r\n".join(batch) + b"\r\n"
                on_row_count(rows)
    finally:
        cursor.close()


# SQLite -------------------------------------------------------------------------------------

_SQLITE_TRIGGERS = ", ".join(str(ord(t)) for t in FORMULA_TRIGGERS)


def _sqlite_text(column: str) -> str:
    # As Python's csv module writes a cell, the formula guard inside any quotes: NULL and
    # plain text bare; text holding a comma, a quote, CR or LF quoted, its quotes doubled.
    guard = f"CASE WHEN unicode({column}) IN ({_SQLITE_TRIGGERS}) THEN '''' ELSE '' END"
    special = (
        f"instr({column}, '\"') OR instr({column}, ',') "
        f"OR instr({column}, char(10)) OR instr({column}, char(13))"
    )
    return (
        f"CASE WHEN {column} IS NULL THEN '' "
        f"WHEN {special} THEN '\"' || {guard} || replace({column}, '\"', '\"\"') || '\"' "
        f"ELSE {guard} || {column} END"
    )


def _sqlite_json(column: str) -> str:
    # details: compact JSON on one line, which never starts like a formula ("{").
    return (
        f"CASE WHEN {column} IS NULL THEN '' "
        f"WHEN instr({column}, '\"') OR instr({column}, ',') "
        f"THEN '\"' || replace({column}, '\"', '\"\"') || '\"' ELSE {column} END"
    )


# The 16 stored id bytes as 8-4-4-4-12 lowercase hex; integer microseconds as UTC text (the
# remainder taken non-negative, so times before 1970 come out right too).
_SQLITE_UUID = " || '-' || ".join(
    f"lower(hex(substr(id, {start}, {length})))"
    for start, length in ((1, 4), (5, 2), (7, 2), (9, 2), (11, 6))
)
_SQLITE_MICROS = "((timestamp % 1000000 + 1000000) % 1000000)"
_SQLITE_TIME = (
    f"strftime('%Y-%m-%dT%H:%M:%S', (timestamp - {_SQLITE_MICROS}) / 1000000, 'unixepoch') "
    f"|| printf('.%06dZ', {_SQLITE_MICROS})"
)
_SQLITE_LINE = (
    " || ',' || ".join(
        [
            _SQLITE_UUID,
            _SQLITE_TIME,
            "action",
            "status",
            "resource_type",
            _sqlite_text("resource_id"),
            _sqlite_text("user_id"),
            _sqlite_text("user_email"),
            "coalesce(ip_address, '')",
            _sqlite_text("user_agent"),
            "coalesce(country, '')",
            _sqlite_json("details"),
        ]
    )
    + " || char(13, 10)"
)


def _sqlite_chunks(
    conn: Connection, tenant_id: uuid.UUID, filters: EventFilters, on_row_count: RowCounter
) -> Generator[bytes]:
    query = _newest_first(conn, tenant_id, filters, _SQLITE_LINE)
    lines = conn.execution_options(yield_per=2000).execute(query).scalars()
    rows = 0
    size = 0
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            rows += len(batch)
            yield "".join(batch).encode()
            on_row_count(rows)
            batch, size = [], 0
    if batch:
        rows += len(batch)
        yield "".join(batch).encode()
        on_row_count(rows)
