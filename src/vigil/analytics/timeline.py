"""Which stretch of time a timeline draws, and in what bucket, so that it never has more
than ``MAX_POINTS`` points whatever the range asked for or the data stored.

The timeline covers the range asked for (from the first match when it has no start, up to
now when it has no end), empty buckets included, so gaps show as gaps. When that would take
more than ``MAX_POINTS`` buckets, it is clipped to the span that holds matching events; if
that is still too long, the bucket grows (hour → day → week → month → year → 10 years …)
until it fits. A bucket the caller did not choose is picked for a readable chart: hours up
to 3 days, else the finest step giving at most ``READABLE_POINTS`` bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.analytics.buckets import DAY, HOUR, Bucket

MAX_POINTS = 1000
READABLE_POINTS = 400
HOURLY_UP_TO = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class TimelinePlan:
    """The buckets to draw: numbers ``first`` to ``last`` of ``bucket`` (none when
    ``first`` > ``last``)."""

    bucket: Bucket
    first: int
    last: int

    @property
    def numbers(self) -> range:
        """The bucket numbers in order; never more than ``MAX_POINTS``."""
        return range(self.first, self.last + 1)


def plan_timeline(
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    matches: tuple[datetime, datetime] | None,
    requested: Bucket | None,
) -> TimelinePlan:
    """The plan for a range ``start`` (inclusive) to ``end`` (exclusive), either open, whose
    matching events run from ``matches[0]`` to ``matches[1]`` (None: nothing matches).

    ``requested`` is the caller's bucket; it is only ever made coarser, never finer.
    """
    low = start or (matches[0] if matches else None)
    if low is None:  # nothing matches and the range has no start: nothing to draw
        return TimelinePlan(requested or DAY, 0, -1)
    # The future holds no activity worth drawing, except events stamped a little ahead.
    high = min(end, now) - timedelta(microseconds=1) if end else now
    if matches and matches[1] > high:
        high = matches[1]
    if high < low:
        return TimelinePlan(requested or DAY, 0, -1)
    bucket = requested or _readable_start(low, high)
    if bucket.points_between(low, high) > MAX_POINTS:
        if matches is None:  # a vast range with nothing in it
            return TimelinePlan(bucket, 0, -1)
        low, high = max(low, matches[0]), min(high, matches[1])
        bucket = requested or _readable_start(low, high)
    limit = MAX_POINTS if requested else READABLE_POINTS
    while bucket.points_between(low, high) > limit:
        bucket = bucket.coarser()
    return TimelinePlan(bucket, bucket.number_of(low), bucket.number_of(high))


def _readable_start(low: datetime, high: datetime) -> Bucket:
    return HOUR if high - low <= HOURLY_UP_TO else DAY
