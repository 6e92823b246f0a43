"""People: every actor seen in a tenant's events is one person however the producers name
them, listed with their accounts, and ``/users/{user_id}/activity`` answers for any of
their names."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import Stack, Tenant
from tests.helpers import eventually, ingest, list_all, make_event
from tests.integration.test_spine import fresh_stack
from vigil.accounts.service import create_tenant_with_admin
from vigil.analytics.period import parse_period
from vigil.analytics.team import power_users
from vigil.core.errors import NotFound
from vigil.db.engine import write_transaction
from vigil.events import service as events_service
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.jobs import purge_expired
from vigil.events.schemas import EventIn
from vigil.people.check import compare_people
from vigil.people.consumer import CONSUMER_NAME, PeopleConsumer
from vigil.people.directory import Identifier, person_id_for
from vigil.people.service import actor_for, get_person
from vigil.people.tables import EMAIL, USER_ID
from vigil.spine.runner import ConsumerRunner
from vigil.spine.service import cursor_position, last_seq

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(days: float = 0, hours: float = 0) -> str:
    return (NOW - timedelta(days=days, hours=hours)).isoformat()


def people_through(engine: Engine, tenant_id: uuid.UUID) -> None:
    """Wait until the people tables hold every event the tenant has committed."""

    def behind() -> int:
        with engine.connect() as conn:
            head = last_seq(conn, tenant_id=tenant_id)
            return head - cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)

    eventually(behind, lambda n: n == 0, what="the people tables to catch up", timeout=30)


def assert_people_agree(engine: Engine, tenant_id: uuid.UUID) -> None:
    with engine.connect() as conn:
        found = compare_people(conn, tenant_id=tenant_id)
    assert found.agrees, found
    assert found.through > 0


def person_named(tenant: Tenant, text: str) -> dict[str, Any]:
    answer = tenant.reader.get("/people", params={"q": text})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert len(items) == 1, items
    detail = tenant.reader.get(f"/people/{items[0]['id']}")
    assert detail.status_code == 200, detail.text
    return dict(detail.json())


def test_one_person_however_producers_name_them(tenant: Tenant) -> None:
    ingest(
        tenant.writer,
        [
            # An id with an email; the email alone; a new id with that email (the same
            # person, from another producer); the first id with a second email.
            make_event(user_id="u-1001", user_email="Dana@Example.com", timestamp=ago(5),
                       action="LOGIN", resource_type="USER", ip_address="81.2.69.142"),
            make_event(user_id=..., user_email="dana@example.com", timestamp=ago(4)),
            make_event(user_id="crm-77", user_email="dana@example.com", timestamp=ago(3),
                       action="UPDATE", resource_type="MODEL"),
            make_event(user_id="u-1001", user_email="dana.w@example.org", timestamp=ago(2),
                       action="LOGIN", resource_type="USER", status="FAILED"),
            # Someone else entirely, and an event naming no one.
            make_event(user_id="u-2002", user_email="eli@example.com", timestamp=ago(1)),
            make_event(user_id=..., user_email=..., timestamp=ago(1)),
        ],
    )  # fmt: skip
    people_through(tenant.stack.engine, tenant.id)
    dana = person_named(tenant, "crm-77")
    assert dana["user_ids"] == ["crm-77", "u-1001"]
    assert dana["emails"] == ["dana.w@example.org", "dana@example.com"]
    assert dana["label"] == "u-1001"
    assert dana["events"] == 4
    assert dana["first_seen"].startswith(ago(5)[:19])
    assert dana["last_seen"].startswith(ago(2)[:19])
    # Only the successful LOGIN is a sign-in.
    assert dana["last_sign_in"].startswith(ago(5)[:19])
    assert dana["actions"] == {"LOGIN": 2, "CREATE": 1, "UPDATE": 1}
    assert dana["resource_types"] == {"USER": 2, "MODEL": 1, "PROJECT": 1}
    assert dana["account"] is None
    # Search by any id or email, in any case; a second person is apart.
    for text in ("DANA.W", "u-1001", "example.com"):
        found = tenant.reader.get("/people", params={"q": text}).json()["items"]
        assert dana["id"] in [p["id"] for p in found], text
    eli = person_named(tenant, "eli@")
    assert eli["id"] != dana["id"]
    assert eli["events"] == 1
    # Every one of Dana's names lists the same activity: all four events.
    for key in ("u-1001", "crm-77", dana["id"]):
        listed = list_all(tenant.reader, f"/users/{key}/activity")
        assert len(listed) == 4, key
        assert dana["countries"] == dict(Counter(e["country"] for e in listed if e["country"]))
        summary = tenant.reader.get(f"/users/{key}/activity/summary").json()
        assert summary["total"] == 4, key
    assert tenant.reader.get("/users/nobody-at-all/activity").status_code == 404
    assert tenant.reader.get(f"/users/{uuid.uuid4()}/activity/summary").status_code == 404
    assert_people_agree(tenant.stack.engine, tenant.id)


def test_an_account_is_linked_to_its_person_by_email(tenant: Tenant) -> None:
    created = tenant.admin.post(
        "/users",
        json={"email": "alice@company.com", "name": "Alice Liddell", "role": "TESTER",
              "password": "a-long-password-for-alice-1"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    # Before any event names her, she is listed as an account with no activity.
    listed = tenant.reader.get("/people", params={"has_account": "true", "q": "liddell"}).json()
    assert [p["id"] for p in listed["items"]] == [account_id]
    assert listed["items"][0]["events"] == 0
    assert listed["items"][0]["last_seen"] is None
    assert listed["items"][0]["account"]["role"] == "TESTER"
    assert tenant.reader.get(f"/users/{account_id}/activity").json()["items"] == []

    ingest(
        tenant.writer,
        [make_event(user_id="user-abc-123", user_email="alice@company.com", timestamp=ago(0, 2))
         for _ in range(3)],
    )  # fmt: skip
    people_through(tenant.stack.engine, tenant.id)
    # The guide's path, by the producer's id and by the account's: her three events.
    assert len(list_all(tenant.reader, "/users/user-abc-123/activity")) == 3
    assert len(list_all(tenant.reader, f"/users/{account_id}/activity")) == 3
    alice = person_named(tenant, "Alice Liddell")
    assert alice["account"]["id"] == account_id
    assert alice["name"] == "Alice Liddell"
    assert alice["events"] == 3
    assert alice["user_ids"] == ["user-abc-123"]
    by_account = tenant.reader.get(f"/people/{account_id}").json()
    assert by_account["id"] == alice["id"]
    # Filters: with and without an account; active since; inactive for N days.
    without = tenant.reader.get("/people", params={"has_account": "false"}).json()["items"]
    assert alice["id"] not in [p["id"] for p in without]
    recent = tenant.reader.get("/people", params={"active_since": ago(0, 3)}).json()["items"]
    assert alice["id"] in [p["id"] for p in recent]
    idle = tenant.reader.get("/people", params={"inactive_days": 1}).json()["items"]
    assert alice["id"] not in [p["id"] for p in idle]


def test_sorting_paging_and_bad_input(tenant: Tenant) -> None:
    batch = []
    for n, (days, count) in enumerate([(9, 1), (1, 5), (4, 3)]):
        batch += [make_event(user_id=f"sorted-{n}", user_email=f"sorted-{n}@x.org",
                             timestamp=ago(days)) for _ in range(count)]  # fmt: skip
    ingest(tenant.writer, batch)
    people_through(tenant.stack.engine, tenant.id)

    def order(**params: Any) -> list[str]:
        answer = tenant.reader.get("/people", params={"q": "sorted-", **params})
        assert answer.status_code == 200, answer.text
        return [p["label"] for p in answer.json()["items"]]

    assert order(sort="last_active") == ["sorted-1", "sorted-2", "sorted-0"]
    assert order(sort="most_actions") == ["sorted-1", "sorted-2", "sorted-0"]
    assert order(sort="name") == ["sorted-0", "sorted-1", "sorted-2"]
    assert order(sort="name", limit=1, offset=1) == ["sorted-1"]
    assert order(inactive_days=3) == ["sorted-2", "sorted-0"]
    page = tenant.reader.get("/people", params={"q": "sorted-", "limit": 2}).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    for params, named in (
        ({"sort": "loudest"}, "sort"),
        ({"inactive_days": 0}, "inactive_days"),
        ({"active_since": "yesterday"}, "active_since"),
        ({"has_account": "perhaps"}, "has_account"),
    ):
        answer = tenant.reader.get("/people", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert named in answer.text
    assert tenant.reader.get("/people/not-a-uuid").status_code == 404
    assert tenant.reader.get(f"/people/{uuid.uuid4()}").status_code == 404
    assert tenant.writer.get("/people").status_code == 403


def test_a_purge_takes_events_off_their_people(tenant: Tenant) -> None:
    ingest(
        tenant.writer,
        [
            make_event(user_id="old-only", user_email=..., timestamp=ago(120)),
            make_event(user_id="both", action="LOGIN", resource_type="USER", timestamp=ago(100)),
            make_event(user_id="both", timestamp=ago(95)),
            make_event(user_id="both", timestamp=ago(10)),
            make_event(user_id="both", action="LOGIN", resource_type="USER", timestamp=ago(5)),
        ],
    )
    people_through(tenant.stack.engine, tenant.id)
    both = person_named(tenant, "both")
    assert both["events"] == 4
    assert both["first_seen"].startswith(ago(100)[:19])
    assert person_named(tenant, "old-only")["events"] == 1
    with write_transaction(tenant.stack.engine) as conn:
        assert purge_expired(conn, tenant_id=tenant.id, retention_days=90, now=NOW) == 3
    both = person_named(tenant, "both")
    assert both["events"] == 2
    assert both["first_seen"].startswith(ago(10)[:19])
    assert both["last_sign_in"].startswith(ago(5)[:19])
    assert both["actions"] == {"CREATE": 1, "LOGIN": 1}
    # Nobody is left of someone all of whose events are gone.
    assert tenant.reader.get("/people", params={"q": "old-only"}).json()["items"] == []
    assert tenant.reader.get("/users/old-only/activity").status_code == 404
    assert_people_agree(tenant.stack.engine, tenant.id)


def test_a_person_the_people_tables_have_not_reached_is_shown_as_they_will_be(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    """While the people consumer is behind, a newcomer's page, whose events it lists and
    the power users name them exactly as once it has caught up (a power user's link opens
    at once after the events commit)."""
    fresh = fresh_stack(stack, request, tmp_root)  # no server: nothing counts but the test
    with write_transaction(fresh.engine) as conn:
        tenant, _ = create_tenant_with_admin(
            conn,
            tenant_name="newcomers",
            admin_email="ada@example.com",
            admin_password="p" * 16,
            retention_days=90,
        )
        tenant_id = tenant["id"]
        batch = [
            make_event(user_id="u-7", user_email="Grace@Example.com", action="LOGIN"),
            make_event(user_id="u-7", user_email=..., action="UPDATE", resource_type="MODEL"),
            make_event(
                user_id=..., user_email="grace@example.com", action="DELETE", status="FAILED"
            ),
            make_event(user_id=..., user_email="ada@example.com", action="CREATE"),
            make_event(user_id="u-8", user_email=..., action="LOGOUT"),
        ]
        events_service.record_many(
            conn,
            tenant_id=tenant_id,
            events=[EventIn.model_validate(e) for e in batch],
            geo=NO_GEOLOCATION,
        )
    grace = person_id_for(tenant_id, Identifier(USER_ID, "u-7"))
    ada = person_id_for(tenant_id, Identifier(EMAIL, "ada@example.com"))
    nobody = uuid.uuid4()
    now = datetime.now(UTC)
    period = parse_period(None, None, now=now)

    def seen() -> dict[str, Any]:
        with fresh.engine.connect() as conn:
            return {
                "grace": get_person(conn, tenant_id=tenant_id, person_id=grace, now=now),
                "ada": get_person(conn, tenant_id=tenant_id, person_id=ada, now=now),
                "grace's events": actor_for(conn, tenant_id=tenant_id, key=str(grace)),
                "power": power_users(conn, tenant_id=tenant_id, period=period, limit=5, now=now),
            }

    with fresh.engine.connect() as conn:
        assert cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME) == 0
        with pytest.raises(NotFound):
            get_person(conn, tenant_id=tenant_id, person_id=nobody, now=now)
    before = seen()
    assert before["grace"]["label"] == "u-7"
    assert before["grace"]["events"] == 3
    assert before["grace"]["emails"] == ["grace@example.com"]
    assert before["grace"]["last_sign_in"] is not None
    assert before["grace's events"].user_ids == ("u-7",)
    assert before["grace's events"].emails == ("grace@example.com",)
    assert before["ada"]["account"] is not None  # an account's email: linked to it
    assert before["power"][0]["person"]["label"] == "u-7"

    ConsumerRunner(fresh.engine, PeopleConsumer(), yield_to_writers=False).catch_up()
    with fresh.engine.connect() as conn:
        assert cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME) == last_seq(
            conn, tenant_id=tenant_id
        )
    assert seen() == before
    fresh.engine.dispose()
