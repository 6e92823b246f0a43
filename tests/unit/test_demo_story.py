"""The demo timeline: reproducible from its seed, and never ahead of the clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from vigil.demo.people import Member, cast
from vigil.demo.story import timeline

NOW = datetime(2025, 3, 12, 15, 30, tzinfo=UTC)


def team() -> list[Member]:
    people = cast(count=6, domain="acme.demo.example")
    return [Member(p, str(uuid.uuid5(uuid.NAMESPACE_URL, p.email)), p.email, p.role, True)
            for p in people]  # fmt: skip


def test_the_same_seed_tells_the_same_story() -> None:
    first = timeline(team(), days=5, now=NOW, seed=7)
    again = timeline(team(), days=5, now=NOW, seed=7)
    assert [e.model_dump() for e in first] == [e.model_dump() for e in again]
    other = timeline(team(), days=5, now=NOW, seed=8)
    assert [e.model_dump() for e in other] != [e.model_dump() for e in first]


def test_everything_happens_inside_the_days_asked_for() -> None:
    events = timeline(team(), days=3, now=NOW, seed=7)
    moments = [e.timestamp for e in events if e.timestamp is not None]
    assert len(moments) == len(events)
    assert moments == sorted(moments)
    assert NOW - timedelta(days=3) <= moments[0]
    assert moments[-1] <= NOW
