"""The console's pages answer as access.toml says: sign-in page for strangers, a page naming
the missing permission, and no form accepted without its CSRF token."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from tests.conftest import Tenant
from tests.integration.test_sign_in import PASSWORD, address, make_user
from vigil.accounts.access import access_rules
from vigil.core.permissions import Role

CONSOLE_ROUTES = sorted(key for key in access_rules() if key.split(" ", 1)[1].startswith("/ui/"))


def session(tenant: Tenant, role: Role) -> tuple[httpx.Client, dict[str, object]]:
    user = make_user(tenant, role=role)
    client = httpx.Client(base_url=tenant.stack.base_url, headers={"X-Forwarded-For": address()})
    answer = client.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert answer.status_code == 200
    return client, user  # the client now carries the session cookie


@pytest.fixture
def browsers(tenant: Tenant) -> Iterator[dict[str, tuple[httpx.Client, dict[str, object]]]]:
    made = {role.value: session(tenant, role) for role in (Role.DEVELOPER, Role.ADMIN)}
    yield made
    for client, _user in made.values():
        client.close()


def fetch(client: httpx.Client, path: str) -> httpx.Response:
    """``GET path``; a live stream that opens is not read on (it would never end)."""
    with client.stream("GET", path) as answer:
        if not answer.headers.get("content-type", "").startswith("text/event-stream"):
            answer.read()
    return answer


def concrete(path: str, user_id: object) -> str:
    # A real user; for anything else a made-up id, which a permitted caller finds missing.
    return re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), path.replace("{user_id}", str(user_id)))


@pytest.mark.parametrize("route", [r for r in CONSOLE_ROUTES if r.startswith("GET ")])
def test_every_page_answers_each_role_as_the_rules_say(
    tenant: Tenant, browsers: dict[str, tuple[httpx.Client, dict[str, object]]], route: str
) -> None:
    path = route.split(" ", 1)[1]
    rule = access_rules()[route]
    with httpx.Client(base_url=tenant.stack.base_url) as stranger:
        target = concrete(path, browsers["ADMIN"][1]["id"])
        answer = fetch(stranger, target)
        if rule.public:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/ui/login?next=")
    for role, (client, user) in browsers.items():
        answer = fetch(client, concrete(path, user["id"]))
        if rule.public:
            assert answer.status_code == 200, (role, answer.text)
            continue
        allowed = not rule.any_of or role == "ADMIN"  # developers hold no permission
        found = (200, 303, 404) if "{alert_id}" in path else (200, 303)
        assert answer.status_code in (found if allowed else (403,)), (role, route)
        if not allowed:
            assert rule.describe() in answer.text


def test_pages_carry_a_strict_content_security_policy(tenant: Tenant) -> None:
    answer = httpx.get(f"{tenant.stack.base_url}/ui/login")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert '<script src="/ui/static/console.js' in answer.text
    assert not re.search(r"<script>|\son[a-z]+=", answer.text)  # no inline script anywhere


def test_a_form_without_its_token_is_refused_and_changes_nothing(tenant: Tenant) -> None:
    client, _admin = session(tenant, Role.ADMIN)
    with closing(client):
        answer = client.post(
            "/ui/users", data={"email": "forged@example.com", "name": "Forged", "role": "ADMIN"}
        )
        assert answer.status_code == 403
        assert "reload the page" in answer.text
        page = client.get("/ui/users").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        forged_origin = client.post(
            "/ui/users",
            data={
                "csrf_token": token.group(1),
                "email": "x@example.com",
                "name": "X",
                "role": "DEVELOPER",
            },
            headers={"Origin": "https://evil.example"},
        )
        assert forged_origin.status_code == 403
        made = client.post(
            "/ui/users",
            data={
                "csrf_token": token.group(1),
                "email": "ok@example.com",
                "name": "Ok",
                "role": "DEVELOPER",
            },
        )
        assert made.status_code == 303
    emails = [u["email"] for u in tenant.reader.get("/users").json()["items"]]
    assert "ok@example.com" in emails
    assert "forged@example.com" not in emails
    assert "x@example.com" not in emails


def test_another_sessions_token_does_not_fit(tenant: Tenant) -> None:
    mine, _ = session(tenant, Role.ADMIN)
    theirs, _ = session(tenant, Role.ADMIN)
    with closing(mine), closing(theirs):
        token = re.search(r'name="csrf_token" value="([^"]+)"', theirs.get("/ui/users").text)
        assert token
        answer = mine.post(
            "/ui/users",
            data={
                "csrf_token": token.group(1),
                "email": "y@example.com",
                "name": "Y",
                "role": "DEVELOPER",
            },
        )
        assert answer.status_code == 403


def test_the_sign_in_form_needs_its_token_too(tenant: Tenant) -> None:
    user = make_user(tenant)
    with httpx.Client(base_url=tenant.stack.base_url) as client:
        answer = client.post("/ui/login", data={"email": user["email"], "password": PASSWORD})
        assert answer.status_code == 403
        assert "vigil_session" not in client.cookies


def test_a_bad_filter_is_named_on_the_page(tenant: Tenant) -> None:
    client, _ = session(tenant, Role.ADMIN)
    with closing(client):
        answer = client.get("/ui/activity", params={"from": "last tuesday"})
        assert answer.status_code == 200
        assert "From: " in answer.text
        assert (
            client.get("/ui/activity", params={"action": "DANCE"}).text.count(
                "Action: unknown value"
            )
            == 1
        )
        assert client.get("/ui/users/not-a-user").status_code == 404
        for page in ("/ui/security", "/ui/users", "/ui/activity"):
            assert client.get(page, params={"page": "²"}).status_code == 200
