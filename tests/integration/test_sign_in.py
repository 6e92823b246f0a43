"""Signing in and out: sessions, one answer for every failure, lockout, throttling."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import Tenant, TenantFactory
from tests.helpers import own_details
from vigil.accounts import users
from vigil.accounts.tables import users as users_table
from vigil.core.clock import utcnow
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"
_addresses = itertools.count(1)


def address() -> str:
    """A client address of the test's own, so throttling never spills between tests."""
    n = next(_addresses)
    return f"203.0.{n // 250}.{n % 250 + 1}"


def make_user(
    tenant: Tenant, role: Role = Role.ADMIN, password: str | None = PASSWORD
) -> dict[str, Any]:
    with write_transaction(tenant.stack.engine) as conn:
        return users.create_user(
            conn, tenant_id=tenant.id, email=f"user-{uuid.uuid4().hex[:8]}@example.com",
            name="Dana", role=role, password=password,
        )  # fmt: skip


def sign_in(
    where: Tenant, email: str, password: str, ip: str, *, tenant: str | None = None
) -> httpx.Response:
    body = {"email": email, "password": password, **({"tenant": tenant} if tenant else {})}
    headers = {"X-Forwarded-For": ip, "User-Agent": "test-browser/1"}
    with httpx.Client(base_url=where.stack.base_url, headers=headers) as client:
        return client.post("/auth/login", json=body)


def failures(tenant: Tenant) -> list[dict[str, Any]]:
    return tenant.reader.get("/audit-logs/", params={"action": "LOGIN_FAILED"}).json()["items"]  # type: ignore[no-any-return]


def test_sign_in_opens_a_session_and_records_it(tenant: Tenant) -> None:
    user = make_user(tenant)
    ip = address()
    answer = sign_in(tenant, user["email"].upper(), PASSWORD, ip)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token"].startswith("vs_")
    assert body["user"]["email"] == user["email"]
    assert body["user"]["last_login_at"] is not None
    assert body["expires_at"].endswith("Z")
    cookie = answer.headers["set-cookie"]
    assert "vigil_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    (event,) = tenant.reader.get("/audit-logs/", params={"action": "LOGIN"}).json()["items"]
    assert event["user_id"] == event["resource_id"] == str(user["id"])
    assert own_details(event) == {"login_method": "email_password", "tenant_name": tenant.name}
    assert event["ip_address"] == ip
    assert event["user_agent"] == "test-browser/1"
    assert body["token"] not in str(event)


def test_a_session_carries_the_users_permissions(tenant: Tenant) -> None:
    admin, developer = make_user(tenant), make_user(tenant, Role.DEVELOPER)
    admin_token = sign_in(tenant, admin["email"], PASSWORD, address()).json()["token"]
    developer_token = sign_in(tenant, developer["email"], PASSWORD, address()).json()["token"]
    with httpx.Client(base_url=tenant.stack.base_url) as client:
        bearer = {"Authorization": f"Bearer {admin_token}"}
        assert client.get("/audit-logs/", headers=bearer).status_code == 200
        refused = client.get("/audit-logs/", headers={"Authorization": f"Bearer {developer_token}"})
        assert refused.status_code == 403
        me = client.get("/auth/me", headers={"Authorization": f"Bearer {developer_token}"}).json()
        assert me["email"] == developer["email"]
        assert me["permissions"] == []


def test_the_cookie_authenticates_reads_but_not_writes(tenant: Tenant) -> None:
    admin = make_user(tenant)
    token = sign_in(tenant, admin["email"], PASSWORD, address()).json()["token"]
    with httpx.Client(base_url=tenant.stack.base_url, cookies={"vigil_session": token}) as browser:
        assert browser.get("/users").status_code == 200
        forged = browser.post(
            "/users", json={"email": "x@example.com", "name": "X", "role": "DEVELOPER"}
        )
        assert forged.status_code == 401


@pytest.mark.parametrize("cause", ["wrong password", "unknown email", "disabled", "no password"])
def test_every_failure_gets_the_same_answer_and_is_recorded(tenant: Tenant, cause: str) -> None:
    user = make_user(tenant, password=None if cause == "no password" else PASSWORD)
    email, password = user["email"], PASSWORD
    if cause == "wrong password":
        password = "not the right password"
    elif cause == "unknown email":
        email = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    elif cause == "disabled":
        tenant.admin.delete(f"/users/{user['id']}")
    answer = sign_in(tenant, email, password, address(), tenant=tenant.name)
    assert answer.status_code == 401
    assert answer.json() == {"detail": "invalid email or password"}
    assert "set-cookie" not in answer.headers
    (event,) = failures(tenant)
    assert event["status"] == "FAILED"
    assert event["details"]["attempted_email"] == email
    expected_reason = {
        "wrong password": "invalid password",
        "unknown email": "unknown email",
        "disabled": "account disabled",
        "no password": "no password set",
    }[cause]
    assert event["details"]["reason"] == expected_reason
    if cause == "unknown email":
        assert event["user_id"] is None
    else:
        assert event["user_id"] == event["resource_id"] == str(user["id"])
    assert PASSWORD not in str(event)


