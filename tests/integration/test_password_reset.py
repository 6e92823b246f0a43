"""Password reset through a real SMTP server: the link arrives, works once, and ends sessions."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from tests.conftest import Tenant
from vigil.accounts import users
from vigil.accounts.tables import password_resets
from vigil.core.clock import utcnow
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction

OLD = "the old password, long enough"
NEW = "a brand new password, long too"


def make_user(tenant: Tenant) -> dict[str, Any]:
    with write_transaction(tenant.stack.engine) as conn:
        return users.create_user(
            conn, tenant_id=tenant.id, email=f"reset-{uuid.uuid4().hex[:8]}@example.com",
            name="Reset Me", role=Role.DEVELOPER, password=OLD,
        )  # fmt: skip


def anonymous(tenant: Tenant) -> httpx.Client:
    return httpx.Client(base_url=tenant.stack.base_url, headers={"X-Forwarded-For": "198.18.0.9"})


def link_token(tenant: Tenant, address: str) -> str:
    message = tenant.stack.inbox.wait_for(address)
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"http://vigil\.test/ui/reset-password\?token=(vr_[\w-]+)", body)
    assert match, body
    return match.group(1)


def test_the_emailed_link_sets_a_new_password_once(tenant: Tenant) -> None:
    user = make_user(tenant)
    with anonymous(tenant) as client:
        old_session = client.post(
            "/auth/login", json={"email": user["email"], "password": OLD}
        ).json()["token"]
        asked = client.post("/auth/password-reset", json={"email": user["email"]})
        assert asked.status_code == 202
        token = link_token(tenant, user["email"])
        done = client.post(
            "/auth/password-reset/confirm", json={"token": token, "new_password": NEW}
        )
        assert done.status_code == 200
        again = client.post(
            "/auth/password-reset/confirm", json={"token": token, "new_password": NEW + "!"}
        )
        assert again.status_code == 400
        assert (
            client.post("/auth/login", json={"email": user["email"], "password": OLD}).status_code
            == 401
        )
        assert (
            client.post("/auth/login", json={"email": user["email"], "password": NEW}).status_code
            == 200
        )
        assert (
            client.get("/auth/me", headers={"Authorization": f"Bearer {old_session}"}).status_code
            == 401
        )
    (event,) = tenant.reader.get("/audit-logs/", params={"action": "PASSWORD_RESET"}).json()[
        "items"
    ]
    assert event["user_id"] == event["resource_id"] == str(user["id"])
    assert token not in str(event)
    assert NEW not in str(tenant.reader.get("/audit-logs/export", params={"format": "json"}).text)


def test_an_unknown_email_gets_the_same_answer_and_no_mail(tenant: Tenant) -> None:
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    with anonymous(tenant) as client:
        asked = client.post("/auth/password-reset", json={"email": ghost})
    assert asked.status_code == 202
    known = make_user(tenant)
    with anonymous(tenant) as client:
        same = client.post("/auth/password-reset", json={"email": known["email"]})
    assert same.json() == asked.json()
    tenant.stack.inbox.wait_for(known["email"])  # mail sent after the answer has arrived by now
    assert tenant.stack.inbox.to(ghost) == []


def test_an_expired_link_is_refused(tenant: Tenant) -> None:
    user = make_user(tenant)
    with anonymous(tenant) as client:
        client.post("/auth/password-reset", json={"email": user["email"]})
        token = link_token(tenant, user["email"])
        with write_transaction(tenant.stack.engine) as conn:  # thirty minutes pass
            conn.execute(update(password_resets).values(expires_at=utcnow() - timedelta(seconds=1)))
        late = client.post(
            "/auth/password-reset/confirm", json={"token": token, "new_password": NEW}
        )
        assert late.status_code == 400
        assert "expired" in late.json()["detail"]


def test_a_weak_password_leaves_the_link_usable(tenant: Tenant) -> None:
    user = make_user(tenant)
    with anonymous(tenant) as client:
        client.post("/auth/password-reset", json={"email": user["email"]})
        token = link_token(tenant, user["email"])
        weak = client.post(
            "/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
        )
        assert weak.status_code == 422
        assert weak.json()["errors"][0]["field"] == "new_password"
        good = client.post(
            "/auth/password-reset/confirm", json={"token": token, "new_password": NEW}
        )
        assert good.status_code == 200


def test_an_admin_can_send_the_reset_email(tenant: Tenant) -> None:
    user = make_user(tenant)
    sent = tenant.admin.post(f"/users/{user['id']}/password-reset")
    assert sent.status_code == 202
    token = link_token(tenant, user["email"])
    with anonymous(tenant) as client:
        done = client.post(
            "/auth/password-reset/confirm", json={"token": token, "new_password": NEW}
        )
    assert done.status_code == 200
    assert tenant.admin.post(f"/users/{uuid.uuid4()}/password-reset").status_code == 404
