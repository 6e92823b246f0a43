"""A free-text term's events in each sealed chunk of the search index, kept in memory once
counted: the per-segment query cache of Lucene (``LRUQueryCache``), with the index's
chunks as segments.

A term held by many values (``prod`` is in 1,515 values at 1M events) is the union of
their bitmaps, a row for each value in each chunk it has events in: some 21,000 rows and
200 ms at 1M events, ten times the chunks at 10M. Most of those chunks are sealed: every
seq they span is at or below the index's cursor, so no event will be added to them, and
the values holding the term there are fixed (a value first indexed later holds no event of
theirs). The union of a sealed chunk is therefore computed once per process and kept.

Events are never rewritten, only deleted (by a retention purge, in any process). A deleted
event leaves every bitmap of its chunk, ``ALL_EVENTS`` among them, so a kept union
intersected with the chunk's ``ALL_EVENTS`` read now is exactly the term's events in it
now (``search.counting`` does that). Kept unions are keyed by the database, the tenant, the
term and the chunk, and the least recently used go first past ``MAX_BYTES``.
"""

from __future__ import annotations

import sys
import threading
import uuid
from typing import Final

from cachetools import LRUCache
from pyroaring import BitMap, FrozenBitMap

from vigil.search.bitmaps import CHUNK_BITS

# A union of a common term in one chunk takes 8 KiB at most (a dense Roaring container):
# 64 MiB hold such a term over 8,000 chunks, 500M events.
MAX_BYTES: Final = 64 * 1024 * 1024
# The newest chunk's union is kept too, holding its events up to the cursor as it was read:
# a later count takes it while the events since are at most so many, and reads those
# events instead of the rows (one for each value, some 1,500 for ``prod`` at 1M events).
MAX_TAIL: Final = 4_096
# A term of fewer values is read from its rows each time: a few rows cost less than the
# bookkeeping, and its key set may be a column's values, which are cheap to read anyway.
KEPT_FROM_KEYS: Final = 32

UnionKey = tuple[str, uuid.UUID, str, int]  # database, tenant, term, chunk
# A union and the seq it holds the events up to: the chunk's last one once it is sealed.
Kept = tuple[int, FrozenBitMap]
_KEY_BYTES: Final = 200  # about what a key and the cache's entry cost besides the bitmap


def sealed(chunk: int, through: int) -> bool:
    """Whether every seq of ``chunk`` is at or below ``through`` (the index's cursor)."""
    return ((chunk + 1) << CHUNK_BITS) - 1 <= through


class TermUnions:
    """Thread-safe LRU of ``{(database, tenant, term, chunk): (through, union)}``, bounded
    in bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._lock = threading.Lock()
        # pyroaring's ``__sizeof__`` is the bitmap's serialized size, about what it holds.
        self._kept: LRUCache[UnionKey, Kept] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda kept: sys.getsizeof(kept[1]) + _KEY_BYTES
        )

    def get(self, key: UnionKey) -> Kept | None:
        """The kept union and the seq it holds the events up to, or None."""
        with self._lock:
            return self._kept.get(key)

    def keep(self, key: UnionKey, union: BitMap, through: int) -> None:
        """Keep a chunk's union of a term's events up to ``through`` (a copy: the caller
        may go on changing its own); one that holds more already stays."""
        frozen = FrozenBitMap(union)
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0] < through:
                self._kept[key] = (through, frozen)

    def entries(self) -> list[tuple[UnionKey, Kept]]:
        """Every kept union with its key, least recently used first."""
        with self._lock:
            return list(self._kept.items())

    def clear(self) -> None:
        """Forget every kept union."""
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)


# One for the process: every request's counts share it.
term_unions: Final = TermUnions()
