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

from vigil.search.bitmaps import ALL_EVENTS, CHUNKS_PER_READ, chunk_of, read_bitmaps, seqs_in
from vigil.search.unions import KEPT_FROM_KEYS, MAX_TAIL, Kept, UnionKey, sealed, term_unions


@dataclass(frozen=True, slots=True)
class KeySet:
    """Any one of ``keys``: a column's values, or the values holding a term. ``term``
    names a free-text term (its folded text), whose union in a sealed chunk is the same
    whenever it is counted (``search.unions``)."""

    keys: tuple[bytes, ...]
    term: str | None = None


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
MATCHED_CHUNKS_AT_ONCE = 16
# Keys one count may name at most; a query naming more is counted by reading events.
MAX_COUNTED_KEYS = 12_000
_EVERY_EVENT = KeySet((ALL_EVENTS,))


@dataclass(frozen=True, slots=True)
class IndexedCount:
    """What ``count_indexed`` found: ``count`` events up to ``through``, exactly or (when
    not ``exact``) at least. ``through`` may be short of the one asked for by the events
    of a kept union's tail (``search.unions.MAX_TAIL`` at most): the caller reads those."""

    count: int
    exact: bool
    through: int


def count_indexed(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    through: int,
    cap: int | None = None,
) -> IndexedCount:
    """The tenant's events up to ``through`` (the index's cursor, read before) that
    ``counted`` selects, or up to a little before it (``IndexedCount.through``). Exact, as
    the bitmaps hold exactly the indexed events, unless more than ``EXACT_KEYS`` keys are
    named and ``cap`` is given: then the count may stop once past ``cap`` (not exact: at
    least so many). Raises ``ValueError`` when more than ``MAX_COUNTED_KEYS`` keys are
    named."""
    if through <= 0:
        return IndexedCount(0, True, through)
    wanted = counted.all_of or [_EVERY_EVENT]
    if any(not found.keys for found in wanted):
        return IndexedCount(0, True, through)  # a term no indexed value holds
    every_key = [key for found in (*wanted, *counted.none_of) for key in found.keys]
    if len(every_key) > MAX_COUNTED_KEYS:
        raise ValueError(f"{len(every_key)} keys to count, more than {MAX_COUNTED_KEYS}")
    step = CHUNKS_PER_READ
    if cap is not None and len(every_key) > EXACT_KEYS:
        step = CHUNKS_AT_ONCE
    reading = BitmapReading(conn, tenant_id, counted, through)
    total = 0
    for newest in range(chunk_of(through), -1, -step):
        total += reading.count(range(max(0, newest - step + 1), newest + 1))
        if step == CHUNKS_AT_ONCE and cap is not None and total > cap:
            return IndexedCount(total, False, reading.through)
    return IndexedCount(total, True, reading.through)


@dataclass(frozen=True, slots=True)
class IndexedMatches:
    """Every event up to ``through`` that a count selects, by ``seq``, ascending, and
    how many the count's sets but its free-text terms select (about: events since purged
    may be among them when no such set is required)."""

    seqs: list[int]
    through: int
    filtered: int


def matching_seqs(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    counted: BitmapCount,
    through: int,
    limit: int,
    max_reads: int,
) -> IndexedMatches | None:
    """The seqs of the tenant's events up to ``through`` (or a little before it, as
    ``count_indexed``) that ``counted`` selects; None when they are more than ``limit``,
    or when reading them would take more than ``max_reads`` rows (keys times chunks, but
    for the chunks whose unions are kept). For a page: a few hundred matches are fetched by
    key in milliseconds where walking the events to find them reads thousands."""
    if through <= 0:
        return IndexedMatches([], through, 0)
    reading = BitmapReading(conn, tenant_id, counted, through)
    if reading.reads(range(chunk_of(through) + 1)) > max_reads:
        return None
    found: list[int] = []
    # A few chunks at a time, newest first: past ``limit``, the older ones are not read.
    for newest in range(chunk_of(through), -1, -MATCHED_CHUNKS_AT_ONCE):
        span = range(max(0, newest - MATCHED_CHUNKS_AT_ONCE + 1), newest + 1)
        matched = reading.matches(span)
        for chunk in sorted(matched, reverse=True):
            found.extend(reversed(list(seqs_in(chunk, matched[chunk]))))
            if len(found) > limit:
                return None
    found.reverse()
    return IndexedMatches(found, reading.through, reading.filtered)


