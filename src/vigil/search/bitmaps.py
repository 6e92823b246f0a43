"""The search index's bitmaps (``search_bitmaps``): for every key, the set of the tenant's
indexed events holding it, as Roaring bitmaps (Lemire et al., "Roaring Bitmaps:
Implementation of an Optimized Software Library", 2018; stored in the portable format of
the Roaring format specification) in chunks of 65,536 seqs.

A key is a value of the dictionary (its digest, as ``search_terms.digest``), a value of a
column the list filters compare exactly (``action=DELETE``, ``user_id=u-42``, …), or
``ALL_EVENTS``. Counting the events that pass a search and filters is then unions and
intersections of a few bitmaps chunk by chunk (``search.counting``): milliseconds at 10M
events, where walking the events that pass the filters and testing each one's text reads
hundreds of thousands of rows.

They are kept by the ``search_index`` consumer in the pass that moves its cursor, and a
purge takes its events out of them (``search.service.forget_events``), so every bitmap
holds exactly the indexed events that hold its key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from pyroaring import BitMap
from sqlalchemy import Connection

from vigil.events.search_text import SEGMENT
from vigil.events.tables import EventRow
from vigil.search.terms import digest

CHUNK_BITS: Final = 16
_LOW_BITS: Final = (1 << CHUNK_BITS) - 1
# The columns whose values have bitmaps: those a list filter or a query's field compares
# with ``=``. Each is named as the events table names it.
FACET_COLUMNS: Final = ("action", "resource_type", "status", "country", "user_id", "user_email")
_READ_KEYS = 500  # keys per statement when the indexer reads bitmaps back
# Chunks one count reads in a statement: with a query's keys (``MAX_COUNTED_KEYS`` at most),
# well under the 32,766 parameters SQLite takes in one statement.
CHUNKS_PER_READ = 256


def facet_key(column: str, value: str) -> bytes:
    """The key of the events whose ``column`` is ``value`` (one of ``FACET_COLUMNS``).

    A dictionary value never holds ``SEGMENT`` (it separates them), so no facet's key is
    a value's."""
    return digest(f"{SEGMENT}{column}{SEGMENT}{value}")


# Every event holds it: the set a search with nothing but exclusions starts from.
ALL_EVENTS: Final = digest(f"{SEGMENT}*")


def event_facets(row: EventRow) -> Iterator[bytes]:
    """The keys of an event's columns (``FACET_COLUMNS`` with a value), and ``ALL_EVENTS``."""
    yield ALL_EVENTS
    for column in FACET_COLUMNS:
        value = row[column]
        if value is not None:
            yield facet_key(column, str(value))


def chunk_of(seq: int) -> int:
    """The chunk holding ``seq``."""
    return seq >> CHUNK_BITS


def seqs_in(chunk: int, bits: BitMap) -> Iterator[int]:
    """The seqs a chunk's bitmap holds, in order."""
    base = chunk << CHUNK_BITS
    return (base | low for low in bits)


def add_events(conn: Connection, *, tenant_id: uuid.UUID, held: Mapping[bytes, list[int]]) -> None:
    """Add to each key's bitmaps the seqs ``held`` gives it (``{key: [seq, …]}``)."""
    _change(conn, tenant_id, held, adding=True)


def remove_events(
    conn: Connection, *, tenant_id: uuid.UUID, held: Mapping[bytes, list[int]]
) -> None:
    """Take from each key's bitmaps the seqs ``held`` gives it; a chunk left empty goes."""
    _change(conn, tenant_id, held, adding=False)


def read_bitmaps(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    keys: Sequence[bytes],
    through: int,
    chunks: Sequence[int],
) -> dict[bytes, dict[int, BitMap]]:
    """``{key: {chunk: bitmap}}`` of ``keys`` in ``chunks`` (``CHUNKS_PER_READ`` at most),
    holding only seqs up to ``through`` (a key with no event there has no entry; a chunk
    past ``through`` is not read). Bitmaps written after ``through`` was read are cut back
    to it, so a count reads the index as of ``through`` and the events after it itself.
    One statement, so one snapshot of the index even on PostgreSQL's READ COMMITTED: a
    purge between two reads would count its events in one key's bitmaps and not in
    another's. Raises ``ValueError`` for more than ``CHUNKS_PER_READ`` chunks."""
    spanned = sorted({chunk for chunk in chunks if chunk <= chunk_of(through)})
    if len(spanned) > CHUNKS_PER_READ:
        raise ValueError(f"read {CHUNKS_PER_READ} chunks at a time, not {len(spanned)}")
    if not spanned or not keys:
        return {}
    wanted = list(dict.fromkeys(keys))
    marker = _marker(conn)
    statement = _SELECT.format(marker, _markers(marker, spanned), _markers(marker, wanted))
    found: dict[bytes, dict[int, BitMap]] = {}
    rows = conn.exec_driver_sql(statement, (_tenant(conn, tenant_id), *spanned, *wanted))
    for key, chunk, bits in rows:
        bitmap = BitMap.deserialize(bytes(bits))
        if chunk == chunk_of(through):
            bitmap.remove_range((through & _LOW_BITS) + 1, _LOW_BITS + 1)
        found.setdefault(bytes(key), {})[int(chunk)] = bitmap
    return found


