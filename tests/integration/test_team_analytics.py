"""Team usage analytics answer exactly what counting the events gives: the overview against
the previous period, peak times in the tenant's time zone (whole-hour and half-hour
offsets), popular features, power and inactive users, resource rankings; as JSON and as a
CSV download recorded as an export."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, list_all, make_event
from tests.integration.test_people import people_through
from tests.integration.test_rollups import rolled_up_through
from vigil.db.engine import write_transaction
from vigil.tenants.service import change_tenant_settings

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
KINDS = [
    ("CREATE", "PROJECT", "SUCCESS"),
    ("UPDATE", "PROJECT", "SUCCESS"),
    ("DELETE", "MODEL", "SUCCESS"),
    ("UPDATE", "ENDPOINT", "FAILED"),
    ("LOGIN", "USER", "SUCCESS"),
    ("LOGIN", "USER", "FAILED"),
    ("LOGIN_FAILED", "USER", "FAILED"),
]
# Eight people: by id and email, by id alone, by email alone.
ACTORS = [
    *[{"user_id": f"u-{n}", "user_email": f"u{n}@example.com"} for n in range(5)],
    {"user_id": "svc-batch", "user_email": ...},
    {"user_id": ..., "user_email": "contractor@example.org"},
    {"user_id": ..., "user_email": "auditor@example.org"},
]


def events_over(rng: random.Random, days: int, count: int) -> list[dict[str, Any]]:
    """``count`` events over the ``days`` days before now (today so far included)."""
    now = datetime.now(UTC)
    found = []
    for _ in range(count):
        action, resource_type, status = rng.choice(KINDS)
        actor = rng.choice(ACTORS[:-1]) if rng.random() < 0.97 else ACTORS[-1]
        moment = now - timedelta(seconds=rng.uniform(0, days * 86_400))
        found.append(
            make_event(
                action=action,
                resource_type=resource_type,
                resource_id=f"{resource_type.lower()}-{rng.randrange(6)}",
                status=status,
                timestamp=moment.isoformat(),
                **actor,
            )
        )
    return found


def who(event: dict[str, Any]) -> str:
    return event["user_id"] or event["user_email"]


def get(tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    answer = tenant.reader.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture
def seeded(tenant: Tenant) -> list[dict[str, Any]]:
    """Sixty days of events, counted by every consumer; the list the API gives of them."""
    ingest(tenant.writer, events_over(random.Random(12), 60, 900))
    rolled_up_through(tenant.stack.engine, tenant.id)
    people_through(tenant.stack.engine, tenant.id)
    return list_all(tenant.reader, "/audit-logs/")


def in_days(events: list[dict[str, Any]], first: datetime, end: datetime) -> list[dict[str, Any]]:
    return [
        e for e in events
        if first <= datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) < end
    ]  # fmt: skip


def test_the_overview_is_the_events_counted(tenant: Tenant, seeded: list[dict[str, Any]]) -> None:
    start, end = TODAY - timedelta(days=29), TODAY + timedelta(days=1)
    now, before = in_days(seeded, start, end), in_days(seeded, start - timedelta(days=30), start)
    assert now
    assert before

    def figures(events: list[dict[str, Any]]) -> dict[str, int]:
        return {
            "active_users": len({who(e) for e in events if who(e)}),
            "total_actions": len(events),
            "resource_changes": sum(e["action"] in ("CREATE", "UPDATE", "DELETE") for e in events),
            "sign_ins": sum(e["action"] == "LOGIN" and e["status"] == "SUCCESS" for e in events),
            "failed_sign_ins": sum(
                e["action"] == "LOGIN_FAILED"
                or (e["action"] == "LOGIN" and e["status"] == "FAILED")
                for e in events
            ),
        }

    body = get(tenant, "/analytics/overview")
    assert body["period"] == {
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": end.isoformat().replace("+00:00", "Z"),
        "days": 30,
    }
    want, was = figures(now), figures(before)
    for name in want:
        assert body[name]["value"] == want[name], name
        assert body[name]["previous"] == was[name], name
        change = round((want[name] - was[name]) * 100 / was[name], 1) if was[name] else None
        assert body[name]["change_percent"] == change, name
    # A period given by dates: a week ending yesterday.
    week = get(
        tenant,
        "/analytics/overview",
        start_date=(TODAY - timedelta(days=7)).date().isoformat(),
        end_date=(TODAY - timedelta(days=1)).date().isoformat(),
    )
    assert week["period"]["days"] == 7
    assert week["total_actions"]["value"] == len(in_days(seeded, TODAY - timedelta(days=7), TODAY))


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_peak_times_are_in_the_tenant_time_zone(
    tenant: Tenant, seeded: list[dict[str, Any]], zone: str
) -> None:
    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, timezone=zone)
    body = get(tenant, "/analytics/peak-times")
    want = [[0] * 24 for _ in range(7)]
    for e in in_days(seeded, TODAY - timedelta(days=29), TODAY + timedelta(days=1)):
        local = datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).astimezone(
            ZoneInfo(zone)
        )
        want[local.weekday()][local.hour] += 1
    assert body["timezone"] == zone
    assert body["matrix"] == want
    top = max(n for row in want for n in row)
    assert body["busiest"][0]["events"] == top
    assert want[body["busiest"][0]["weekday"]][body["busiest"][0]["hour"]] == top


def test_features_power_users_and_resources(tenant: Tenant, seeded: list[dict[str, Any]]) -> None:
    period = in_days(seeded, TODAY - timedelta(days=29), TODAY + timedelta(days=1))
    active = {who(e) for e in period}
    body = get(tenant, "/analytics/features")
    assert body["active_users"] == len(active)
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    users: dict[str, set[str]] = defaultdict(set)
    for e in period:
        by_type[e["resource_type"]][e["action"]] += 1
        users[e["resource_type"]].add(who(e))
    assert {f["resource_type"]: f["by_action"] for f in body["by_resource_type"]} == {
        rt: dict(c) for rt, c in by_type.items()
    }
    for f in body["by_resource_type"]:
        assert f["users"] == len(users[f["resource_type"]])
        assert f["share_percent"] == round(f["users"] * 100 / len(active), 1)
    assert sum(row["events"] for row in body["by_resource_type_and_action"]) == len(period)

    per_person = Counter(who(e) for e in period)
    power = get(tenant, "/analytics/users", kind="power", limit=3)["items"]
    assert [p["period_events"] for p in power] == [n for _, n in per_person.most_common(3)]
    first = power[0]
    mine = Counter((e["resource_type"], e["action"]) for e in period if who(e) == first["label"])
    assert [(f["resource_type"], f["action"], f["events"]) for f in first["top_features"]] == [
        (rt, action, n) for (rt, action), n in sorted(mine.items(), key=lambda kv: (-kv[1], kv[0]))
    ][:3]

    projects = get(tenant, "/analytics/resources", resource_type="PROJECT", limit=3)
    mine_p = [e for e in period if e["resource_type"] == "PROJECT"]
    events_of = Counter(e["resource_id"] for e in mine_p)
    actors_of = {rid: len({who(e) for e in mine_p if e["resource_id"] == rid}) for rid in events_of}
    accessed = projects["most_accessed"]
    assert [r["events"] for r in accessed] == sorted(events_of.values(), reverse=True)[:3]
    assert [r["actors"] for r in projects["most_active"]] == sorted(
        actors_of.values(), reverse=True
    )[:3]
    top = accessed[0]
    newest = max((e for e in mine_p if e["resource_id"] == top["resource_id"]),
                 key=lambda e: e["timestamp"])  # fmt: skip
    assert top["last_actor"]["timestamp"] == newest["timestamp"]
    assert top["by_action"] == dict(
        Counter(e["action"] for e in mine_p if e["resource_id"] == top["resource_id"])
    )


def test_inactive_users_include_accounts_that_never_signed_in(tenant: Tenant) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    ingest(
        tenant.writer,
        [
            make_event(
                user_id="asleep",
                user_email=...,
                action="LOGIN",
                resource_type="USER",
                timestamp=long_ago,
            ),
            make_event(user_id="awake", user_email=..., action="LOGIN", resource_type="USER"),
            make_event(user_id="never", user_email=..., action="UPDATE"),
        ],
    )
    created = tenant.admin.post(
        "/users",
        json={"email": f"new-{tenant.name}@example.com", "name": "Newly Made", "role": "TESTER",
              "password": "a-long-password-for-newly-1"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    people_through(tenant.stack.engine, tenant.id)
    body = get(tenant, "/analytics/users", kind="inactive", limit=100)
    labels = {p["label"] for p in body["items"]}
    assert {"asleep", "never", f"new-{tenant.name}@example.com"} <= labels
    assert "awake" not in labels
    assert get(tenant, "/analytics/users", kind="inactive", days=60, limit=100)["total"] == (
        body["total"] - 1
    )


def test_csv_downloads_are_recorded_as_exports(
    tenant: Tenant, seeded: list[dict[str, Any]]
) -> None:
    for path, params, first_row in (
        ("/analytics/overview", {}, "figure"),
        ("/analytics/peak-times", {}, "weekday"),
        ("/analytics/features", {}, "resource_type"),
        ("/analytics/users", {"kind": "power"}, "person_id"),
        ("/analytics/users", {"kind": "inactive"}, "person_id"),
        ("/analytics/resources", {"resource_type": "MODEL"}, "ranking"),
    ):
        answer = tenant.reader.get(path, params={**params, "format": "csv"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert rows[0][0] == first_row, path
        assert len(rows) > 1, path
    # The CSV counts what the JSON does (a download's own EXPORT is recorded after it).
    shown = get(tenant, "/analytics/overview")["total_actions"]["value"]
    answer = tenant.reader.get("/analytics/overview", params={"format": "csv"})
    downloaded = {row[0]: row[1] for row in csv.reader(io.StringIO(answer.text))}
    assert int(downloaded["total_actions"]) == shown
    exports = list_all(tenant.reader, "/audit-logs/", action="EXPORT")
    reports = Counter(e["details"]["report"] for e in exports)
    assert reports["analytics/overview"] == 2
    assert reports["analytics/resources-model"] == 1
    assert all(e["details"]["format"] == "csv" for e in exports)


def test_bad_input_is_refused_by_name(tenant: Tenant) -> None:
    for path, params, named in (
        ("/analytics/overview", {"start_date": "last tuesday"}, "start_date"),
        (
            "/analytics/overview",
            {"start_date": "2020-01-01", "end_date": "2026-01-01"},
            "start_date",
        ),
        (
            "/analytics/overview",
            {"start_date": "2026-03-02", "end_date": "2026-03-01"},
            "start_date",
        ),
        ("/analytics/overview", {"format": "xlsx"}, "format"),
        ("/analytics/users", {}, "kind"),
        ("/analytics/users", {"kind": "sleepy"}, "kind"),
        ("/analytics/users", {"kind": "power", "limit": 0}, "limit"),
        ("/analytics/resources", {}, "resource_type"),
        ("/analytics/resources", {"resource_type": "SPACESHIP"}, "resource_type"),
    ):
        answer = tenant.reader.get(path, params=params)
        assert answer.status_code == 422, (path, params, answer.text)
        assert named in answer.text, (path, params, answer.text)
    assert tenant.writer.get("/analytics/overview").status_code == 403
