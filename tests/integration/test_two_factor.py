"""Two-factor authentication with TOTP codes (pyotp plays the authenticator app)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pyotp

from tests.conftest import Tenant
from tests.helpers import own_details
from tests.integration.test_sign_in import PASSWORD, address, make_user, sign_in
from vigil.accounts.users import get_user
from vigil.core.permissions import Role


def signed_in(tenant: Tenant, user: dict[str, Any]) -> httpx.Client:
    token = sign_in(tenant, user["email"], PASSWORD, address()).json()["token"]
    return httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {token}"}
    )


def code_at(secret: str, steps_ahead: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def turn_on(tenant: Tenant, user: dict[str, Any]) -> tuple[str, list[str], str]:
    with signed_in(tenant, user) as client:
        setup = client.post("/auth/2fa/setup").json()
        assert setup["otpauth_uri"].startswith("otpauth://totp/Vigil:")
        assert setup["qr_svg"].startswith("<svg")
        enabling_code = code_at(setup["secret"], 0)
        enabled = client.post("/auth/2fa/enable", json={"code": enabling_code})
        assert enabled.status_code == 200, enabled.text
    return setup["secret"], enabled.json()["recovery_codes"], enabling_code


def login(tenant: Tenant, user: dict[str, Any], code: str | None) -> httpx.Response:
    body = {"email": user["email"], "password": PASSWORD, **({"totp_code": code} if code else {})}
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"X-Forwarded-For": address()}
    ) as client:
        return client.post("/auth/login", json=body)


def reasons(tenant: Tenant) -> list[str]:
    items = tenant.reader.get("/audit-logs/", params={"action": "LOGIN_FAILED"}).json()["items"]
    return [e["details"]["reason"] for e in reversed(items)]


def test_turning_it_on_is_recorded_and_shown(tenant: Tenant) -> None:
    user = make_user(tenant)
    secret, recovery, _code = turn_on(tenant, user)
    assert len(recovery) == 10
    assert len(set(recovery)) == 10
    assert tenant.reader.get(f"/users/{user['id']}").json()["two_factor_enabled"] is True
    updates = tenant.reader.get(
        "/audit-logs/", params={"action": "UPDATE", "resource_id": str(user["id"])}
    ).json()["items"]
    assert own_details(updates[0]) == {
        "changed_fields": ["two_factor_enabled"],
        "old_value": False,
        "new_value": True,
    }
    text = tenant.reader.get("/audit-logs/export", params={"format": "json"}).text
    assert secret not in text
    assert not any(code in text for code in recovery)


def test_sign_in_needs_a_fresh_code(tenant: Tenant) -> None:
    user = make_user(tenant)
    secret, _recovery, enabling_code = turn_on(tenant, user)
    assert login(tenant, user, None).status_code == 401
    assert login(tenant, user, enabling_code).status_code == 401  # already used once
    fresh = code_at(secret, 1)
    assert login(tenant, user, fresh).status_code == 200
    assert login(tenant, user, fresh).status_code == 401  # and now this one
    assert reasons(tenant) == [
        "two-factor code required",
        "invalid two-factor code",
        "invalid two-factor code",
    ]


def test_a_recovery_code_works_once(tenant: Tenant) -> None:
    user = make_user(tenant)
    _secret, recovery, _code = turn_on(tenant, user)
    assert login(tenant, user, recovery[0].upper()).status_code == 200
    assert login(tenant, user, recovery[0]).status_code == 401
    assert login(tenant, user, recovery[1]).status_code == 200


def test_turning_it_off_takes_a_code(tenant: Tenant) -> None:
    user = make_user(tenant)
    _secret, recovery, _code = turn_on(tenant, user)
    token = login(tenant, user, recovery[0]).json()["token"]
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        wrong = client.post("/auth/2fa/disable", json={"code": "000000"})
        assert wrong.status_code == 422
        assert client.post("/auth/2fa/disable", json={"code": recovery[1]}).status_code == 200
    assert login(tenant, user, None).status_code == 200
    assert tenant.reader.get(f"/users/{user['id']}").json()["two_factor_enabled"] is False


def test_a_wrong_code_does_not_turn_it_on(tenant: Tenant) -> None:
    user = make_user(tenant)
    with signed_in(tenant, user) as client:
        client.post("/auth/2fa/setup")
        refused = client.post("/auth/2fa/enable", json={"code": "123456"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "code"
    assert login(tenant, user, None).status_code == 200


def test_api_keys_have_no_second_factor(tenant: Tenant) -> None:
    answer = tenant.admin.post("/auth/2fa/setup")
    assert answer.status_code == 403
    assert "not an API key" in answer.json()["detail"]


def test_the_secret_is_sealed_in_the_database(tenant: Tenant) -> None:
    user = make_user(tenant)
    secret, _recovery, _code = turn_on(tenant, user)
    with tenant.stack.engine.connect() as conn:
        stored = get_user(conn, tenant_id=tenant.id, user_id=user["id"])["totp_secret"]
    assert secret not in stored
    assert stored.startswith("sealed:v1:")


def test_required_2fa_limits_an_admin_to_setting_it_up(tenant: Tenant) -> None:
    admin, developer = make_user(tenant), make_user(tenant, role=Role.DEVELOPER)
    assert tenant.admin.patch("/settings", json={"require_2fa_for_admins": True}).status_code == 200

    assert login(tenant, developer, None).json()["two_factor_setup_required"] is False
    answer = login(tenant, admin, None)
    assert answer.status_code == 200
    assert answer.json()["two_factor_setup_required"] is True
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    with httpx.Client(base_url=tenant.stack.base_url, headers=headers) as client:
        refused = client.get("/audit-logs/")
        assert refused.status_code == 403
        assert "two-factor" in refused.json()["detail"]
        assert client.get("/auth/me").json()["two_factor_setup_required"] is True
        setup = client.post("/auth/2fa/setup").json()
        enabled = client.post("/auth/2fa/enable", json={"code": code_at(setup["secret"], 0)})
        assert enabled.is_success
        # The same session, now a full one.
        assert client.get("/audit-logs/").status_code == 200
        assert client.get("/auth/me").json()["two_factor_setup_required"] is False
        # And 2FA cannot be turned off while the tenant requires it.
        kept = client.post("/auth/2fa/disable", json={"code": code_at(setup["secret"], 1)})
        assert kept.status_code == 409
    assert login(tenant, admin, None).status_code == 401  # the second factor is now needed


def test_requiring_2fa_reaches_open_sessions(tenant: Tenant) -> None:
    admin = make_user(tenant)
    with signed_in(tenant, admin) as client:
        assert client.get("/users").status_code == 200
        tenant.admin.patch("/settings", json={"require_2fa_for_admins": True})
        assert client.get("/users").status_code == 403
        tenant.admin.patch("/settings", json={"require_2fa_for_admins": False})
        assert client.get("/users").status_code == 200


def test_a_code_in_other_digits_is_a_plain_failure(tenant: Tenant) -> None:
    user = make_user(tenant)
    turn_on(tenant, user)
    assert login(tenant, user, "²²²²²²").status_code == 401
    assert login(tenant, user, "١٢٣٤٥٦").status_code == 401
