"""Listing events: every filter alone and combined, date boundaries, single reads."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import Tenant
from tests.helpers import at, ingest, list_all, make_event
from vigil.accounts import service as accounts
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction

ACTIONS = ["CREATE", "UPDATE", "DELETE", "LOGIN", "LOGIN_FAILED", "LOGOUT"]
RESOURCES = ["PROJECT", "MODEL", "ENDPOINT", "USER"]
USERS = [("u-1", "ann@example.com"), ("u-2", "bob@example.com"), ("u-3", "cy@example.com")]
IPS = ["203.0.113.7", "198.51.100.42", "2001:db8::5"]


def seed_events() -> list[dict[str, Any]]:
    """60 events cycling through actions, resources, users, IPs; one per hour."""
    events = []
    for n in range(60):
        action = ACTIONS[n % len(ACTIONS)]
        user_id, email = USERS[n % len(USERS)]
        events.append(
            make_event(
                action=action,
                resource_type=RESOURCES[n % len(RESOURCES)],
                resource_id=f"res-{n % 7}",
                user_id=user_id,
                user_email=email,
                ip_address=IPS[n % len(IPS)],
                timestamp=at(60 * n),
                details={"note": "needle in the haystack" if n % 10 == 0 else f"item {n}"},
                status="FAILED" if action == "LOGIN_FAILED" or n % 11 == 0 else "SUCCESS",
            )
        )
    return events


@pytest.fixture
def seeded(tenant: Tenant) -> tuple[Tenant, list[dict[str, Any]]]:
    """A tenant holding the seed events, returned with each event's stored form."""
    ids = ingest(tenant.writer, seed_events())
    stored = {e["id"]: e for e in list_all(tenant.reader)}
    return tenant, [stored[i] for i in ids]


