"""User management over the API, each change recorded as an event."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, TenantFactory
from tests.helpers import own_details
from vigil.accounts import service as accounts
from vigil.accounts import users
from vigil.core.permissions import Permission, Role
from vigil.db.engine import write_transaction

PASSWORD = "a long enough password"


def new_user(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {
        "email": f"u-{uuid.uuid4().hex[:8]}@example.com",
        "name": "Dana Scully",
        "role": "DEVELOPER",
    }
    body.update(fields)
    answer = tenant.admin.post("/users", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def user_events(tenant: Tenant, user_id: str) -> list[dict[str, Any]]:
    return tenant.reader.get(
        "/audit-logs/", params={"resource_type": "USER", "resource_id": user_id}
    ).json()["items"]  # type: ignore[no-any-return]


def key_client(tenant: Tenant, scopes: frozenset[Permission]) -> httpx.Client:
    with write_transaction(tenant.stack.engine) as conn:
        key, _ = accounts.create_api_key(conn, tenant_id=tenant.id, name="limited", scopes=scopes)
    return httpx.Client(base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {key}"})


def test_create_shows_the_user_and_records_it_without_the_password(tenant: Tenant) -> None:
    user = new_user(tenant, email="Fox.Mulder@Example.com", role="ADMIN", password=PASSWORD)
    assert user["email"] == "fox.mulder@example.com"
    assert user["permissions"] == ["USER_MANAGE", "USER_VIEW"]
    assert user["status"] == "ACTIVE"
    assert user["two_factor_enabled"] is False
    assert user["last_login_at"] is None
    assert "password" not in user
    assert "password_hash" not in user
    (event,) = user_events(tenant, user["id"])
    assert event["action"] == "CREATE"
    assert own_details(event) == {
        "email": "fox.mulder@example.com",
        "name": "Dana Scully",
        "role": "ADMIN",
    }
    assert event["user_id"].startswith("apikey:")
    assert event["ip_address"] == "127.0.0.1"
    assert PASSWORD not in str(event)


def test_an_email_is_one_account_in_the_whole_installation(tenant_factory: TenantFactory) -> None:
    first, second = tenant_factory(), tenant_factory()
    email = f"only-{uuid.uuid4().hex[:6]}@example.com"
    new_user(first, email=email)
    for tenant in (first, second):
        again = tenant.admin.post(
            "/users", json={"email": email.upper(), "name": "X", "role": "DEVELOPER"}
        )
        assert again.status_code == 409


def test_list_searches_filters_sorts_and_pages(tenant: Tenant) -> None:
    tag = uuid.uuid4().hex[:6]
    new_user(tenant, email=f"zed-{tag}@example.com", name="Walter Skinner", role="ADMIN")
    new_user(tenant, email=f"amy-{tag}@example.com", name="Monica Reyes")
    new_user(tenant, email=f"bob-{tag}@example.com", name="John Doggett", role="TESTER")
    by_name = tenant.reader.get("/users", params={"q": "skinner"}).json()
    assert [u["name"] for u in by_name["items"]] == ["Walter Skinner"]
    by_email = tenant.reader.get("/users", params={"q": f"amy-{tag}"}).json()
    assert [u["name"] for u in by_email["items"]] == ["Monica Reyes"]
    testers = tenant.reader.get("/users", params={"role": "TESTER"}).json()
    assert [u["name"] for u in testers["items"]] == ["John Doggett"]
    page = tenant.reader.get("/users", params={"limit": 2, "sort": "email"}).json()
    assert page["total"] == 3
    assert [u["email"][:3] for u in page["items"]] == ["amy", "bob"]
    rest = tenant.reader.get("/users", params={"limit": 2, "offset": 2}).json()
    assert [u["email"][:3] for u in rest["items"]] == ["zed"]
    bad = tenant.reader.get("/users", params={"role": "OVERLORD"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "role"


def test_users_of_another_tenant_are_not_found(tenant_factory: TenantFactory) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    user = new_user(mine)
    assert mine.reader.get(f"/users/{user['id']}").json()["email"] == user["email"]
    assert theirs.reader.get(f"/users/{user['id']}").status_code == 404
    assert theirs.admin.patch(f"/users/{user['id']}", json={"name": "x"}).status_code == 404
    assert theirs.admin.delete(f"/users/{user['id']}").status_code == 404
    assert user["email"] not in str(theirs.reader.get("/users").json())


def test_one_change_is_recorded_as_old_and_new_value(tenant: Tenant) -> None:
    user = new_user(tenant)
    changed = tenant.admin.patch(f"/users/{user['id']}", json={"role": "ADMIN"})
    assert changed.status_code == 200
    assert changed.json()["role"] == "ADMIN"
    update = user_events(tenant, user["id"])[0]
    assert update["action"] == "UPDATE"
    assert own_details(update) == {
        "changed_fields": ["role"],
        "old_value": "DEVELOPER",
        "new_value": "ADMIN",
    }


def test_several_changes_are_recorded_field_by_field(tenant: Tenant) -> None:
    user = new_user(tenant)
    tenant.admin.patch(
        f"/users/{user['id']}", json={"name": "Dana K. Scully", "permissions": ["USER_VIEW"]}
    )
    update = user_events(tenant, user["id"])[0]
    assert own_details(update) == {
        "changed_fields": ["name", "permissions"],
        "changes": {
            "name": {"old": "Dana Scully", "new": "Dana K. Scully"},
            "permissions": {"old": [], "new": ["USER_VIEW"]},
        },
    }
    assert tenant.reader.get(f"/users/{user['id']}").json()["permissions"] == ["USER_VIEW"]


def test_a_change_to_nothing_records_nothing(tenant: Tenant) -> None:
    user = new_user(tenant)
    assert tenant.admin.patch(f"/users/{user['id']}", json={"role": "DEVELOPER"}).status_code == 200
    assert [e["action"] for e in user_events(tenant, user["id"])] == ["CREATE"]


def test_nobody_grants_more_than_they_hold(tenant: Tenant) -> None:
    # Keys rank as ADMINs at most: only a SUPER_ADMIN (or an operator's command) makes another.
    assert (
        tenant.admin.post(
            "/users", json={"email": "s2@example.com", "name": "S", "role": "SUPER_ADMIN"}
        ).status_code
        == 403
    )
    with key_client(tenant, frozenset({Permission.USER_MANAGE})) as manager:
        above = manager.post(
            "/users", json={"email": "sa@example.com", "name": "S", "role": "SUPER_ADMIN"}
        )
        assert above.status_code == 403
        assert "SUPER_ADMIN" in above.json()["detail"]
        extra = manager.post(
            "/users",
            json={
                "email": "w@example.com",
                "name": "W",
                "role": "DEVELOPER",
                "permissions": ["EVENTS_WRITE"],
            },
        )
        assert extra.status_code == 403
        assert "EVENTS_WRITE" in extra.json()["detail"]
        with write_transaction(tenant.stack.engine) as conn:
            boss = users.create_user(
                conn, tenant_id=tenant.id, email=f"boss-{uuid.uuid4().hex[:6]}@example.com",
                name="Boss", role=Role.SUPER_ADMIN, password=None,
            )  # fmt: skip
        assert manager.patch(f"/users/{boss['id']}", json={"name": "x"}).status_code == 403
        assert manager.delete(f"/users/{boss['id']}").status_code == 403


def test_delete_disables_revokes_keys_and_keeps_the_history(tenant: Tenant) -> None:
    user = new_user(tenant, email=f"leaving-{uuid.uuid4().hex[:6]}@example.com")
    with write_transaction(tenant.stack.engine) as conn:
        key, _ = accounts.create_api_key(
            conn,
            tenant_id=tenant.id,
            name="theirs",
            scopes=frozenset({Permission.USER_VIEW}),
            user_id=uuid.UUID(user["id"]),
        )
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        assert client.get("/users").status_code == 200  # used, so this node remembers it
    gone = tenant.admin.delete(f"/users/{user['id']}")
    assert gone.status_code == 200
    assert gone.json()["status"] == "DISABLED"
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {key}"}
    ) as client:
        assert client.get("/users").status_code == 401
    history = user_events(tenant, user["id"])
    assert [e["action"] for e in history] == ["DELETE", "CREATE"]
    assert history[0]["details"]["email"] == user["email"]
    assert tenant.reader.get("/users", params={"status": "DISABLED"}).json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope", "name": "N", "role": "DEVELOPER"}, "email"),
        ({"email": "n@example.com", "name": "N", "role": "OVERLORD"}, "role"),
        ({"email": "n@example.com", "name": "", "role": "DEVELOPER"}, "name"),
        (
            {"email": "n@example.com", "name": "N", "role": "DEVELOPER", "password": "short"},
            "password",
        ),
        (
            {
                "email": "n@example.com",
                "name": "N",
                "role": "DEVELOPER",
                "password": "n@example.com",
            },
            "password",
        ),
        (
            {"email": "n@example.com", "name": "N", "role": "DEVELOPER", "permissions": ["ROOT"]},
            "permissions[0]",
        ),
        ({"email": "n@example.com", "name": "N", "role": "DEVELOPER", "admin": True}, "admin"),
    ],
)
def test_bad_user_input_names_the_field(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    answer = tenant.admin.post("/users", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert tenant.reader.get("/users").json()["total"] == 0


def test_null_in_a_change_is_refused(tenant: Tenant) -> None:
    user = new_user(tenant)
    answer = tenant.admin.patch(f"/users/{user['id']}", json={"role": None})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "role"
