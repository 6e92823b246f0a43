"""API keys over the API: shown once, never beyond the issuer's permissions, revoked at once."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Tenant, TenantFactory
from tests.helpers import make_event
from vigil.accounts import service as accounts
from vigil.core.permissions import Permission
from vigil.db.engine import write_transaction


def client_for(tenant: Tenant, key: str) -> httpx.Client:
    return httpx.Client(base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {key}"})


def test_a_key_is_shown_once_and_works_for_its_scopes(tenant: Tenant) -> None:
    made = tenant.admin.post(
        "/api-keys", json={"name": "billing service", "scopes": ["EVENTS_WRITE"]}
    )
    assert made.status_code == 201
    body = made.json()
    key = body["key"]
    assert key.startswith(body["prefix"])
    listed = tenant.admin.get("/api-keys").json()["items"]
    assert body["id"] in [k["id"] for k in listed]
    assert key not in str(listed)
    with client_for(tenant, key) as producer:
        assert producer.post("/audit-logs/", json=make_event()).status_code == 201
        assert producer.get("/audit-logs/").status_code == 403
    (event,) = tenant.reader.get("/audit-logs/", params={"resource_type": "API_KEY"}).json()[
        "items"
    ]
    assert event["action"] == "CREATE"
    assert event["details"]["name"] == "billing service"
    assert key not in str(event)


def test_no_key_carries_more_than_its_issuer_holds(tenant: Tenant) -> None:
    with write_transaction(tenant.stack.engine) as conn:
        key, _ = accounts.create_api_key(
            conn, tenant_id=tenant.id, name="managers", scopes=frozenset({Permission.USER_MANAGE})
        )
    with client_for(tenant, key) as manager:
        wider = manager.post("/api-keys", json={"name": "wider", "scopes": ["EVENTS_WRITE"]})
        assert wider.status_code == 403
        assert "EVENTS_WRITE" in wider.json()["detail"]
        assert (
            manager.post("/api-keys", json={"name": "same", "scopes": ["USER_MANAGE"]}).status_code
            == 201
        )


def test_a_revoked_key_stops_working_at_once(tenant: Tenant) -> None:
    made = tenant.admin.post("/api-keys", json={"name": "temp", "scopes": ["USER_VIEW"]}).json()
    with client_for(tenant, made["key"]) as temp:
        assert temp.get("/audit-logs/").status_code == 200
        revoked = tenant.admin.delete(f"/api-keys/{made['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert temp.get("/audit-logs/").status_code == 401
    assert tenant.admin.delete(f"/api-keys/{made['id']}").status_code == 200
    actions = [
        e["action"]
        for e in tenant.reader.get("/audit-logs/", params={"resource_type": "API_KEY"}).json()[
            "items"
        ]
    ]
    assert actions == ["DELETE", "CREATE"]


def test_keys_of_another_tenant_are_not_found(tenant_factory: TenantFactory) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    made = mine.admin.post("/api-keys", json={"name": "mine", "scopes": ["USER_VIEW"]}).json()
    assert theirs.admin.delete(f"/api-keys/{made['id']}").status_code == 404
    assert made["id"] not in str(theirs.admin.get("/api-keys").json())
    assert theirs.admin.delete(f"/api-keys/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["ROOT"]}, "scopes[0]"),
        ({"name": "", "scopes": ["USER_VIEW"]}, "name"),
        ({"scopes": ["USER_VIEW"]}, "name"),
    ],
)
def test_bad_key_requests_name_the_field(
    tenant: Tenant, body: dict[str, object], field: str
) -> None:
    answer = tenant.admin.post("/api-keys", json=body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == field
