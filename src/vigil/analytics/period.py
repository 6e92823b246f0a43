"""The period team analytics count over: whole days in UTC, so every count comes from the
day and hour counters exactly (``people.tables``, ``analytics.rollups``); and the period of
the same length just before it, to compare with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from vigil.core.clock import EPOCH, to_micros
from vigil.core.errors import InvalidInput
from vigil.events.filters import parse_filters
from vigil.people.sightings import MICROS_PER_DAY, day_of

DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 366  # a year and a day: what any analytics call reads is bounded by it


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days ``first_day`` to ``last_day`` (days since 1970-01-01), both included."""

    first_day: int
    last_day: int

    @property
    def days(self) -> int:
        """How many days the period has."""
        return self.last_day - self.first_day + 1

    @property
    def start(self) -> datetime:
        """The period's first instant."""
        return EPOCH + timedelta(days=self.first_day)

    @property
    def end(self) -> datetime:
        """The instant after the period (exclusive)."""
        return EPOCH + timedelta(days=self.last_day + 1)

    def previous(self) -> Period:
        """The period of the same length that ends where this one starts."""
        return Period(self.first_day - self.days, self.first_day - 1)

    def as_json(self) -> dict[str, Any]:
        """``start`` and ``end`` (exclusive) as ISO 8601 UTC, and ``days``."""
        return {
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "days": self.days,
        }


def parse_period(start_date: str | None, end_date: str | None, *, now: datetime) -> Period:
    """The whole UTC days from ``start_date``'s to ``end_date``'s (ISO 8601 dates or
    datetimes, as the event filters take them; a datetime stands for its day); by default
    the ``DEFAULT_DAYS`` days ending today. Raises ``InvalidInput`` naming the parameter
    for a bad value, an end before the start, or more than ``MAX_DAYS`` days."""
    bounds = parse_filters(start_date=start_date, end_date=end_date)
    today = day_of(now)
    if bounds.end is not None:
        # The day holding the last instant before the (exclusive) end.
        last_day = (to_micros(bounds.end) - 1) // MICROS_PER_DAY
    else:
        last_day = today if bounds.start is None else max(today, day_of(bounds.start))
    first_day = day_of(bounds.start) if bounds.start is not None else last_day - DEFAULT_DAYS + 1
    if last_day - first_day + 1 > MAX_DAYS:
        raise InvalidInput("start_date", f"a period is at most {MAX_DAYS} days")
    return Period(first_day, last_day)
