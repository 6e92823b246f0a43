"""Timeline buckets and plans: at most 1,000 points for any range and any data, every bucket
starting where the calendar says, from year 1 to year 9999."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.analytics.buckets import Bucket, Unit
from vigil.analytics.timeline import MAX_POINTS, plan_timeline

NOW = datetime(2025, 6, 15, 12, 30, tzinfo=UTC)
moments = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(2025, 6, 15, 12, 30), timezones=st.just(UTC)
)
buckets = st.sampled_from([None, *(Bucket(unit) for unit in Unit)])


@settings(max_examples=300, deadline=None)
@given(
    start=st.none() | moments,
    end=st.none() | moments,
    matches=st.none() | st.tuples(moments, moments),
    requested=buckets,
)
def test_no_plan_has_more_than_the_maximum_points(
    start: datetime | None,
    end: datetime | None,
    matches: tuple[datetime, datetime] | None,
    requested: Bucket | None,
) -> None:
    if matches is not None:
        matches = (min(matches), max(matches))
    plan = plan_timeline(start=start, end=end, now=NOW, matches=matches, requested=requested)
    assert len(plan.numbers) <= MAX_POINTS
    if requested is not None:
        ladder = [Bucket(unit) for unit in Unit]
        assert plan.bucket not in ladder[: ladder.index(requested)]  # never finer than asked
    starts = [plan.bucket.start_of(number) for number in plan.numbers]
    assert starts == sorted(starts)


@settings(max_examples=300, deadline=None)
@given(moment=moments, bucket=st.sampled_from([*(Bucket(u) for u in Unit), Bucket(Unit.YEAR, 10)]))
def test_every_moment_falls_in_the_bucket_that_starts_before_it(
    moment: datetime, bucket: Bucket
) -> None:
    number = bucket.number_of(moment)
    assert bucket.start_of(number) <= moment
    if moment.year < 9990:
        assert moment < bucket.start_of(number + 1)


def test_weeks_start_on_monday_and_decades_in_year_one() -> None:
    week = Bucket(Unit.WEEK)
    assert week.start_of(week.number_of(datetime(2024, 3, 10, tzinfo=UTC))).date().isoformat() == (
        "2024-03-04"
    )
    decade = Bucket(Unit.YEAR, 10)
    assert decade.name == "10 years"
    assert decade.start_of(decade.number_of(datetime(1, 1, 1, tzinfo=UTC))).year == 1
    assert decade.start_of(decade.number_of(datetime(2025, 1, 1, tzinfo=UTC))).year == 2020


def test_an_hourly_request_since_year_one_is_clipped_then_coarsened() -> None:
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    recent = (NOW - timedelta(hours=5), NOW - timedelta(hours=1))
    clipped = plan_timeline(
        start=year_one, end=None, now=NOW, matches=recent, requested=Bucket(Unit.HOUR)
    )
    assert (clipped.bucket.name, len(clipped.numbers)) == ("hour", 5)
    spread = plan_timeline(
        start=year_one, end=None, now=NOW, matches=(year_one, NOW), requested=Bucket(Unit.HOUR)
    )
    assert spread.bucket.name == "10 years"
    assert len(spread.numbers) == 203
    empty = plan_timeline(start=year_one, end=None, now=NOW, matches=None, requested=None)
    assert list(empty.numbers) == []
