"""The span of time each block of a tenant's seqs covers (``search_blocks``): the earliest and
latest ``timestamp`` among its indexed events, in microseconds since the epoch.

A list is newest first by ``timestamp``, which producers set, so the order of seqs (the
order of commits) is not the order of a page: an event sent late has an early timestamp
and a late seq. The bitmaps (``search.bitmaps``) say which events match by seq; these
bounds say which blocks can hold the newest of them, so a page of a search reads the
matches of a few blocks instead of every match (``search.newest``).

The ``search_index`` consumer widens a block's bounds in the pass that indexes its events,
up to the pass's last seq in it (``indexed_through``), or reads them again from the
block's events when the pass does not start where they stop. A pass of an older version of
Vigil, which knows no bounds, leaves the block's later events out of them until the next
pass of this one reads them again; meanwhile a page treats the block as holding events of
any time (``trusted``). A purge leaves the bounds (the events left lie inside them all the
same) but for blocks wholly before the tenant's oldest event, which it deletes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vigil.core.clock import to_micros
from vigil.events.tables import EventRow
from vigil.events.tables import events as events_table
from vigil.search.tables import search_blocks

BLOCK_BITS: Final = 12  # 4,096 seqs: 2,442 blocks at 10M events, 16 to a bitmap chunk


class BlockTimes(NamedTuple):
    """A block, the earliest and latest timestamps of its events in microseconds, and the
    seq up to which every one of its indexed events is inside them."""

    block: int
    first_us: int
    last_us: int
    indexed_through: int


@dataclass(frozen=True, slots=True)
class PassTimes:
    """What a pass of the indexer saw of one block: its events' earliest and latest
    timestamps, and its last seq."""

    first_us: int
    last_us: int
    last_seq: int


def block_of(seq: int) -> int:
    """The block holding ``seq``."""
    return seq >> BLOCK_BITS


def first_seq(block: int) -> int:
    """The lowest seq a block may hold (seqs start at 1)."""
    return max(block << BLOCK_BITS, 1)


def last_seq(block: int) -> int:
    """The highest seq a block spans."""
    return ((block + 1) << BLOCK_BITS) - 1


def trusted(times: BlockTimes, through: int) -> bool:
    """Whether the block's bounds hold every one of its events up to ``through``."""
    return times.indexed_through >= min(last_seq(times.block), through)


def times_of(rows: Iterable[EventRow]) -> dict[int, PassTimes]:
    """``{block: PassTimes}`` of ``rows``' timestamps and seqs."""
    spans: dict[int, PassTimes] = {}
    for row in rows:
        seq = row["seq"]
        block = block_of(seq)
        at = to_micros(row["timestamp"])
        known = spans.get(block)
        if known is None:
            spans[block] = PassTimes(at, at, seq)
        else:
            first, last = min(known.first_us, at), max(known.last_us, at)
            spans[block] = PassTimes(first, last, max(known.last_seq, seq))
    return spans


def widen_blocks(
    conn: Connection, *, tenant_id: uuid.UUID, after_seq: int, spans: Mapping[int, PassTimes]
) -> None:
    """Bring each block's stored bounds up to a pass's ``spans`` (``times_of``: the pass
    read every event after ``after_seq``, the index's cursor before it), in the caller's
    transaction (the pass's, which no purge of the tenant runs beside). Where the pass
    starts where the block's bounds stop (or at the block's start), they are widened to
    take its events in; otherwise (a purge took the events in between, or took the
    block's row, or a pass of an older version left them out) they are read again from
    the block's stored events up to the pass's last seq in it: 4,096 rows at most."""
    if not spans:
        return
    stored = {times.block: times for times in _stored(conn, tenant_id, sorted(spans))}
    rows = []
    for block, seen in spans.items():
        starts = max(after_seq + 1, first_seq(block))
        known = stored.get(block)
        if known is None and starts == first_seq(block):
            first, last = seen.first_us, seen.last_us
        elif known is not None and known.indexed_through >= starts - 1:
            first, last = min(known.first_us, seen.first_us), max(known.last_us, seen.last_us)
        else:
            first, last = _read_again(conn, tenant_id, block, seen)
        rows.append(
            {
                "tenant_id": tenant_id,
                "block": block,
                "first_us": first,
                "last_us": last,
                "indexed_through": seen.last_seq,
            }
        )
    b = search_blocks.c
    upsert = (postgres_insert if conn.dialect.name == "postgresql" else sqlite_insert)(
        search_blocks
    )
    statement = upsert.on_conflict_do_update(
        index_elements=[b.tenant_id, b.block],
        set_={
            "first_us": upsert.excluded.first_us,
            "last_us": upsert.excluded.last_us,
            "indexed_through": upsert.excluded.indexed_through,
        },
    )
    conn.execute(statement, rows)