def newest_first(events: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(events, key=lambda e: (e["timestamp"], e["id"]), reverse=True)
    return [e["id"] for e in ordered]


Predicate = Callable[[dict[str, Any]], bool]
FILTERS: dict[str, tuple[dict[str, Any], Predicate]] = {
    "action": ({"action": "DELETE"}, lambda e: e["action"] == "DELETE"),
    "actions": (
        {"action": "LOGIN,LOGOUT"},
        lambda e: e["action"] in ("LOGIN", "LOGOUT"),
    ),
    "resource_type": ({"resource_type": "MODEL"}, lambda e: e["resource_type"] == "MODEL"),
    "resource_id": ({"resource_id": "res-3"}, lambda e: e["resource_id"] == "res-3"),
    "user_id": ({"user_id": "u-2"}, lambda e: e["user_id"] == "u-2"),
    "user_email": ({"user_email": "CY@example.com"}, lambda e: e["user_email"] == "cy@example.com"),
    "ip_address": ({"ip_address": "2001:0db8::0005"}, lambda e: e["ip_address"] == "2001:db8::5"),
    "status": ({"status": "FAILED"}, lambda e: e["status"] == "FAILED"),
    "q_details": ({"q": "NEEDLE"}, lambda e: "needle" in str(e["details"])),
    "q_email": ({"q": "bob@"}, lambda e: "bob@" in e["user_email"]),
    "q_resource": ({"q": "res-6"}, lambda e: e["resource_id"] == "res-6"),
    "start_date": (
        {"start_date": at(60 * 40)},
        lambda e: e["timestamp"] >= "2025-01-17T04:00:00",
    ),
    "end_date": (
        {"end_date": at(60 * 10)},
        lambda e: e["timestamp"] <= "2025-01-15T22:00:00.000000Z",
    ),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_each_filter_alone(seeded: tuple[Tenant, list[dict[str, Any]]], name: str) -> None:
    tenant, events = seeded
    params, keep = FILTERS[name]
    expected = newest_first([e for e in events if keep(e)])
    assert expected, "the seed must exercise this filter"
    page = tenant.reader.get("/audit-logs/", params={**params, "limit": 1000}).json()
    assert [e["id"] for e in page["items"]] == expected
    assert page["total"] == len(expected)


@pytest.mark.parametrize(
    "names",
    list(
        itertools.combinations(
            ["action", "resource_type", "user_id", "status", "ip_address", "start_date"], 2
        )
    ),
)
def test_filters_combine_with_and(
    seeded: tuple[Tenant, list[dict[str, Any]]], names: tuple[str, ...]
) -> None:
    tenant, events = seeded
    params: dict[str, Any] = {}
    for name in names:
        params.update(FILTERS[name][0])
    expected = newest_first([e for e in events if all(FILTERS[n][1](e) for n in names)])
    page = tenant.reader.get("/audit-logs/", params={**params, "limit": 1000}).json()
    assert [e["id"] for e in page["items"]] == expected
    assert page["total"] == len(expected)


def test_many_filters_at_once(seeded: tuple[Tenant, list[dict[str, Any]]]) -> None:
    tenant, events = seeded
    params = {
        "action": ["LOGIN_FAILED", "CREATE"],
        "resource_type": "PROJECT,USER",
        "user_id": "u-1",
        "start_date": at(0),
        "end_date": at(60 * 59),
        "q": "item",
    }
    expected = newest_first(
        [
            e
            for e in events
            if e["action"] in ("LOGIN_FAILED", "CREATE")
            and e["resource_type"] in ("PROJECT", "USER")
            and e["user_id"] == "u-1"
            and "item" in str(e["details"])
        ]
    )
    page = tenant.reader.get("/audit-logs/", params=params).json()
    assert [e["id"] for e in page["items"]] == expected


def test_date_only_end_includes_the_whole_day(tenant: Tenant) -> None:
    edges = {
        "start": "2025-03-01T00:00:00Z",
        "last": "2025-03-01T23:59:59.999999Z",
        "next": "2025-03-02T00:00:00Z",
        "before": "2025-02-28T23:59:59.999999Z",
    }
    ids = dict(
        zip(
            edges,
            ingest(tenant.writer, [make_event(timestamp=t) for t in edges.values()]),
            strict=True,
        )
    )
    day = tenant.reader.get(
        "/audit-logs/", params={"start_date": "2025-03-01", "end_date": "2025-03-01"}
    ).json()
    assert {e["id"] for e in day["items"]} == {ids["start"], ids["last"]}
    inclusive = tenant.reader.get(
        "/audit-logs/", params={"start_date": edges["last"], "end_date": edges["last"]}
    ).json()
    assert [e["id"] for e in inclusive["items"]] == [ids["last"]]


def test_offsets_and_unencoded_plus_signs_in_dates(tenant: Tenant) -> None:
    (event_id,) = ingest(tenant.writer, [make_event(timestamp="2025-03-01T10:00:00Z")])
    # 11:30+01:30 is 10:00Z; a '+' left unencoded in a URL arrives as a space.
    raw = tenant.reader.get("/audit-logs/?start_date=2025-03-01T11:30:00+01:30").json()
    assert [e["id"] for e in raw["items"]] == [event_id]
    later = tenant.reader.get("/audit-logs/", params={"start_date": "2025-03-01T11:30:01+01:30"})
    assert later.json()["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "2025-02-01", "end_date": "2025-01-01"}, "start_date"),
        ({"start_date": "soon"}, "start_date"),
        ({"end_date": "2025-13-45"}, "end_date"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"action": "EXPLODE"}, "action"),
        ({"resource_type": "PROJECT,PLANET"}, "resource_type"),
        ({"status": "MAYBE"}, "status"),
        ({"ip_address": "1.2.3"}, "ip_address"),
        ({"user_email": "nobody"}, "user_email"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"include_total": "perhaps"}, "include_total"),
        ({"offset": 10**20}, "offset"),
        ({"q": "nul\x00byte"}, "q"),
        ({"resource_id": "nul\x00byte"}, "resource_id"),
        ({"user_id": "nul\x00byte"}, "user_id"),
        ({"ip_address": "1" * 5000}, "ip_address"),
        ({"start_date": "0001-01-01T00:00:00+14:00"}, "start_date"),
        ({"end_date": "9999-12-31T23:59:59.999999-10:00"}, "end_date"),
    ],
)
def test_bad_query_values_are_named(tenant: Tenant, params: dict[str, Any], field: str) -> None:
    answer = tenant.reader.get("/audit-logs/", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_dates_at_the_ends_of_time_are_accepted(tenant: Tenant) -> None:
    ingest(tenant.writer, [make_event()])
    everything = tenant.reader.get(
        "/audit-logs/", params={"start_date": "0001-01-01", "end_date": "9999-12-31"}
    )
    assert everything.status_code == 200
    assert everything.json()["total"] == 1


def test_limit_bounds_are_inclusive(tenant: Tenant) -> None:
    ingest(tenant.writer, [make_event() for _ in range(3)])
    assert len(tenant.reader.get("/audit-logs/", params={"limit": 1}).json()["items"]) == 1
    assert len(tenant.reader.get("/audit-logs/", params={"limit": 1000}).json()["items"]) == 3


def test_single_event_reads(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = tenant_factory(), tenant_factory()
    (event_id,) = ingest(mine.writer, [make_event()])
    assert mine.reader.get(f"/audit-logs/{event_id}").status_code == 200
    assert theirs.reader.get(f"/audit-logs/{event_id}").status_code == 404
    assert mine.reader.get(f"/audit-logs/{uuid.uuid4()}").status_code == 404
    assert mine.reader.get("/audit-logs/not-an-id").status_code == 404


def make_user(engine: Engine, tenant: Tenant, email: str) -> str:
    with write_transaction(engine) as conn:
        user = accounts.create_user(
            conn, tenant_id=tenant.id, email=email, name="Dana", role=Role.DEVELOPER, password=None
        )
    return str(user["id"])


def test_user_activity_lists_that_users_actions(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    tenant, other = tenant_factory(), tenant_factory()
    user_id = make_user(tenant.stack.engine, tenant, f"dana-{uuid.uuid4().hex[:6]}@example.com")
    ingest(
        tenant.writer,
        [make_event(user_id=user_id, action="LOGIN", timestamp=at(1)),
         make_event(user_id=user_id, action="DELETE", timestamp=at(2)),
         make_event(user_id="someone-else", timestamp=at(3))],
    )  # fmt: skip
    activity = tenant.reader.get(f"/users/{user_id}/activity").json()
    assert [e["action"] for e in activity["items"]] == ["DELETE", "LOGIN"]
    assert activity["total"] == 2
    filtered = tenant.reader.get(f"/users/{user_id}/activity", params={"action": "LOGIN"}).json()
    assert [e["action"] for e in filtered["items"]] == ["LOGIN"]
    assert tenant.reader.get(f"/users/{uuid.uuid4()}/activity").status_code == 404
    assert other.reader.get(f"/users/{user_id}/activity").status_code == 404
