"""``vigil demo``: a tenant filled with a believable team's activity, as the API shows it."""

from __future__ import annotations

import subprocess
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Stack, Tenant, new_tenant
from tests.helpers import list_all
from tests.integration.test_cli import run_vigil
from vigil.accounts.tables import users
from vigil.db.engine import write_transaction
from vigil.tenants import service as tenants

DAYS, USERS = 7, 5


@dataclass
class Filled:
    """A tenant after one ``vigil demo`` run, and what the API shows of it."""

    tenant: Tenant
    run: subprocess.CompletedProcess[str]
    started: datetime
    users: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def of(self, action: str, resource_type: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["action"] == action and resource_type in (None, e["resource_type"])
        ]


@pytest.fixture(scope="module")
def filled(stack: Stack) -> Iterator[Filled]:
    """One demo run per backend, shared by the tests that only look at it."""
    clients: list[httpx.Client] = []
    tenant = new_tenant(stack, clients)
    started = datetime.now(UTC)
    run = demo(stack, tenant.name, "--days", str(DAYS), "--users", str(USERS))
    assert run.returncode == 0, run.stderr
    users = tenant.reader.get("/users", params={"limit": 100}).json()["items"]
    yield Filled(tenant, run, started, users, list_all(tenant.reader))
    for client in clients:
        client.close()


