"""Every list takes the same bounded paging parameters, and a value out of range is a 422
naming it, never a 500 from the database; stored things that size work have a ceiling."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, make_event
from tests.integration.test_sign_in import PASSWORD, address, make_user
from vigil.core.pagination import MAX_LIMIT, MAX_OFFSET
from vigil.core.permissions import Role
from vigil.detections.actions import MAX_OWN_RULES

LISTS = [
    "/audit-logs/",
    "/users/{user_id}/activity",
    "/users",
    "/api-keys",
    "/security/alerts",
    "/notifications",
]
OUT_OF_RANGE = [
    ({"offset": "9223372036854775808"}, "offset"),  # one past SQLite's largest integer
    ({"offset": str(MAX_OFFSET + 1)}, "offset"),
    ({"offset": "-1"}, "offset"),
    ({"limit": "0"}, "limit"),
    ({"limit": str(MAX_LIMIT + 1)}, "limit"),
    ({"limit": "99999999999999999999999"}, "limit"),
]


def with_a_user(tenant: Tenant, path: str) -> str:
    """``path`` for a user of the tenant with one event of their own."""
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"  # an email signs in to one tenant
    user = tenant.admin.post(
        "/users", json={"email": email, "name": "Pat", "role": "DEVELOPER"}
    ).json()
    ingest(tenant.writer, [make_event(user_id=user["id"])])
    return path.format(user_id=user["id"])


@contextmanager
def caller_of(tenant: Tenant, path: str) -> Iterator[httpx.Client]:
    """The admin key, or for the inbox (which belongs to people) a signed-in admin."""
    if path != "/notifications":
        yield tenant.admin
        return
    user = make_user(tenant, role=Role.ADMIN)
    with httpx.Client(base_url=tenant.stack.base_url, headers={"X-Forwarded-For": address()}) as c:
        signed_in = c.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        c.headers["Authorization"] = f"Bearer {signed_in.json()['token']}"
        yield c


@pytest.mark.parametrize("path", LISTS)
def test_paging_out_of_range_is_refused_by_name_on_every_list(tenant: Tenant, path: str) -> None:
    path = with_a_user(tenant, path)
    with caller_of(tenant, path) as caller:
        for params, field in OUT_OF_RANGE:
            answer = caller.get(path, params=params)
            assert answer.status_code == 422, (path, params, answer.text)
            assert answer.json()["errors"][0]["field"] == field, (path, params)


@pytest.mark.parametrize("path", LISTS)
def test_the_deepest_and_longest_pages_allowed_are_answered(tenant: Tenant, path: str) -> None:
    path = with_a_user(tenant, path)
    with caller_of(tenant, path) as caller:
        deepest = caller.get(path, params={"offset": str(MAX_OFFSET)})
        assert deepest.status_code == 200, deepest.text
        assert deepest.json()["items"] == []
        longest = caller.get(path, params={"limit": str(MAX_LIMIT)})
        assert longest.status_code == 200, longest.text
    if path not in ("/security/alerts", "/notifications"):  # a new tenant has none of those
        assert longest.json()["items"]


def test_api_keys_are_listed_a_page_at_a_time(tenant: Tenant) -> None:
    for n in range(3):
        made = tenant.admin.post("/api-keys", json={"name": f"key {n}", "scopes": ["USER_VIEW"]})
        assert made.status_code == 201
    first = tenant.admin.get("/api-keys", params={"limit": 2}).json()
    assert [key["name"] for key in first["items"]] == ["key 2", "key 1"]  # newest first
    assert (first["total"], first["limit"], first["offset"]) == (6, 2, 0)  # and three of setup
    rest = tenant.admin.get("/api-keys", params={"limit": 2, "offset": 2}).json()
    assert [key["name"] for key in rest["items"]] == ["key 0", "admin"]


def test_a_tenant_keeps_a_bounded_number_of_rules_of_its_own(tenant: Tenant) -> None:
    def rule(n: int) -> dict[str, object]:
        return {"name": f"many_deletes_{n}", "filter": {"action": ["DELETE"]}, "threshold": 50}

    for n in range(MAX_OWN_RULES):
        assert tenant.admin.post("/security/rules", json=rule(n)).status_code == 201
    refused = tenant.admin.post("/security/rules", json=rule(MAX_OWN_RULES))
    assert refused.status_code == 409
    assert f"at most {MAX_OWN_RULES}" in refused.json()["detail"]
    # Deleting one makes room again.
    assert tenant.admin.delete("/security/rules/many_deletes_0").status_code == 200
    assert tenant.admin.post("/security/rules", json=rule(MAX_OWN_RULES)).status_code == 201
    listed = tenant.reader.get("/security/rules").json()["items"]
    assert sum(not r["builtin"] for r in listed) == MAX_OWN_RULES
