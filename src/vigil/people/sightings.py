"""What the people tables keep of an event: who acted, when, doing what, from where; and
the sums a pass adds up per person (``Tally``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, NamedTuple

from vigil.core.clock import to_micros
from vigil.events.tables import EventRow

MICROS_PER_DAY: Final = 86_400_000_000
# A sign-in, as the people tables keep the last one: a successful LOGIN.
SIGN_IN_ACTION: Final = "LOGIN"
SIGN_IN_STATUS: Final = "SUCCESS"


def day_of(moment: datetime) -> int:
    """Whole days from 1970-01-01 (UTC) to ``moment`` (aware), rounded down."""
    return to_micros(moment) // MICROS_PER_DAY


class Sighting(NamedTuple):
    """One event with an actor, as the people tables count it."""

    seq: int
    timestamp: datetime
    user_id: str | None
    email: str | None  # lower case, as stored
    action: str
    resource_type: str
    status: str
    country: str | None

    @property
    def is_sign_in(self) -> bool:
        """A successful LOGIN."""
        return self.action == SIGN_IN_ACTION and self.status == SIGN_IN_STATUS


def sightings_of(rows: Iterable[EventRow]) -> list[Sighting]:
    """The events of ``rows`` that name an actor (by id or email), in their order."""
    return [
        Sighting(
            row["seq"],
            row["timestamp"],
            row["user_id"],
            row["user_email"],
            row["action"],
            row["resource_type"],
            row["status"],
            row["country"],
        )
        for row in rows
        if row["user_id"] is not None or row["user_email"] is not None
    ]


class DayKind(NamedTuple):
    """A ``person_days`` key past the tenant and the person."""

    day: int
    action: str
    resource_type: str


@dataclass(slots=True)
class Tally:
    """One person's share of some events."""

    events: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_sign_in: datetime | None = None
    days: Counter[DayKind] = field(default_factory=Counter)
    countries: Counter[str] = field(default_factory=Counter)

    def add(self, seen: Sighting) -> None:
        """Count one event."""
        moment = seen.timestamp
        self.add_times(1, moment, moment, moment if seen.is_sign_in else None)
        self.days[DayKind(day_of(moment), seen.action, seen.resource_type)] += 1
        if seen.country is not None:
            self.countries[seen.country] += 1

    def add_times(
        self,
        events: int,
        first_seen: datetime,
        last_seen: datetime,
        last_sign_in: datetime | None,
    ) -> None:
        """Count ``events`` events from ``first_seen`` to ``last_seen`` (the counters
        untouched: the consumer counts those in SQL)."""
        self.events += events
        self.first_seen = earlier(self.first_seen, first_seen)
        self.last_seen = later(self.last_seen, last_seen)
        self.last_sign_in = later(self.last_sign_in, last_sign_in)


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later of two optional times."""
    if a is None or b is None:
        return a or b
    return max(a, b)


def earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two optional times."""
    if a is None or b is None:
        return a or b
    return min(a, b)