def test_unknown_emails_without_a_tenant_are_recorded_nowhere(
    tenant_factory: TenantFactory,
) -> None:
    tenant, _other = tenant_factory(), tenant_factory()
    answer = sign_in(tenant, f"ghost-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, address())
    assert answer.status_code == 401
    assert failures(tenant) == []


def test_ten_failures_lock_the_account_until_the_lock_expires(tenant: Tenant) -> None:
    user = make_user(tenant)
    ip = address()
    for _ in range(10):
        assert sign_in(tenant, user["email"], "wrong password here", ip).status_code == 401
    locked = sign_in(tenant, user["email"], PASSWORD, ip)
    assert locked.status_code == 401
    assert locked.json() == {"detail": "invalid email or password"}
    assert failures(tenant)[0]["details"]["reason"] == "account locked"
    with write_transaction(tenant.stack.engine) as conn:  # thirty minutes pass
        conn.execute(
            update(users_table)
            .where(users_table.c.id == user["id"])
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert sign_in(tenant, user["email"], PASSWORD, ip).status_code == 200


def test_one_address_failing_too_often_is_slowed_down(tenant: Tenant) -> None:
    ip = address()
    limit = tenant.stack.settings.login_attempts_per_ip
    for _ in range(limit):
        assert (
            sign_in(
                tenant, f"guess-{uuid.uuid4().hex[:6]}@example.com", "password guess", ip
            ).status_code
            == 401
        )
    throttled = sign_in(tenant, "anyone@example.com", "password guess", ip)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    assert sign_in(tenant, "anyone@example.com", "password guess", address()).status_code == 401


def test_sign_out_ends_the_session(tenant: Tenant) -> None:
    user = make_user(tenant)
    token = sign_in(tenant, user["email"], PASSWORD, address()).json()["token"]
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert client.get("/auth/me").status_code == 200
        out = client.post("/auth/logout")
        assert out.status_code == 204
        assert 'vigil_session=""' in out.headers["set-cookie"]
        assert client.get("/auth/me").status_code == 401
    (event,) = tenant.reader.get("/audit-logs/", params={"action": "LOGOUT"}).json()["items"]
    assert event["user_id"] == str(user["id"])


def test_disabling_a_user_ends_their_sessions(tenant: Tenant) -> None:
    user = make_user(tenant)
    token = sign_in(tenant, user["email"], PASSWORD, address()).json()["token"]
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert client.get("/auth/me").status_code == 200
        assert tenant.admin.delete(f"/users/{user['id']}").status_code == 200
        assert client.get("/auth/me").status_code == 401


def test_an_api_key_cannot_sign_out(tenant: Tenant) -> None:
    answer = tenant.admin.post("/auth/logout")
    assert answer.status_code == 403
    assert "not an API key" in answer.json()["detail"]


def test_a_demotion_takes_effect_on_the_next_request(tenant: Tenant) -> None:
    admin = make_user(tenant)
    token = sign_in(tenant, admin["email"], PASSWORD, address()).json()["token"]
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        assert client.get("/audit-logs/").status_code == 200
        demoted = tenant.admin.patch(f"/users/{admin['id']}", json={"role": "DEVELOPER"})
        assert demoted.status_code == 200
        assert client.get("/audit-logs/").status_code == 403


def test_changing_the_password_keeps_this_session_and_ends_the_others(tenant: Tenant) -> None:
    user = make_user(tenant)
    first = sign_in(tenant, user["email"], PASSWORD, address()).json()["token"]
    second = sign_in(tenant, user["email"], PASSWORD, address()).json()["token"]
    new_password = NEW_PASSWORD
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {first}"}
    ) as client:
        wrong = client.post(
            "/auth/password",
            json={"current_password": "not it at all", "new_password": new_password},
        )
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "current_password"
        short = client.post(
            "/auth/password", json={"current_password": PASSWORD, "new_password": "x"}
        )
        assert short.json()["errors"][0]["field"] == "new_password"
        changed = client.post(
            "/auth/password", json={"current_password": PASSWORD, "new_password": new_password}
        )
        assert changed.status_code == 200
        assert client.get("/auth/me").status_code == 200
    other = httpx.get(
        f"{tenant.stack.base_url}/auth/me", headers={"Authorization": f"Bearer {second}"}
    )
    assert other.status_code == 401
    assert sign_in(tenant, user["email"], PASSWORD, address()).status_code == 401
    assert sign_in(tenant, user["email"], new_password, address()).status_code == 200
    (event,) = tenant.reader.get(
        "/audit-logs/", params={"action": "UPDATE", "resource_id": str(user["id"])}
    ).json()["items"]
    assert own_details(event) == {"changed_fields": ["password"], "sessions_ended": 1}
    assert event["user_id"] == str(user["id"])


def test_wrong_current_passwords_count_towards_lockout(tenant: Tenant) -> None:
    user = make_user(tenant)
    token = sign_in(tenant, user["email"], PASSWORD, address()).json()["token"]
    body = {"current_password": "a wrong guess here", "new_password": "whatever it is now"}
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for _ in range(tenant.stack.settings.lockout_threshold):
            assert client.post("/auth/password", json=body).status_code == 422
    assert sign_in(tenant, user["email"], PASSWORD, address()).status_code == 401
    assert failures(tenant)[0]["details"]["reason"] == "account locked"
