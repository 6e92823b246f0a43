"""What the activity rollups count by, and which filters they answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vigil.analytics.buckets import DAY, HOUR
from vigil.analytics.rollup_counts import answers
from vigil.analytics.rollups import hour_of
from vigil.events.filters import EventFilters
from vigil.events.ip_ranges import parse_network
from vigil.events.schemas import Action, ResourceType, Status
from vigil.events.search_query import parse_search_query


def test_an_hour_is_numbered_as_the_hourly_bucket_numbers_it() -> None:
    for moment in (
        datetime(2026, 12, 2, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 0, 59, 59, 999_999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 30, tzinfo=UTC),  # before the epoch: rounds down
        datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
    ):
        assert hour_of(moment) == HOUR.number_of(moment)
    assert hour_of(datetime(1970, 1, 1, 0, 0, tzinfo=UTC) - timedelta(microseconds=1)) == -1


def test_an_hour_lies_in_one_day_whatever_the_offset_it_was_written_with() -> None:
    written = datetime(2026, 12, 2, 1, 30, tzinfo=UTC).astimezone()
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour_of(written))
    assert DAY.number_of(start) == DAY.number_of(written)


def test_the_rollups_answer_their_own_columns_and_a_time_range_only() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert answers(EventFilters())
    assert answers(
        EventFilters(
            actions=(Action.DELETE, Action.UPDATE),
            resource_types=(ResourceType.MODEL,),
            status=Status.FAILED,
            start=now - timedelta(days=30),
            end=now,
            start_text="30d",
        )
    )
    for other in (
        EventFilters(user_id="u-1"),
        EventFilters(user_email="a@example.com"),
        EventFilters(resource_id="p-1"),
        EventFilters(countries=("FR",)),
        EventFilters(ip_networks=(parse_network("10.0.0.0/8"),)),
        EventFilters(query=parse_search_query("production-api")),
    ):
        assert not answers(other), other
