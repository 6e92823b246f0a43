"""How many indexed events pass a conjunction of key sets, counted from the index's
bitmaps (``search.bitmaps``) chunk by chunk: the events holding a key of every set in
``all_of`` and no key of any set in ``none_of``.

A list's filters and search terms map onto such sets (``events.service``): ``action`` in
(DELETE, UPDATE) is the set of those two actions' keys, a free-text term the set of its
values' digests, ``-user:bot`` a set in ``none_of``. Reading a few bitmaps and
intersecting them costs milliseconds whatever the counts; counting the same by reading
events costs a row per event read, hundreds of thousands for a term combined with a
broad filter at 10M events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyroaring import BitMap
from sqlalchemy import Connection

from vigil.search.bitmaps import ALL_EVENTS, CHUNKS_PER_READ, chunk_of, read_bitmaps

KeySet = tuple[bytes, ...]  # any one of these keys


@dataclass(slots=True)
class BitmapCount:
    """Events holding a key of every set in ``all_of`` and of none in ``none_of``; with
    no ``all_of``, every event but those."""

    all_of: list[KeySet] = field(default_factory=list)
    none_of: list[KeySet] = field(default_factory=list)


# Up to so many keys, every chunk is read and the count is exact however large. A query
# naming more (a term held by hundreds of values: ``prod`` in 1,515 at 1M events) reads
# ``CHUNKS_AT_ONCE`` chunks at a time, newest first, and stops once past the caller's cap:
# each key costs a row per chunk it has events in, and at 10M events there are 153 chunks.
EXACT_KEYS = 256
CHUNKS_AT_ONCE = 8
# Keys one count may name at most; a query naming more is counted by reading events.
MAX_COUNTED_KEYS = 2_500


def count_indexed(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    through: int,
    cap: int | None = None,
) -> tuple[int, bool]:
    """(count, exact) of the tenant's events up to ``through`` (the index's cursor, read
    before) that ``counted`` selects. Exact, as the bitmaps hold exactly the indexed
    events, unless more than ``EXACT_KEYS`` keys are named and ``cap`` is given: then the
    count may stop once past ``cap`` (not exact: at least so many). Raises ``ValueError``
    when more than ``MAX_COUNTED_KEYS`` keys are named."""
    if through <= 0:
        return 0, True
    wanted = counted.all_of or [(ALL_EVENTS,)]
    if any(not keys for keys in wanted):
        return 0, True  # a term no indexed value holds
    every_key = [key for keys in (*wanted, *counted.none_of) for key in keys]
    if len(every_key) > MAX_COUNTED_KEYS:
        raise ValueError(f"{len(every_key)} keys to count, more than {MAX_COUNTED_KEYS}")
    step = CHUNKS_PER_READ
    if cap is not None and len(every_key) > EXACT_KEYS:
        step = CHUNKS_AT_ONCE
    total = 0
    for newest in range(chunk_of(through), -1, -step):
        span = (max(0, newest - step + 1), newest)
        total += _count(conn, tenant_id, counted, every_key, through, span)
        if step == CHUNKS_AT_ONCE and cap is not None and total > cap:
            return total, False
    return total, True


def _count(
    conn: Connection,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    keys: list[bytes],
    through: int,
    chunks: tuple[int, int],
) -> int:
    """The events ``counted`` selects in the chunks ``chunks[0]`` to ``chunks[1]``."""
    bitmaps = read_bitmaps(conn, tenant_id=tenant_id, keys=keys, through=through, chunks=chunks)
    required = [_union(bitmaps, keys) for keys in counted.all_of or [(ALL_EVENTS,)]]
    excluded = [_union(bitmaps, keys) for keys in counted.none_of if keys]
    # Only the chunks every required set reaches can hold a match.
    reached = set.intersection(*(set(chunked) for chunked in required))
    total = 0
    for chunk in reached:
        found = BitMap.intersection(*(chunked[chunk] for chunked in required))
        for chunked in excluded:
            if chunk in chunked:
                found.difference_update(chunked[chunk])
        total += len(found)
    return total


def _union(bitmaps: dict[bytes, dict[int, BitMap]], keys: Sequence[bytes]) -> dict[int, BitMap]:
    """``{chunk: bitmap}`` of the events holding any of ``keys``."""
    parts: dict[int, list[BitMap]] = {}
    for key in keys:
        for chunk, bitmap in bitmaps.get(key, {}).items():
            parts.setdefault(chunk, []).append(bitmap)
    return {
        chunk: found[0] if len(found) == 1 else BitMap.union(*found)
        for chunk, found in parts.items()
    }
