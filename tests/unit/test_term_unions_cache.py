"""The kept unions of terms (``search.unions``) stay within their bytes and never go back
to holding fewer events."""

from __future__ import annotations

import uuid

from pyroaring import BitMap

from vigil.search.unions import TermUnions, sealed


def test_the_least_recently_used_go_past_the_bound() -> None:
    kept = TermUnions(max_bytes=40_000)
    tenant = uuid.uuid4()
    dense = BitMap(range(0, 65_536, 2))  # a bitset container: 8 KiB
    for chunk in range(10):
        kept.keep(("db", tenant, "sweep", chunk), dense, 1 << 20)
    assert len(kept) == 4
    assert kept.get(("db", tenant, "sweep", 0)) is None
    assert kept.get(("db", tenant, "sweep", 9)) is not None


def test_a_union_holding_fewer_events_does_not_replace_one_holding_more() -> None:
    kept = TermUnions()
    key = ("db", uuid.uuid4(), "sweep", 3)
    kept.keep(key, BitMap([1, 2, 3]), 200_000)
    kept.keep(key, BitMap(), 199_000)
    found = kept.get(key)
    assert found is not None
    assert (found[0], list(found[1])) == (200_000, [1, 2, 3])
    kept.keep(key, BitMap([1]), 200_001)
    assert kept.get(key) == (200_001, BitMap([1]))


def test_a_chunk_is_sealed_once_the_cursor_reaches_its_last_seq() -> None:
    assert not sealed(0, 65_534)
    assert sealed(0, 65_535)
    assert not sealed(1, 65_536)
    assert sealed(1, 131_071)
