"""The newest events a count of bitmaps selects (``search.counting``), for one page.

A page is newest first by ``timestamp``; the bitmaps name matches by ``seq``, and a
producer may send an event late, so the newest matches are not simply the highest seqs.
The blocks' time bounds (``search.blocks``) settle it, as the threshold algorithm does
(Fagin, Lotem and Naor, "Optimal aggregation algorithms for middleware", 2003): blocks
are visited latest bound first, their matches fetched with their timestamps, and the
visit stops once ``wanted`` matches are newer than the latest bound of every block left.
A popular project's name with ``action=DELETE`` at 10M events is held by thousands of
events; the page then fetches a few hundred of them, from one or two blocks, where
fetching them all or walking the ``DELETE`` events testing each one's text reads
thousands of rows.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pyroaring import BitMap
from sqlalchemy import Connection, select

from vigil.core.clock import to_micros
from vigil.core.pagination import Cursor
from vigil.events.tables import events
from vigil.search.bitmaps import CHUNK_BITS, chunk_of
from vigil.search.blocks import BLOCK_BITS, BlockTimes, block_of, oldest_seq, read_blocks, trusted
from vigil.search.counting import BitmapCount, BitmapReading

_BLOCKS_PER_CHUNK = 1 << (CHUNK_BITS - BLOCK_BITS)
# Seqs fetched in one statement at most (a block holds 4,096).
_FETCH_AT_ONCE = 1_000
# Blocks whose matches one statement fetches at most: the first alone (one block often
# holds the page), then twice as many each time, so a sparse term costs a few statements.
_MAX_GROUP = 64
_ANY_TIME = 2**62  # microseconds past any timestamp a block can have (year 146,000)


@dataclass(frozen=True, slots=True)
class NewestMatches:
    """Seqs, ascending, holding the ``wanted`` newest events up to ``through`` that a count
    selects (with any others as new as the last of them: the page's own order breaks
    ties), and how many events were fetched to find them."""

    seqs: list[int]
    through: int
    fetched: int


def newest_matches(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    through: int,
    wanted: int,
    older_than: Cursor | None = None,
    max_fetched: int,
    max_reads: int,
) -> NewestMatches | None:
    """The seqs of the ``wanted`` newest of the tenant's events up to ``through`` (or a
    little before it, as ``count_indexed``) that ``counted`` selects, older than
    ``older_than`` when given (by ``timestamp``, then ``id``, as a page's cursor); fewer
    when fewer match. None when finding them would fetch more than ``max_fetched`` events
    or read more than ``max_reads`` bitmap rows (keys times chunks): matches so dense
    that walking the events in time order finds a page sooner."""
    if through <= 0:
        return NewestMatches([], through, 0)
    reading = BitmapReading(conn, tenant_id, counted, through)
    blocks = _visits(conn, tenant_id, reading.through)
    if older_than is not None:
        edge = to_micros(older_than.timestamp)
        blocks = [times for times in blocks if times.first_us <= edge]
    # Latest bound first; among equal bounds, the later block (its events are likelier new).
    blocks.sort(key=lambda times: (times.last_us, times.block), reverse=True)
    newest: list[int] = []  # a heap of the ``wanted`` newest timestamps: the oldest first
    candidates: list[tuple[int, int]] = []  # (timestamp, seq) of every match fetched
    chunks: dict[int, BitMap] = {}  # each chunk read: its matches' low bits
    reads = fetched = visited = 0
    group = 1  # blocks fetched in one statement: 1, 2, 4, … up to ``_MAX_GROUP``
    while visited < len(blocks):
        if len(newest) >= wanted and newest[0] > blocks[visited].last_us:
            break  # every match left is older than the ``wanted`` kept
        taken = blocks[visited : visited + group]
        visited += len(taken)
        group = min(group * 2, _MAX_GROUP)
        unread = sorted({_chunk_of(times) for times in taken} - chunks.keys())
        if unread:
            reads += reading.reads(unread)
            if reads > max_reads:
                return None
            matched = reading.matches(unread)
            chunks.update({chunk: matched.get(chunk, BitMap()) for chunk in unread})
        seqs = [seq for times in taken for seq in _in_block(chunks[_chunk_of(times)], times)]
        fetched += len(seqs)
        if fetched > max_fetched:
            return None
        for at, seq in _timestamps(conn, tenant_id, seqs, older_than):
            candidates.append((at, seq))
            if len(newest) < wanted:
                heapq.heappush(newest, at)
            elif at > newest[0]:
                heapq.heapreplace(newest, at)
    # Every match as new as the ``wanted``-th: the page's own order (by id) breaks ties.
    oldest = newest[0] if len(newest) >= wanted else None
    kept = sorted(seq for at, seq in candidates if oldest is None or at >= oldest)
    return NewestMatches(kept, reading.through, fetched)


def _visits(conn: Connection, tenant_id: uuid.UUID, through: int) -> list[BlockTimes]:
    """The bounds of every block from the tenant's oldest event to ``through``; a block
    whose bounds may miss some of its events (missing, or indexed in part by an older
    version of Vigil: ``search.blocks.trusted``) as holding events of any time."""
    oldest = oldest_seq(conn, tenant_id=tenant_id)
    if oldest is None or oldest > through:
        return []
    stored = {
        times.block: times for times in read_blocks(conn, tenant_id=tenant_id, through=through)
    }
    visits = []
    for block in range(block_of(oldest), block_of(through) + 1):
        times = stored.get(block)
        if times is None or not trusted(times, through):
            times = BlockTimes(block, -_ANY_TIME, _ANY_TIME, 0)
        visits.append(times)
    return visits


def _chunk_of(times: BlockTimes) -> int:
    """The bitmaps' chunk holding the block."""
    return times.block // _BLOCKS_PER_CHUNK


def _in_block(matched: BitMap, times: BlockTimes) -> list[int]:
    """The seqs of ``matched`` (a chunk's bitmap of low bits) in the block."""
    if not matched:
        return []
    base = chunk_of(times.block << BLOCK_BITS) << CHUNK_BITS
    low = (times.block << BLOCK_BITS) - base
    span = BitMap(range(low, low + (1 << BLOCK_BITS)))
    return [base | bit for bit in matched & span]


def _timestamps(
    conn: Connection, tenant_id: uuid.UUID, seqs: Sequence[int], older_than: Cursor | None
) -> list[tuple[int, int]]:
    """(timestamp in microseconds, seq) of the stored events among ``seqs`` older than the
    cursor (by timestamp, then id: UUIDs compare as their 16 bytes do, in Python as in
    both databases). Compared here, not in SQL: a clause on ``timestamp`` could lead the
    planner to walk the time index instead of looking the seqs up."""
    e = events.c
    found: list[tuple[int, int]] = []
    edge = None if older_than is None else (to_micros(older_than.timestamp), older_than.id)
    for start in range(0, len(seqs), _FETCH_AT_ONCE):
        part = seqs[start : start + _FETCH_AT_ONCE]
        query = select(e.timestamp, e.id, e.seq).where(e.tenant_id == tenant_id, e.seq.in_(part))
        for at, event_id, seq in conn.execute(query):
            micros = to_micros(at)
            if edge is None or (micros, event_id) < edge:
                found.append((micros, int(seq)))
    return found
