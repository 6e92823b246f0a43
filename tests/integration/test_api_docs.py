"""The API says what it does: its OpenAPI document, its error bodies, 405 answers, and the
routes that only a signed-in person may call."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import make_event
from vigil.accounts import users
from vigil.accounts.access import access_rules
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction

# The document is one whatever the database; the session-only routes run on both.
ON_SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
METHODS = ("get", "put", "post", "delete", "patch")
PASSWORD = "a long enough passphrase"
SESSION_ONLY = sorted(key for key, rule in access_rules().items() if rule.session_only)


def document(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, item[method])
        for path, item in doc["paths"].items()
        for method in METHODS
        if method in item
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+\}", lambda _match: str(uuid.uuid4()), path)


@ON_SQLITE
def test_every_error_answer_is_documented_with_the_one_error_body(
    anonymous: httpx.Client,
) -> None:
    doc = document(anonymous)
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["detail"]
    for method, path, operation in operations(doc):
        rule = access_rules()[f"{method} {path}"]
        documented = {int(code) for code in operation["responses"] if code.isdigit()}
        if not rule.public:
            assert {401, 403} <= documented, (method, path)
        if "{" in path:
            assert 404 in documented, (method, path)
        if operation.get("parameters") or "requestBody" in operation:
            assert 422 in documented, (method, path)
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)


def test_a_validation_error_has_the_documented_shape(tenant: Tenant) -> None:
    answer = tenant.reader.get("/audit-logs/", params={"limit": "many"})
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"].startswith("limit:")
    assert body["errors"][0]["field"] == "limit"
    assert set(body["errors"][0]) == {"field", "message"}


@ON_SQLITE
def test_bearer_is_a_security_scheme_every_guarded_route_requires(
    anonymous: httpx.Client,
) -> None:
    doc = document(anonymous)
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`vk_…`) or a session token from `POST /auth/login`",
    }
    for method, path, operation in operations(doc):
        public = access_rules()[f"{method} {path}"].public
        assert operation.get("security") == (None if public else [{"bearer": []}]), path


@ON_SQLITE
def test_the_filters_document_their_values(anonymous: httpx.Client) -> None:
    doc = document(anonymous)
    parameters = {p["name"]: p["schema"] for p in doc["paths"]["/audit-logs/"]["get"]["parameters"]}
    assert parameters["status"]["enum"] == ["SUCCESS", "FAILED"]
    assert "LOGIN_FAILED" in parameters["action"]["items"]["pattern"]
    assert {"format": "ipv4"} in parameters["ip_address"]["anyOf"]
    assert {"format": "date-time"} in parameters["start_date"]["anyOf"]
    reset = doc["components"]["schemas"]["ResetConfirmBody"]["properties"]["new_password"]
    assert (reset["minLength"], reset["maxLength"]) == (12, 256)


def test_export_media_types_are_documented_and_answered(tenant: Tenant) -> None:
    doc = document(tenant.reader)
    content = doc["paths"]["/audit-logs/export"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"text/csv", "application/json", "application/x-ndjson"}
    tenant.writer.post("/audit-logs/", json=make_event()).raise_for_status()
    for export_format, media_type in (
        ("csv", "text/csv"),
        ("json", "application/json"),
        ("ndjson", "application/x-ndjson"),
    ):
        answer = tenant.reader.get("/audit-logs/export", params={"format": export_format})
        assert answer.status_code == 200
        assert answer.headers["content-type"].split(";")[0] == media_type


@ON_SQLITE
def test_a_405_allows_every_method_the_document_gives_its_path(
    anonymous: httpx.Client,
) -> None:
    doc = document(anonymous)
    for path, item in doc["paths"].items():
        # Vigil serves no OPTIONS anywhere, so every path answers it 405.
        answer = anonymous.request("OPTIONS", concrete(path))
        assert answer.status_code == 405, path
        documented = ", ".join(sorted(method.upper() for method in item if method in METHODS))
        assert answer.headers["allow"] == documented, path
        assert answer.json()["detail"] == f"OPTIONS is not allowed here; allowed: {documented}"
    # Two routes on one path, and the ingest route served ahead of the router.
    assert anonymous.delete("/settings").headers["allow"] == "GET, PATCH"
    assert anonymous.put("/audit-logs/").headers["allow"] == "GET, POST"
    # A literal path is its own, though /audit-logs/{event_id} matches it too.
    assert anonymous.delete("/audit-logs/batch").headers["allow"] == "POST"


def sign_in(tenant: Tenant) -> httpx.Client:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    with write_transaction(tenant.stack.engine) as conn:
        users.create_user(
            conn, tenant_id=tenant.id, email=email, name="Ada", role=Role.ADMIN, password=PASSWORD
        )
    answer = httpx.post(
        f"{tenant.stack.base_url}/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    return httpx.Client(
        base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_an_api_key_on_a_session_only_route_is_told_to_sign_in(tenant: Tenant) -> None:
    assert len(SESSION_ONLY) == 8
    # Logout last: it ends the session the positive controls use.
    routes = sorted(SESSION_ONLY, key=lambda key: key == "POST /auth/logout")
    with sign_in(tenant) as person:
        for key in routes:
            method, path = key.split(" ", 1)
            url = concrete(path)
            body = {} if method == "POST" else None
            refused = tenant.admin.request(method, url, json=body)
            assert refused.status_code == 403, (key, refused.text)
            assert refused.json() == {
                "detail": "this is for a signed-in person, not an API key: sign in with "
                "POST /auth/login and send the session token instead"
            }, key
            # The same request with a session gets past the check (to its own answer).
            admitted = person.request(method, url, json=body)
            assert admitted.status_code not in (401, 403), (key, admitted.text)
        assert person.get("/auth/me").status_code == 401  # the logout took effect