def _read_again(
    conn: Connection, tenant_id: uuid.UUID, block: int, seen: PassTimes
) -> tuple[int, int]:
    """(first_us, last_us) of the block's stored events up to ``seen.last_seq``, with the
    pass's own (which a purge may have taken since it read them: harmless in a bound)."""
    e = events_table.c
    query = select(func.min(e.timestamp), func.max(e.timestamp)).where(
        e.tenant_id == tenant_id, e.seq.between(first_seq(block), seen.last_seq)
    )
    earliest, latest = conn.execute(query).one()
    first, last = seen.first_us, seen.last_us
    if earliest is not None:
        first, last = min(first, to_micros(earliest)), max(last, to_micros(latest))
    return first, last


def _stored(conn: Connection, tenant_id: uuid.UUID, blocks: Sequence[int]) -> list[BlockTimes]:
    b = search_blocks.c
    query = select(b.block, b.first_us, b.last_us, b.indexed_through).where(
        b.tenant_id == tenant_id, b.block.in_(blocks)
    )
    return [BlockTimes(*map(int, row)) for row in conn.execute(query)]


# Read at the driver's level, like the bitmaps: a page reads every block of the tenant
# (2,442 at 10M events), and SQLAlchemy's processing of each row cost twice the read.
_READ = (
    "SELECT block, first_us, last_us, indexed_through FROM search_blocks"
    " WHERE tenant_id = {0} AND block <= {0} ORDER BY block"
)


def read_blocks(conn: Connection, *, tenant_id: uuid.UUID, through: int) -> list[BlockTimes]:
    """The tenant's stored blocks up to the one holding ``through``, in block order."""
    sqlite = conn.dialect.name == "sqlite"
    statement = _READ.format("?" if sqlite else "%s")
    tenant = tenant_id.bytes if sqlite else tenant_id  # as ``UUIDType`` stores it
    rows = conn.exec_driver_sql(statement, (tenant, block_of(through))).fetchall()
    return list(map(BlockTimes._make, rows))


def oldest_seq(conn: Connection, *, tenant_id: uuid.UUID) -> int | None:
    """The seq of the tenant's oldest stored event; None when it has none."""
    e = events_table.c
    found = conn.execute(select(func.min(e.seq)).where(e.tenant_id == tenant_id)).scalar()
    return None if found is None else int(found)


def forget_blocks_before(conn: Connection, *, tenant_id: uuid.UUID) -> None:
    """Delete the tenant's blocks wholly before its oldest stored event (all of them when
    it has none), after a purge."""
    b = search_blocks.c
    oldest = oldest_seq(conn, tenant_id=tenant_id)
    gone = delete(search_blocks).where(b.tenant_id == tenant_id)
    if oldest is not None:
        gone = gone.where(b.block < block_of(oldest))
    conn.execute(gone)


def stray_blocks(stored: Sequence[BlockTimes], indexed: Mapping[int, PassTimes]) -> list[int]:
    """The blocks whose stored bounds are missing, or do not hold every indexed event
    (``indexed``: ``times_of`` the indexed events), or stop short of the last of them."""
    held = {times.block: times for times in stored}
    strays: list[int] = []
    for block, seen in sorted(indexed.items()):
        times = held.get(block)
        if (
            times is None
            or times.first_us > seen.first_us
            or times.last_us < seen.last_us
            or times.indexed_through < seen.last_seq
        ):
            strays.append(block)
    return strays
