"""The demo timeline: reproducible from its seed, and never ahead of the clock."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from vigil.demo.incidents import ATTACKER, LATEST
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


def test_the_incidents_happen_again_within_the_last_day() -> None:
    """Detections leave alone events a day older than their arrival: the demo's latest
    incidents are newer, so a server raises alerts for them."""
    events = timeline(team(), days=5, now=NOW, seed=7)
    recent = [e for e in events if e.timestamp is not None and NOW - e.timestamp < LATEST]
    failures = Counter(e.ip_address for e in recent if e.action == "LOGIN_FAILED")
    assert max(failures.values()) >= 10  # one address spraying sign-ins
    attacks = [e for e in recent if e.action == "LOGIN_FAILED" and e.user_id
               and (e.ip_address or "").startswith(ATTACKER.prefix)]  # fmt: skip
    guessed = Counter(e.user_id for e in attacks)
    target, count = guessed.most_common(1)[0]
    assert count >= 10
    assert len({e.ip_address for e in attacks if e.user_id == target}) >= 3
    deletions = Counter(e.user_id for e in recent if e.action == "DELETE")
    assert max(deletions.values()) >= 10
    raised = [e for e in recent if e.resource_type == "USER" and e.action == "UPDATE"]
    assert any("ADMIN" in str(e.details) for e in raised)