def demo(stack: Stack, tenant: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_vigil(stack, "demo", "--tenant", tenant, *args)


def moment(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


def test_the_team_are_users_of_the_tenant_who_cannot_sign_in(filled: Filled) -> None:
    assert len(filled.users) == USERS
    assert all(u["email"].endswith(".demo.example") for u in filled.users)
    roles = Counter(u["role"] for u in filled.users)
    assert roles["ADMIN"] >= 1
    assert roles["DEVELOPER"] >= max(roles.values()) - 1  # mostly developers
    assert len({u["name"] for u in filled.users}) == USERS
    created = {e["resource_id"]: e["details"] for e in filled.of("CREATE", "USER")}
    for user in filled.users:
        assert created[user["id"]]["email"] == user["email"]
        assert created[user["id"]]["role"] == user["role"]
    with httpx.Client(base_url=filled.tenant.stack.base_url) as anonymous:
        login = {"email": filled.users[0]["email"], "password": "any password at all"}
        assert anonymous.post("/auth/login", json=login).status_code == 401


def test_the_summary_counts_what_was_stored(filled: Filled) -> None:
    assert f"Added {USERS} users and {len(filled.events):,} events over {DAYS} days" in (
        filled.run.stderr
    )
    assert filled.tenant.name in filled.run.stderr


def test_each_persons_activity_tab_shows_their_work(filled: Filled) -> None:
    for user in filled.users:
        activity = list_all(filled.tenant.reader, f"/users/{user['id']}/activity")
        assert len(activity) >= 10, user["email"]
        assert {e["user_email"] for e in activity} == {user["email"]}
        assert "LOGIN" in {e["action"] for e in activity}
    kinds = {e["resource_type"] for e in filled.events}
    assert {"PROJECT", "MODEL", "ENDPOINT", "CLUSTER", "BENCHMARK"} <= kinds
    updates = [e for e in filled.of("UPDATE") if e["resource_type"] != "USER"]
    assert all(e["details"]["changed_fields"] for e in updates)
    assert any(e["status"] == "FAILED" for e in filled.of("UPDATE") + filled.of("CREATE"))


def test_activity_spreads_over_the_days_mostly_in_working_hours(filled: Filled) -> None:
    moments = [moment(e) for e in filled.events]
    assert min(moments) >= filled.started - timedelta(days=DAYS, minutes=1)
    assert max(moments) <= datetime.now(UTC)
    assert len({m.date() for m in moments}) >= 5
    working = [m for m in moments if m.weekday() < 5 and 8 <= m.hour < 19]
    assert len(working) >= 0.75 * len(moments)
    assert len(working) < len(moments)  # and some night or weekend work


def test_countries_come_from_the_addresses(filled: Filled) -> None:
    assert len({e["country"] for e in filled.events if e["country"]}) >= 2
    sign_ins: dict[str, set[str | None]] = defaultdict(set)
    for event in filled.of("LOGIN"):
        sign_ins[event["user_id"]].add(event["country"])
    # Someone signed in from a country they do not usually work from.
    assert any(len(countries) > 1 for countries in sign_ins.values())


def test_a_burst_of_failed_sign_ins_from_one_address(filled: Filled) -> None:
    by_address: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in filled.of("LOGIN_FAILED"):
        by_address[event["ip_address"]].append(event)
    burst = max(by_address.values(), key=len)
    assert densest(burst, within=timedelta(minutes=10)) >= 5
    assert len({e["details"]["attempted_email"] for e in burst}) >= 3
    assert all(e["status"] == "FAILED" for e in burst)


def test_a_bulk_deletion_by_one_person(filled: Filled) -> None:
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in filled.of("DELETE"):
        by_user[event["user_id"]].append(event)
    assert max(densest(d, within=timedelta(minutes=5)) for d in by_user.values()) >= 10


def test_a_role_escalation_to_admin(filled: Filled) -> None:
    escalations = [
        e
        for e in filled.of("UPDATE", "USER")
        if e["details"].get("changed_fields") == ["role"] and e["details"]["new_value"] == "ADMIN"
    ]
    assert escalations
    assert escalations[0]["details"]["old_value"] == "DEVELOPER"


def test_an_unknown_tenant_is_refused_by_name(stack: Stack) -> None:
    run = demo(stack, "No Such Tenant 4c1e")
    assert run.returncode != 0
    assert "No Such Tenant 4c1e" in run.stderr
    assert run.stdout == ""


def test_running_again_reuses_the_people_and_adds_activity(stack: Stack, tenant: Tenant) -> None:
    first = demo(stack, tenant.name, "--days", "2", "--users", "3")
    assert first.returncode == 0, first.stderr
    people = emails(tenant)
    events = tenant.reader.get("/audit-logs/", params={"limit": 1}).json()["total"]
    again = demo(stack, tenant.name, "--days", "2", "--users", "4", "--seed", "8")
    assert again.returncode == 0, again.stderr
    assert "Added 1 user, reused 3," in again.stderr
    assert len(emails(tenant)) == 4
    assert people < emails(tenant)
    assert tenant.reader.get("/audit-logs/", params={"limit": 1}).json()["total"] > events


def test_tenants_whose_names_look_alike_get_people_of_their_own(stack: Stack) -> None:
    # Both names make the same demo domain, and emails are unique across the installation.
    suffix = uuid.uuid4().hex[:6]
    names = (f"Look Alike {suffix}", f"look-alike-{suffix}")
    with write_transaction(stack.engine) as conn:
        ids = [tenants.create_tenant(conn, name=n, retention_days=90)["id"] for n in names]
    for name in names:
        made = demo(stack, name, "--days", "1", "--users", "3")
        assert made.returncode == 0, made.stderr
    with stack.engine.connect() as conn:
        people = [
            set(conn.execute(select(users.c.email).where(users.c.tenant_id == i)).scalars())
            for i in ids
        ]
    assert len(people[0]) == len(people[1]) == 3
    assert not people[0] & people[1]


def emails(tenant: Tenant) -> set[str]:
    return {u["email"] for u in tenant.reader.get("/users").json()["items"]}


def densest(events: list[dict[str, Any]], *, within: timedelta) -> int:
    """The most of ``events`` inside any stretch of time ``within`` long."""
    moments = sorted(moment(e) for e in events)
    best, first = 0, 0
    for last, current in enumerate(moments):
        while current - moments[first] > within:
            first += 1
        best = max(best, last - first + 1)
    return best
