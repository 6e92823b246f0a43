"""Parsing list filters and cursors from query strings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from vigil.core.errors import InvalidInput
from vigil.core.pagination import Cursor, parse_page
from vigil.events.filters import parse_filters
from vigil.events.schemas import Action


def test_actions_accept_repeats_commas_and_any_case() -> None:
    filters = parse_filters(action=["create,login", "LOGIN", " delete "])
    assert filters.actions == (Action.CREATE, Action.LOGIN, Action.DELETE)


def test_date_only_end_is_the_start_of_the_next_day() -> None:
    filters = parse_filters(start_date="2025-01-31", end_date="2025-01-31")
    assert filters.start == datetime(2025, 1, 31, tzinfo=UTC)
    assert filters.end == datetime(2025, 2, 1, tzinfo=UTC)


def test_datetimes_are_converted_to_utc_and_end_is_inclusive() -> None:
    filters = parse_filters(start_date="2025-01-31T10:00:00+02:00", end_date="2025-01-31T12:00:00Z")
    assert filters.start == datetime(2025, 1, 31, 8, tzinfo=UTC)
    assert filters.end == datetime(2025, 1, 31, 12, tzinfo=UTC) + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("end_date", "end"),
    [
        ("2026-03-10T23:59:59Z", datetime(2026, 3, 11, tzinfo=UTC)),
        ("2026-03-10T23:59Z", datetime(2026, 3, 11, tzinfo=UTC)),
        ("2026-03-10T23Z", datetime(2026, 3, 11, tzinfo=UTC)),
        ("2026-03-10T235959Z", datetime(2026, 3, 11, tzinfo=UTC)),
        ("2026-03-10T23:59:59.5Z", datetime(2026, 3, 10, 23, 59, 59, 600_000, tzinfo=UTC)),
        ("2026-03-10T23:59:59,25Z", datetime(2026, 3, 10, 23, 59, 59, 260_000, tzinfo=UTC)),
        ("2026-03-10T23:59:59.123456Z", datetime(2026, 3, 10, 23, 59, 59, 123_457, tzinfo=UTC)),
        ("2026-03-11T00:59:59+01:00", datetime(2026, 3, 11, tzinfo=UTC)),
    ],
)
def test_an_end_datetime_includes_the_whole_of_its_last_written_unit(
    end_date: str, end: datetime
) -> None:
    assert parse_filters(end_date=end_date).end == end


def test_naive_datetimes_mean_utc() -> None:
    assert parse_filters(start_date="2025-01-31T10:00:00").start == datetime(
        2025, 1, 31, 10, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, "start_date"),
        ({"end_date": "31/01/2025"}, "end_date"),
        ({"status": "SUCCESS,FAILED"}, "status"),
        ({"q": "x" * 201}, "q"),
        ({"resource_id": "r" * 256}, "resource_id"),
    ],
)
def test_bad_filters_name_their_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_filters(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_cursor_round_trips_and_rejects_tampering() -> None:
    cursor = Cursor(timestamp=datetime(2025, 1, 15, 14, 30, 0, 123456, tzinfo=UTC), id=uuid.uuid4())
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "!!!", "bm90IGEgY3Vyc29y", cursor.encode()[:-3]):
        with pytest.raises(InvalidInput):
            Cursor.decode(bad or "x")


def test_page_parameters_are_checked() -> None:
    assert parse_page(limit=1000, offset=0, cursor=None, include_total=False).limit == 1000
    with pytest.raises(InvalidInput, match="limit"):
        parse_page(limit=1001, offset=0, cursor=None, include_total=True)


def test_basic_iso_dates_are_whole_days_too() -> None:
    filters = parse_filters(start_date="20250131", end_date="20250131")
    assert filters.start == datetime(2025, 1, 31, tzinfo=UTC)
    assert filters.end == datetime(2025, 2, 1, tzinfo=UTC)


def test_the_last_instant_means_no_upper_bound() -> None:
    assert parse_filters(end_date="9999-12-31T23:59:59.999999Z").end is None
    assert parse_filters(end_date="9999-12-31").end is None
