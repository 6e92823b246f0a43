"""``last_active_at`` follows what signed-in users do, not only when they sign in."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant
from tests.integration.test_sign_in import PASSWORD, address, make_user
from vigil.accounts import service as accounts
from vigil.app import create_app
from vigil.core.permissions import Permission
from vigil.db.engine import write_transaction
from vigil.testing.server import live_server


def test_last_active_moves_with_requests_and_is_written_by_shutdown(tenant: Tenant) -> None:
    user = make_user(tenant)
    # A node of its own, so stopping it (which writes what it noted) leaves the others be.
    app = create_app(tenant.stack.settings, engine=tenant.stack.engine)
    with live_server(app) as base_url, httpx.Client(base_url=base_url) as client:
        login = client.post(
            "/auth/login",
            json={"email": user["email"], "password": PASSWORD},
            headers={"X-Forwarded-For": address()},
        )
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        signed_in_at = login.json()["user"]["last_active_at"]
        assert client.get("/users", headers=headers).status_code == 200
    shown = tenant.reader.get(f"/users/{user['id']}").json()
    assert shown["last_login_at"] == signed_in_at
    assert shown["last_active_at"] > signed_in_at


def test_api_keys_do_not_count_as_anyones_activity(tenant: Tenant) -> None:
    # The key is the user's own, and its node is stopped after use, which writes all it saw.
    user = make_user(tenant)
    with write_transaction(tenant.stack.engine) as conn:
        key, _row = accounts.create_api_key(
            conn,
            tenant_id=tenant.id,
            name="own key",
            scopes=frozenset({Permission.USER_VIEW}),
            user_id=user["id"],
        )
    app = create_app(tenant.stack.settings, engine=tenant.stack.engine)
    with live_server(app) as base_url:
        answer = httpx.get(f"{base_url}/users", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
    assert tenant.reader.get(f"/users/{user['id']}").json()["last_active_at"] is None
