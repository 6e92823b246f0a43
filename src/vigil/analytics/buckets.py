"""The steps a timeline counts in: hour, day, week, month, year, and multiples of years.

Every bucket is numbered from a fixed origin, so the number of buckets between two instants
is a subtraction (never a loop over them), and the same number is computed in SQL for each
stored event (``slot_of``) and in Python for the axis (``number_of``, ``start_of``). All in
UTC; weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, type_coerce

from vigil.core.clock import to_micros

_FIXED_SECONDS = {"hour": 3_600, "day": 86_400, "week": 7 * 86_400}
# 1970-01-01 was a Thursday: shifting by three days makes every week start on a Monday.
_WEEK_SHIFT_SECONDS = 3 * 86_400


class Unit(StrEnum):
    """What a bucket is made of."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One step of a timeline: a unit, and for years a multiple of it (10 years, 100 years)."""

    unit: Unit
    years: int = 1  # only for Unit.YEAR: how many years one bucket spans

    @property
    def whole_days(self) -> bool:
        """Whether every bucket is whole UTC days (a day, a week from Monday, a month, a
        year), so counters by day add up into it."""
        return self.unit is not Unit.HOUR

    @property
    def name(self) -> str:
        """How the API and the console name it: ``hour`` … ``year``, ``10 years``."""
        return f"{self.years} years" if self.years > 1 else self.unit.value

    def number_of(self, moment: datetime) -> int:
        """Which bucket ``moment`` falls in, counted from the unit's origin."""
        moment = moment.astimezone(UTC)
        if self.unit is Unit.MONTH:
            return moment.year * 12 + moment.month - 1
        if self.unit is Unit.YEAR:
            return moment.year // self.years
        seconds = to_micros(moment) // 1_000_000
        if self.unit is Unit.WEEK:
            seconds += _WEEK_SHIFT_SECONDS
        return seconds // _FIXED_SECONDS[self.unit]

    def start_of(self, number: int) -> datetime:
        """When bucket ``number`` starts (UTC); the first decade or century starts in year 1,
        there being no year 0."""
        if self.unit is Unit.MONTH:
            return datetime(number // 12, number % 12 + 1, 1, tzinfo=UTC)
        if self.unit is Unit.YEAR:
            return datetime(max(number * self.years, 1), 1, 1, tzinfo=UTC)
        seconds = number * _FIXED_SECONDS[self.unit]
        if self.unit is Unit.WEEK:
            seconds -= _WEEK_SHIFT_SECONDS
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)

    def points_between(self, first: datetime, last: datetime) -> int:
        """How many buckets a timeline from ``first`` to ``last`` (both included) draws."""
        return max(self.number_of(last) - self.number_of(first) + 1, 0)

    def coarser(self) -> Bucket:
        """The next step up: hour → day → week → month → year → 10 years → 100 years …"""
        if self.unit is Unit.YEAR:
            return Bucket(Unit.YEAR, self.years * 10)
        units = list(Unit)
        return Bucket(units[units.index(self.unit) + 1])

    def slot_of(self, timestamp: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
        """SQL for ``number_of`` of a stored timestamp column: ``timestamptz`` on PostgreSQL,
        integer microseconds since the epoch on SQLite (see ``vigil.db.types.UTCDateTime``)."""
        if dialect == "postgresql":
            return _postgres_slot(self, timestamp)
        return _sqlite_slot(self, timestamp)


HOUR = Bucket(Unit.HOUR)
DAY = Bucket(Unit.DAY)


def _postgres_slot(bucket: Bucket, timestamp: ColumnElement[Any]) -> ColumnElement[Any]:
    if bucket.unit in (Unit.MONTH, Unit.YEAR):
        utc = func.timezone("UTC", timestamp)  # extract() would use the session's time zone
        year = cast(func.extract("year", utc), Integer)
        if bucket.unit is Unit.MONTH:
            return year * 12 + cast(func.extract("month", utc), Integer) - 1
        return year // bucket.years  # years are positive: integer division floors
    seconds: ColumnElement[Any] = func.extract("epoch", timestamp)
    if bucket.unit is Unit.WEEK:
        seconds = seconds + _WEEK_SHIFT_SECONDS
    return cast(func.floor(seconds / _FIXED_SECONDS[bucket.unit]), BigInteger)


def _sqlite_slot(bucket: Bucket, timestamp: ColumnElement[Any]) -> ColumnElement[Any]:
    micros: ColumnElement[Any] = type_coerce(timestamp, BigInteger)
    if bucket.unit in (Unit.MONTH, Unit.YEAR):
        seconds = _floor_div(micros, 1_000_000)
        year = cast(func.strftime("%Y", seconds, "unixepoch"), Integer)
        if bucket.unit is Unit.MONTH:
            return year * 12 + cast(func.strftime("%m", seconds, "unixepoch"), Integer) - 1
        return year // bucket.years  # years are positive: integer division floors
    if bucket.unit is Unit.WEEK:
        micros = micros + _WEEK_SHIFT_SECONDS * 1_000_000
    return _floor_div(micros, _FIXED_SECONDS[bucket.unit] * 1_000_000)


def _floor_div(value: ColumnElement[Any], divisor: int) -> ColumnElement[Any]:
    """Integer division rounding down, also before 1970: SQLite's ``/`` and ``%`` round
    towards zero, so ``-1 / 3600`` would land in the hour after the epoch's."""
    return (value - (value % divisor + divisor) % divisor) // divisor
