"""A tenant's IP allowlist: outsiders are refused, and an operator can always reopen it."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import Tenant
from tests.helpers import eventually, own_details
from tests.integration.test_cli import run_vigil
from vigil.accounts import users
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction

INSIDE = "203.0.113.77"
OUTSIDE = "198.51.100.9"
PASSWORD = "an allowlisted password"


def from_address(tenant: Tenant, client: httpx.Client, address: str) -> httpx.Client:
    return httpx.Client(
        base_url=tenant.stack.base_url,
        headers={**client.headers, "X-Forwarded-For": address},
    )


def test_only_listed_addresses_get_in(tenant: Tenant) -> None:
    with from_address(tenant, tenant.admin, INSIDE) as admin:
        changed = admin.patch(
            "/settings", json={"ip_allowlist": ["203.0.113.5/24", "2001:db8::/32"]}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["ip_allowlist"] == ["203.0.113.0/24", "2001:db8::/32"]
        assert admin.get("/audit-logs/").status_code == 200
    with from_address(tenant, tenant.admin, OUTSIDE) as outsider:
        refused = outsider.get("/audit-logs/")
        assert refused.status_code == 403
        assert "allowlist" in refused.json()["detail"]
    assert tenant.admin.get("/audit-logs/").status_code == 403  # loopback is not listed either
    with from_address(tenant, tenant.reader, INSIDE) as reader:
        (event,) = reader.get("/audit-logs/", params={"resource_type": "SETTINGS"}).json()["items"]
    assert own_details(event) == {
        "changed_fields": ["ip_allowlist"],
        "old_value": [],
        "new_value": ["203.0.113.0/24", "2001:db8::/32"],
    }


def test_a_sign_in_from_outside_fails_and_says_why_in_the_log(tenant: Tenant) -> None:
    with write_transaction(tenant.stack.engine) as conn:
        user = users.create_user(
            conn, tenant_id=tenant.id, email=f"listed-{uuid.uuid4().hex[:6]}@example.com",
            name="Listed", role=Role.ADMIN, password=PASSWORD,
        )  # fmt: skip
    tenant.admin.patch("/settings", json={"ip_allowlist": ["203.0.113.0/24"]})
    body = {"email": user["email"], "password": PASSWORD}
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"X-Forwarded-For": OUTSIDE}
    ) as outside:
        refused = outside.post("/auth/login", json=body)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "invalid email or password"}
    with httpx.Client(
        base_url=tenant.stack.base_url, headers={"X-Forwarded-For": INSIDE}
    ) as inside:
        assert inside.post("/auth/login", json=body).status_code == 200
    with from_address(tenant, tenant.reader, INSIDE) as reader:
        failed = reader.get("/audit-logs/", params={"action": "LOGIN_FAILED"}).json()["items"]
    assert [e["details"]["reason"] for e in failed] == ["ip not allowed"]
    assert failed[0]["ip_address"] == OUTSIDE


def test_a_malformed_range_is_refused(tenant: Tenant) -> None:
    answer = tenant.admin.patch("/settings", json={"ip_allowlist": ["10.0.0.0/8", "not-a-range"]})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "ip_allowlist"
    assert "not-a-range" in answer.json()["detail"]
    assert tenant.admin.get("/settings").json()["ip_allowlist"] == []


def test_the_operator_can_clear_a_lock_out(tenant: Tenant) -> None:
    tenant.admin.patch("/settings", json={"ip_allowlist": ["192.0.2.1/32"]})
    assert tenant.admin.get("/settings").status_code == 403
    cleared = run_vigil(tenant.stack, "tenant", "allow-ip", "--tenant", tenant.name, "--clear")
    assert cleared.returncode == 0, cleared.stderr
    assert "every address is allowed" in cleared.stderr
    # Other processes' credentials are re-read within a few seconds.
    eventually(
        lambda: tenant.admin.get("/settings").status_code,
        lambda status: status == 200,
        what="the cleared allowlist to take effect (GET /settings answering 200)",
        timeout=15,
        interval=0.5,
    )
    assert tenant.admin.get("/settings").json()["ip_allowlist"] == []
