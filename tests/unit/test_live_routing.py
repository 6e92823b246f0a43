"""The live feed's routes send an event to exactly the subscribers whose filters it passes,
whatever the mix of filters, each once: checked against testing every subscriber."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any, cast

from vigil.events.filter_match import filters_match
from vigil.events.filters import EventFilters, parse_filters
from vigil.events.tables import EventRow
from vigil.live.routing import Routes

ACTIONS = ["CREATE", "UPDATE", "DELETE", "LOGIN", "LOGIN_FAILED"]
TYPES = ["PROJECT", "MODEL", "USER"]


def event(rng: random.Random) -> EventRow:
    user = rng.randrange(6)
    row: dict[str, Any] = {
        "action": rng.choice(ACTIONS),
        "resource_type": rng.choice(TYPES),
        "resource_id": rng.choice([None, "r1", "r2", "r3"]),
        "user_id": None if user == 0 else f"u{user}",
        "user_email": rng.choice([None, "a@example.com", "b@example.com"]),
        "ip_address": None,
        "ip_key": None,
        "country": None,
        "status": rng.choice(["SUCCESS", "FAILED"]),
        "timestamp": datetime(2026, 12, 3, tzinfo=UTC),
        "details": None,
        "user_agent": None,
    }
    return cast(EventRow, row)


def filters(rng: random.Random) -> EventFilters:
    chosen: dict[str, Any] = {}
    if rng.random() < 0.3:
        chosen["user_id"] = f"u{rng.randrange(1, 6)}"
    if rng.random() < 0.3:
        chosen["resource_id"] = rng.choice(["r1", "r2"])
    if rng.random() < 0.2:
        chosen["user_email"] = "a@example.com"
    if rng.random() < 0.4:
        chosen["action"] = rng.sample(ACTIONS, rng.randrange(1, 3))
    if rng.random() < 0.3:
        chosen["resource_type"] = [rng.choice(TYPES)]
    if rng.random() < 0.2:
        chosen["status"] = "FAILED"
    return parse_filters(**chosen)


def test_each_event_reaches_exactly_the_subscribers_it_passes() -> None:
    rng = random.Random(3)
    subscribers = [(filters(rng), number) for number in range(300)]
    subscribers += [(EventFilters(), 300), (EventFilters(), 301)]  # two of one route
    routes = Routes.build(subscribers)
    assert len(routes.everywhere) < len(subscribers) / 2  # most are filed by a value
    for _ in range(500):
        row = event(rng)
        reached = [s for route in routes.of(row) for s in route.subscribers]
        assert len(reached) == len(set(reached))
        assert sorted(reached) == [n for f, n in subscribers if filters_match(f, row)]
