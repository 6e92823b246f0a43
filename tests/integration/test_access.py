"""Credentials, permissions and tenant isolation."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, list_all, make_event

READ_ROUTES = ["/audit-logs/", "/audit-logs/export"]


@pytest.mark.parametrize("path", READ_ROUTES)
def test_no_credential_is_401(anonymous: httpx.Client, path: str) -> None:
    answer = anonymous.get(path)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header", ["Bearer vk_not-a-real-key", "Bearer", "Basic dXNlcjpwYXNz", "vk_bare"]
)
def test_bad_credentials_are_401(anonymous: httpx.Client, header: str) -> None:
    assert anonymous.get("/audit-logs/", headers={"Authorization": header}).status_code == 401
    posted = anonymous.post("/audit-logs/", json=make_event(), headers={"Authorization": header})
    assert posted.status_code == 401


def test_writer_cannot_read_and_reader_cannot_write(tenant: Tenant) -> None:
    for path in READ_ROUTES:
        refused = tenant.writer.get(path)
        assert refused.status_code == 403
        assert "USER_MANAGE or USER_VIEW" in refused.json()["detail"]
    assert tenant.reader.post("/audit-logs/", json=make_event()).status_code == 403
    assert (
        tenant.reader.post("/audit-logs/batch", json={"events": [make_event()]}).status_code == 403
    )
    assert tenant.admin.post("/audit-logs/", json=make_event()).status_code == 201
    assert tenant.admin.get("/audit-logs/").status_code == 200


def test_tenants_never_see_each_other(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    acme, globex = tenant_factory(), tenant_factory()
    acme_ids = set(ingest(acme.writer, [make_event(resource_id="acme-secret") for _ in range(3)]))
    globex_ids = set(ingest(globex.writer, [make_event(resource_id="globex") for _ in range(2)]))
    assert {e["id"] for e in list_all(acme.reader)} == acme_ids
    assert {e["id"] for e in list_all(globex.reader)} == globex_ids
    assert globex.reader.get("/audit-logs/", params={"q": "acme-secret"}).json()["total"] == 0
    assert "acme-secret" not in globex.reader.get("/audit-logs/export").text
    for event_id in acme_ids:
        assert globex.reader.get(f"/audit-logs/{event_id}").status_code == 404


def test_tenant_in_the_body_is_refused(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    acme, globex = tenant_factory(), tenant_factory()
    answer = acme.writer.post("/audit-logs/", json=make_event(tenant_id=str(globex.id)))
    assert answer.status_code == 422
    assert globex.reader.get("/audit-logs/").json()["total"] == 0


def test_probes_and_docs_are_public(anonymous: httpx.Client) -> None:
    health = anonymous.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    spec = anonymous.get("/openapi.json").json()
    for path in (
        "/audit-logs/",
        "/audit-logs/batch",
        "/audit-logs/export",
        "/users/{user_id}/activity",
    ):
        assert path in spec["paths"]
    batch_body = json_dump(spec["paths"]["/audit-logs/batch"]["post"]["requestBody"])
    assert "resource_type" in batch_body
    assert "$ref" not in batch_body, "the documented body must stand on its own"
    assert anonymous.get("/docs").status_code == 200


def json_dump(value: object) -> str:
    import json

    return json.dumps(value)