class BitmapReading:
    """One count's reads of the bitmaps, span of chunks by span, up to ``through``."""

    def __init__(
        self, conn: Connection, tenant_id: uuid.UUID, counted: BitmapCount, through: int
    ) -> None:
        self._conn = conn
        self._tenant_id = tenant_id
        self._required = counted.all_of or [_EVERY_EVENT]
        self._excluded = [found for found in counted.none_of if found.keys]
        self._database = conn.engine.url.render_as_string(hide_password=True)
        sets = (*self._required, *self._excluded)
        self._kept = [found for found in sets if _kept(found)]
        self._read = [found for found in sets if not _kept(found)]
        # The newest chunk's kept unions, when every kept set has one a little behind:
        # counting up to where the oldest of them stops leaves the caller a short tail to
        # read, where reading the chunk's rows costs a row per value.
        # How many events the sets but free-text terms select, in the chunks read so far
        # (``through`` when no such set is required): what a walk along the other
        # filters' index would read.
        self.filtered = 0 if any(found.term is None for found in self._required) else through
        self._newest = chunk_of(through)
        self._newest_held = self._held_partly(through)
        self.through = through
        if self._newest_held is not None:
            self.through = min(covers for covers, _ in self._newest_held.values())

    def count(self, chunks: Sequence[int]) -> int:
        """How many events the count selects in ``chunks``."""
        return sum(len(found) for found in self.matches(chunks).values())

    def matches(self, chunks: Sequence[int]) -> dict[int, BitMap]:
        """``{chunk: bitmap}`` of the events the count selects in ``chunks``."""
        # A chunk whose kept sets are all in memory reads only the other sets' rows, and
        # ``ALL_EVENTS``, the events still stored; any other chunk reads every set's rows.
        # Taken once: another request may push a union out of the cache meanwhile.
        held = {chunk: self._held(chunk) for chunk in chunks}
        warm = {chunk: unions for chunk, unions in held.items() if unions is not None}
        cold = [chunk for chunk in chunks if chunk not in warm]
        small = [key for found in self._read for key in found.keys]
        bitmaps: dict[bytes, dict[int, BitMap]] = {}
        for span, keys in ((list(warm), [*small, ALL_EVENTS]), (cold, self._every_key())):
            if not span:
                continue
            read = read_bitmaps(
                self._conn, tenant_id=self._tenant_id, keys=keys, through=self.through,
                chunks=span,
            )  # fmt: skip
            for key, chunked in read.items():
                bitmaps.setdefault(key, {}).update(chunked)
        required = [self._union(bitmaps, found, warm, cold) for found in self._required]
        excluded = [self._union(bitmaps, found, warm, cold) for found in self._excluded]
        # Only the chunks every required set reaches can hold a match.
        self._filter_only(required, excluded)
        reached = set.intersection(*(set(chunked) for chunked in required))
        matched: dict[int, BitMap] = {}
        for chunk in reached:
            found = BitMap.intersection(*(chunked[chunk] for chunked in required))
            for chunked in excluded:
                if chunk in chunked:
                    found.difference_update(chunked[chunk])
            matched[chunk] = found
        return matched

    def _filter_only(
        self, required: list[dict[int, BitMap]], excluded: list[dict[int, BitMap]]
    ) -> None:
        """Add to ``filtered`` the events the sets but free-text terms select (all events
        when every required set is a term's, counted as ``through``)."""
        kept = [
            chunked
            for found, chunked in zip(self._required, required, strict=True)
            if found.term is None
        ]
        if not kept:
            return
        dropped = [
            chunked
            for found, chunked in zip(self._excluded, excluded, strict=True)
            if found.term is None
        ]
        for chunk in set.intersection(*(set(chunked) for chunked in kept)):
            found = BitMap.intersection(*(chunked[chunk] for chunked in kept))
            for chunked in dropped:
                if chunk in chunked:
                    found.difference_update(chunked[chunk])
            self.filtered += len(found)

    def reads(self, chunks: Sequence[int]) -> int:
        """At most how many rows reading ``chunks`` takes: every key in a chunk not warm,
        the others' keys in one that is."""
        every = len(self._every_key())
        warm = sum(len(found.keys) for found in self._read) + 1
        return sum(warm if self._held(chunk) is not None else every for chunk in chunks)

    def _every_key(self) -> list[bytes]:
        keys = [key for found in (*self._required, *self._excluded) for key in found.keys]
        return [*keys, ALL_EVENTS] if self._kept else keys

    def _key(self, found: KeySet, chunk: int) -> UnionKey:
        assert found.term is not None
        return (self._database, self._tenant_id, found.term, chunk)

    def _held(self, chunk: int) -> dict[str, Kept] | None:
        """The kept sets' unions in ``chunk`` by term, when the cache has every one."""
        if chunk == self._newest:
            return self._newest_held
        if not self._kept or not sealed(chunk, self.through):
            return None
        held: dict[str, Kept] = {}
        for found in self._kept:
            assert found.term is not None
            kept = term_unions.get(self._key(found, chunk))
            if kept is None or not sealed(chunk, kept[0]):
                return None
            held[found.term] = kept
        return held

    def _held_partly(self, through: int) -> dict[str, Kept] | None:
        """The kept sets' unions in the newest chunk, when the cache has every one and
        none stops more than ``MAX_TAIL`` events before ``through``."""
        if not self._kept:
            return None
        held: dict[str, Kept] = {}
        for found in self._kept:
            assert found.term is not None
            kept = term_unions.get(self._key(found, self._newest))
            if kept is None or not 0 <= through - kept[0] <= MAX_TAIL:
                return None
            held[found.term] = kept
        return held

    def _union(
        self,
        bitmaps: dict[bytes, dict[int, BitMap]],
        found: KeySet,
        warm: dict[int, dict[str, Kept]],
        cold: Sequence[int],
    ) -> dict[int, BitMap]:
        """``{chunk: bitmap}`` of the events holding any of the set's keys: read from
        ``bitmaps`` in the ``cold`` chunks (and kept), from the kept unions in the ``warm``
        ones."""
        parts: dict[int, list[BitMap]] = {}
        for key in found.keys:
            for chunk, bitmap in bitmaps.get(key, {}).items():
                parts.setdefault(chunk, []).append(bitmap)
        union = {
            chunk: part[0] if len(part) == 1 else BitMap.union(*part)
            for chunk, part in parts.items()
        }
        if not _kept(found):
            return union
        for chunk in cold:  # kept even when empty: the term is in none of its events
            term_unions.keep(self._key(found, chunk), union.get(chunk, BitMap()), self.through)
        stored = bitmaps.get(ALL_EVENTS, {})
        assert found.term is not None
        for chunk, unions in warm.items():
            if chunk in stored:  # events purged since it was kept are no longer stored
                union[chunk] = BitMap(unions[found.term][1] & stored[chunk])
        return union


def _kept(found: KeySet) -> bool:
    return found.term is not None and len(found.keys) >= KEPT_FROM_KEYS
