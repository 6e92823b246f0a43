"""The summary endpoints count exactly what the list with the same filters returns."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, list_all, make_event

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def stamp(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def seed(tenant: Tenant) -> None:
    rows = [
        ("CREATE", "PROJECT", "p1", "SUCCESS", 1),
        ("UPDATE", "PROJECT", "p1", "SUCCESS", 2),
        ("UPDATE", "PROJECT", "p1", "SUCCESS", 2.5),
        ("DELETE", "MODEL", "m9", "SUCCESS", 30),
        ("LOGIN_FAILED", "USER", None, "FAILED", 50),
        ("CREATE", "CLUSTER", "c1", "SUCCESS", 24 * 10),
    ]
    ingest(
        tenant.writer,
        [
            make_event(
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                status=status,
                timestamp=stamp(hours_ago),
            )
            for action, resource_type, resource_id, status, hours_ago in rows
        ],
    )


def test_the_summary_counts_what_the_list_lists(tenant: Tenant) -> None:
    seed(tenant)
    summary = tenant.reader.get("/audit-logs/summary").json()
    listed = list_all(tenant.reader, "/audit-logs/")
    assert summary["total"] == len(listed) == 6
    assert summary["by_action"] == dict(Counter(e["action"] for e in listed).most_common())
    assert summary["by_action"] == {"CREATE": 2, "UPDATE": 2, "DELETE": 1, "LOGIN_FAILED": 1}
    assert summary["by_resource_type"]["PROJECT"] == 3
    assert summary["by_status"] == {"SUCCESS": 5, "FAILED": 1}
    assert summary["top_resources"][0] == {
        "resource_type": "PROJECT",
        "resource_id": "p1",
        "count": 3,
    }
    assert summary["bucket"] == "day"  # ten days of activity
    assert sum(point["count"] for point in summary["timeline"]) == 6
    days = [point["start"] for point in summary["timeline"]]
    assert days == sorted(days)
    assert len(days) in (11, 12)  # every day from the first event to today, empty ones too
    assert all(day.endswith("T00:00:00.000000Z") for day in days)


def test_a_short_range_counts_hours_and_honours_every_filter(tenant: Tenant) -> None:
    seed(tenant)
    params = {
        "start_date": stamp(6),
        "end_date": NOW.isoformat(),
        "action": "UPDATE,CREATE",
        "resource_type": "PROJECT",
    }
    summary = tenant.reader.get("/audit-logs/summary", params=params).json()
    assert summary["bucket"] == "hour"
    assert summary["total"] == 3
    # 2.5, 2 and 1 h ago; end_date includes the instant NOW, so its hour is drawn too
    assert [p["count"] for p in summary["timeline"]] == [0, 0, 0, 1, 1, 1, 0]
    assert summary["timeline"][0]["start"] == (NOW - timedelta(hours=6)).strftime(
        "%Y-%m-%dT%H:00:00.000000Z"
    )
    by_day = tenant.reader.get("/audit-logs/summary", params={**params, "bucket": "day"}).json()
    assert by_day["bucket"] == "day"
    assert sum(p["count"] for p in by_day["timeline"]) == 3


def test_nothing_matches_gives_an_empty_summary(tenant: Tenant) -> None:
    summary = tenant.reader.get("/audit-logs/summary", params={"action": "EXPORT"}).json()
    assert summary == {
        "total": 0,
        "by_action": {},
        "by_resource_type": {},
        "by_status": {},
        "top_resources": [],
        "timeline": [],
        "bucket": "day",
    }


def test_a_users_summary_is_theirs_alone(tenant: Tenant) -> None:
    user = tenant.admin.post(
        "/users", json={"email": "sam@example.com", "name": "Sam", "role": "DEVELOPER"}
    ).json()
    ingest(
        tenant.writer,
        [
            make_event(user_id=user["id"], action="DELETE", resource_type="MODEL"),
            make_event(user_id="someone-else", action="DELETE", resource_type="MODEL"),
        ],
    )
    summary = tenant.reader.get(f"/users/{user['id']}/activity/summary").json()
    assert summary["total"] == 1
    assert summary["by_action"] == {"DELETE": 1}
    assert tenant.reader.get("/users/nobody/activity/summary").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "fortnight"}, "bucket"),
        ({"action": "DANCE"}, "action"),
        ({"start_date": "yesterday"}, "start_date"),
    ],
)
def test_bad_summary_input_names_the_field(
    tenant: Tenant, params: dict[str, str], field: str
) -> None:
    answer = tenant.reader.get("/audit-logs/summary", params=params)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == field