def _change(
    conn: Connection, tenant_id: uuid.UUID, held: Mapping[bytes, Sequence[int]], *, adding: bool
) -> None:
    offsets: dict[tuple[bytes, int], list[int]] = {}
    for key, seqs in held.items():
        for seq in seqs:
            offsets.setdefault((key, seq >> CHUNK_BITS), []).append(seq & _LOW_BITS)
    if not offsets:
        return
    stored = _stored(conn, tenant_id, offsets)
    written: list[tuple[bytes, int, bytes]] = []
    emptied: list[tuple[bytes, int]] = []
    for (key, chunk), lows in offsets.items():
        bitmap = stored.get((key, chunk))
        if adding:
            if bitmap is None:
                bitmap = BitMap(lows)
            else:
                bitmap.update(lows)
        elif bitmap is None:
            continue  # nothing of it was indexed
        else:
            bitmap.difference_update(BitMap(lows))
            if not bitmap:
                emptied.append((key, chunk))
                continue
        written.append((key, chunk, bitmap.serialize()))
    _write(conn, tenant_id, written, emptied)


# Written at the driver's level: a pass writes thousands of rows, and SQLAlchemy's
# processing of each one's parameters cost more than the database's work (measured at 1M
# events: 15% of a rebuild). Each database's own upsert (PostgreSQL; SQLite 3.24 and later).
_UPSERT = (
    "INSERT INTO search_bitmaps (tenant_id, key, chunk, bits) VALUES ({0}, {0}, {0}, {0}) "
    "ON CONFLICT (tenant_id, chunk, key) DO UPDATE SET bits = excluded.bits"
)
_DELETE = "DELETE FROM search_bitmaps WHERE tenant_id = {0} AND chunk = {0} AND key = {0}"
# Chunks and keys both as lists: a range of chunks would leave the keys to be tested on
# every row of them, not looked up.
_SELECT = (
    "SELECT key, chunk, bits FROM search_bitmaps "
    "WHERE tenant_id = {0} AND chunk IN ({1}) AND key IN ({2})"
)


def _marker(conn: Connection) -> str:
    """The driver's parameter marker: ``?`` for sqlite3, ``%s`` for psycopg."""
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _markers(marker: str, values: Sequence[object]) -> str:
    return ", ".join([marker] * len(values))


def _tenant(conn: Connection, tenant_id: uuid.UUID) -> Any:
    """The tenant id as the driver takes it (``UUIDType``: 16 bytes on SQLite)."""
    return tenant_id.bytes if conn.dialect.name == "sqlite" else tenant_id


def _stored(
    conn: Connection, tenant_id: uuid.UUID, wanted: Mapping[tuple[bytes, int], object]
) -> dict[tuple[bytes, int], BitMap]:
    """The stored bitmaps of the (key, chunk) pairs ``wanted``."""
    keys = list(dict.fromkeys(key for key, _ in wanted))
    chunks = sorted({chunk for _, chunk in wanted})
    marker = _marker(conn)
    tenant = _tenant(conn, tenant_id)
    found: dict[tuple[bytes, int], BitMap] = {}
    for start in range(0, len(keys), _READ_KEYS):
        part = keys[start : start + _READ_KEYS]
        statement = _SELECT.format(marker, _markers(marker, chunks), _markers(marker, part))
        rows = conn.exec_driver_sql(statement, (tenant, *chunks, *part))
        for key, chunk, bits in rows:
            pair = (bytes(key), int(chunk))
            if pair in wanted:
                found[pair] = BitMap.deserialize(bytes(bits))
    return found


def _write(
    conn: Connection,
    tenant_id: uuid.UUID,
    written: list[tuple[bytes, int, bytes]],
    emptied: list[tuple[bytes, int]],
) -> None:
    marker = _marker(conn)
    tenant = _tenant(conn, tenant_id)
    if written:
        rows = [(tenant, key, chunk, bits) for key, chunk, bits in written]
        conn.exec_driver_sql(_UPSERT.format(marker), rows)
    if emptied:
        rows_gone = [(tenant, chunk, key) for key, chunk in emptied]
        conn.exec_driver_sql(_DELETE.format(marker), rows_gone)
