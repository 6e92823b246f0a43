"""Behind a TLS-terminating proxy: who the client is, and Secure cookies, only when the proxy
is one ``VIGIL_TRUSTED_PROXIES`` names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.integration.test_sign_in import PASSWORD, make_user
from vigil.app import create_app
from vigil.testing.server import live_server

TLS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def sign_in(base_url: str, email: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=base_url, headers=headers) as client:
        answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer


def last_sign_in(tenant: Tenant, email: str) -> dict[str, Any]:
    found = tenant.reader.get("/audit-logs/", params={"action": "LOGIN", "user_email": email})
    return found.json()["items"][0]  # type: ignore[no-any-return]


@contextmanager
def node_trusting(tenant: Tenant, proxies: str) -> Iterator[str]:
    """Another Vigil on the tenant's database, trusting only ``proxies``."""
    settings = tenant.stack.settings.model_copy(update={"trusted_proxies": proxies})
    with live_server(create_app(settings, engine=tenant.stack.engine)) as base_url:
        yield base_url


def test_a_trusted_proxy_speaks_for_the_client(tenant: Tenant) -> None:
    user = make_user(tenant)
    answer = sign_in(tenant.stack.base_url, user["email"], TLS_PROXY)  # loopback is trusted
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("vigil_session=")
    assert "secure" in cookie.lower()
    assert last_sign_in(tenant, user["email"])["ip_address"] == "203.0.113.9"


def test_the_client_is_the_first_untrusted_hop_from_the_right(tenant: Tenant) -> None:
    user = make_user(tenant)
    # What the client claims (left) is not believed past the first hop a trusted proxy saw.
    chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 127.0.0.1"}
    sign_in(tenant.stack.base_url, user["email"], chain)
    assert last_sign_in(tenant, user["email"])["ip_address"] == "203.0.113.9"


def test_an_untrusted_proxy_is_not_believed(tenant: Tenant) -> None:
    user = make_user(tenant)
    with node_trusting(tenant, "10.0.0.0/8") as base_url:
        answer = sign_in(base_url, user["email"], TLS_PROXY)
    assert "secure" not in answer.headers["set-cookie"].lower()
    assert last_sign_in(tenant, user["email"])["ip_address"] == "127.0.0.1"


def test_ingest_sees_the_client_behind_the_proxy_too(tenant: Tenant) -> None:
    """The ingest fast path runs behind the same proxy handling as every route."""
    blocked = tenant.admin.patch("/settings", json={"ip_allowlist": ["203.0.113.0/24"]})
    assert blocked.status_code == 200, blocked.text
    event = {"action": "CREATE", "resource_type": "PROJECT"}
    inside = tenant.writer.post("/audit-logs/", json=event, headers=TLS_PROXY)
    assert inside.status_code == 201, inside.text
    outside = tenant.writer.post(
        "/audit-logs/", json=event, headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert outside.status_code == 403
    assert "allowlist" in outside.json()["detail"]
