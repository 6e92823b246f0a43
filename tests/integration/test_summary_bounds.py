"""A summary's timeline is bounded whatever the range asked for or the events stored: at most
1,000 points, clipped to the span holding events, in a coarser bucket when it must be, and
the answer names the bucket it used."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, make_event
from tests.integration.test_console_access import session
from vigil.core.permissions import Role

YEAR_ONE = "0001-01-01T00:00:00+00:00"
HUGE_RANGE = {"bucket": "hour", "start_date": "0001-01-01"}
MAX_BYTES = 200_000


def hours_ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def timed_summary(tenant: Tenant, params: dict[str, str]) -> tuple[dict[str, object], int, float]:
    began = time.perf_counter()
    answer = tenant.reader.get("/audit-logs/summary", params=params)
    elapsed = time.perf_counter() - began
    assert answer.status_code == 200, answer.text
    return answer.json(), len(answer.content), elapsed


def test_hourly_since_year_one_with_no_events_is_small_and_quick(tenant: Tenant) -> None:
    summary, size, elapsed = timed_summary(tenant, HUGE_RANGE)
    assert summary["total"] == 0
    assert summary["timeline"] == []  # clipped to where events are: nowhere
    assert size < MAX_BYTES
    assert elapsed < 1.0


def test_an_event_dated_year_one_is_counted_in_a_coarser_bucket(tenant: Tenant) -> None:
    ingest(
        tenant.writer,
        [make_event(timestamp=YEAR_ONE), *(make_event(timestamp=hours_ago(h)) for h in (1, 30))],
    )
    summary, size, elapsed = timed_summary(tenant, HUGE_RANGE)
    assert size < MAX_BYTES
    assert elapsed < 1.0
    assert summary["bucket"] == "10 years"  # 2,000 years of hours, days … or years is too many
    timeline = summary["timeline"]
    assert isinstance(timeline, list)
    assert 200 <= len(timeline) <= 1000
    assert timeline[0] == {"start": "0001-01-01T00:00:00.000000Z", "count": 1}
    assert timeline[1]["start"] == "0010-01-01T00:00:00.000000Z"
    assert timeline[-1]["count"] == 2
    assert sum(point["count"] for point in timeline) == summary["total"] == 3

    # With no range at all, the same events in a bucket chosen for reading.
    plain, size, _ = timed_summary(tenant, {})
    assert size < MAX_BYTES
    assert plain["bucket"] == "10 years"
    assert sum(point["count"] for point in plain["timeline"]) == 3


def test_a_huge_range_is_clipped_to_the_events_and_keeps_the_bucket_asked_for(
    tenant: Tenant,
) -> None:
    ingest(tenant.writer, [make_event(timestamp=hours_ago(h)) for h in (2, 5, 9)])
    summary, size, _ = timed_summary(tenant, HUGE_RANGE)
    assert summary["bucket"] == "hour"
    assert [point["count"] for point in summary["timeline"]] == [1, 0, 0, 0, 1, 0, 0, 1]
    assert size < MAX_BYTES


def test_too_many_hours_become_days(tenant: Tenant) -> None:
    first = datetime.now(UTC) - timedelta(days=50)
    ingest(
        tenant.writer, [make_event(timestamp=hours_ago(0)), make_event(timestamp=first.isoformat())]
    )
    start = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    summary, _, _ = timed_summary(tenant, {"bucket": "hour", "start_date": start})
    # 60 days of hours would be 1,440 points: clipped to the 50 days holding events, still
    # 1,200 hours, so counted in days.
    assert summary["bucket"] == "day"
    assert summary["timeline"][0] == {"start": f"{first.date()}T00:00:00.000000Z", "count": 1}
    assert len(summary["timeline"]) in (51, 52)
    assert sum(point["count"] for point in summary["timeline"]) == 2


@pytest.mark.parametrize(
    ("bucket", "starts"),
    [
        # 2024-03-04 and 2024-03-11 are Mondays; weeks start on Monday.
        ("week", ["2024-02-26", "2024-03-04", "2024-03-11"]),
        ("month", ["2024-02-01", "2024-03-01"]),
        ("year", ["2024-01-01"]),
    ],
)
def test_calendar_buckets_start_where_the_calendar_does(
    tenant: Tenant, bucket: str, starts: list[str]
) -> None:
    stamps = ["2024-02-29T23:59:59.999999Z", "2024-03-04T00:00:00Z", "2024-03-17T23:00:00Z"]
    ingest(tenant.writer, [make_event(timestamp=stamp) for stamp in stamps])
    params = {"bucket": bucket, "start_date": "2024-02-29", "end_date": "2024-03-17"}
    summary, _, _ = timed_summary(tenant, params)
    assert summary["bucket"] == bucket
    assert [point["start"][:10] for point in summary["timeline"]] == starts
    assert sum(point["count"] for point in summary["timeline"]) == 3
    if bucket == "month":
        assert [point["count"] for point in summary["timeline"]] == [1, 2]


def test_events_before_1970_fall_in_their_own_hour(tenant: Tenant) -> None:
    ingest(
        tenant.writer,
        [
            make_event(timestamp="1969-12-31T23:30:00Z"),
            make_event(timestamp="1970-01-01T00:30:00Z"),
        ],
    )
    summary, _, _ = timed_summary(tenant, {"bucket": "hour"})
    assert summary["timeline"] == [
        {"start": "1969-12-31T23:00:00.000000Z", "count": 1},
        {"start": "1970-01-01T00:00:00.000000Z", "count": 1},
    ]


def test_the_all_time_dashboard_draws_the_same_bounded_timeline(tenant: Tenant) -> None:
    ingest(tenant.writer, [make_event(timestamp=YEAR_ONE), make_event(timestamp=hours_ago(1))])
    api = tenant.reader.get("/audit-logs/summary").json()
    client, _user = session(tenant, Role.ADMIN)
    try:
        page = client.get("/ui/dashboard", params={"range": "all"})
    finally:
        client.close()
    assert page.status_code == 200
    assert len(page.content) < MAX_BYTES
    assert f"per {api['bucket']} (UTC)" in page.text
    assert page.text.count('class="bar"') == len(api["timeline"])
    assert 'data-start="0001-01-01T00:00:00Z"' in page.text
