"""Recording events: what is stored, what is refused, and idempotent retries."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import make_event


def test_recorded_event_comes_back_complete_and_normalised(tenant: Tenant) -> None:
    sent = make_event(
        user_email="Alice@Company.COM",
        ip_address="81.2.69.160",
        timestamp="2025-01-15T16:30:00.123456+02:00",
    )
    answer = tenant.writer.post("/audit-logs/", json=sent)
    assert answer.status_code == 201, answer.text
    event = answer.json()
    assert uuid.UUID(event["id"]).version == 7
    assert event["timestamp"] == "2025-01-15T14:30:00.123456Z"
    assert event["user_email"] == "alice@company.com"
    assert event["country"] == "GB"
    assert event["status"] == "SUCCESS"
    assert event["received_at"].endswith("Z")
    for field in ("action", "resource_type", "resource_id", "user_id", "user_agent", "details"):
        assert event[field] == sent[field]
    stored = tenant.reader.get(f"/audit-logs/{event['id']}").json()
    assert stored == event


def test_ip_addresses_are_normalised(tenant: Tenant) -> None:
    mapped = tenant.writer.post("/audit-logs/", json=make_event(ip_address="::ffff:10.1.2.3"))
    assert mapped.json()["ip_address"] == "10.1.2.3"
    long_v6 = "2001:0db8:0000:0000:0000:0000:0000:0001"
    assert (
        tenant.writer.post("/audit-logs/", json=make_event(ip_address=long_v6)).json()["ip_address"]
        == "2001:db8::1"
    )


def test_details_are_stored_exactly_except_secrets(tenant: Tenant) -> None:
    details = {
        "zeta": 1,
        "alpha": {"nested": [1, 2.5, "ünïcödé ✓", None, True]},
        "big": 123456789012345678901234567890,
        "password": "hunter2hunter2",
        "max_tokens": 4096,
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k", "accept": "json"},
        "items": [{"client_secret": "s", "name": "n"}],
        "access_token": "t",
    }
    event = tenant.writer.post("/audit-logs/", json=make_event(details=details)).json()
    stored = tenant.reader.get(f"/audit-logs/{event['id']}").json()["details"]
    assert list(stored) == list(details)  # key order kept
    assert stored["zeta"] == 1
    assert stored["alpha"] == details["alpha"]
    assert stored["big"] == details["big"]
    assert stored["max_tokens"] == 4096
    assert stored["password"] == "[REDACTED]"
    assert stored["headers"] == {
        "Authorization": "[REDACTED]",
        "X-Api-Key": "[REDACTED]",
        "accept": "json",
    }
    assert stored["items"] == [{"client_secret": "[REDACTED]", "name": "n"}]
    assert stored["access_token"] == "[REDACTED]"


def test_login_failed_is_always_failed(tenant: Tenant) -> None:
    failed = tenant.writer.post(
        "/audit-logs/", json=make_event(action="LOGIN_FAILED", resource_type="USER")
    )
    assert failed.json()["status"] == "FAILED"
    refused = tenant.writer.post(
        "/audit-logs/",
        json=make_event(action="LOGIN_FAILED", resource_type="USER", status="SUCCESS"),
    )
    assert refused.status_code == 422
    assert "status" in refused.json()["detail"]


def test_batch_stores_all_and_reports_ids_in_order(tenant: Tenant) -> None:
    events = [make_event(resource_id=f"project-{n}") for n in range(5)]
    answer = tenant.writer.post("/audit-logs/batch", json={"events": events})
    assert answer.status_code == 201
    body = answer.json()
    assert body["ingested"] == 5
    assert body["duplicates"] == 0
    for event_id, sent in zip(body["ids"], events, strict=True):
        stored = tenant.reader.get(f"/audit-logs/{event_id}").json()
        assert stored["resource_id"] == sent["resource_id"]


def test_batch_with_one_invalid_event_stores_nothing(tenant: Tenant) -> None:
    events = [make_event(resource_id=f"p-{n}") for n in range(5)]
    events[3]["action"] = "EXPLODE"
    answer = tenant.writer.post("/audit-logs/batch", json={"events": events})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "events[3].action"
    assert "events[3].action" in answer.json()["detail"]
    assert tenant.reader.get("/audit-logs/").json()["total"] == 0


def test_batch_size_limits(tenant: Tenant) -> None:
    too_many = tenant.writer.post("/audit-logs/batch", json={"events": [make_event()] * 1001})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "events"
    empty = tenant.writer.post("/audit-logs/batch", json={"events": []})
    assert empty.status_code == 422
    exactly = tenant.writer.post("/audit-logs/batch", json={"events": [make_event()] * 1000})
    assert exactly.status_code == 201
    assert exactly.json()["ingested"] == 1000


def test_body_over_ten_mebibytes_is_refused(tenant: Tenant) -> None:
    padding = "x" * (11 * 1024 * 1024)
    answer = tenant.writer.post(
        "/audit-logs/", content=b'{"action": "CREATE", "pad": "' + padding.encode() + b'"}'
    )
    assert answer.status_code == 413
    assert "10 MiB" in answer.json()["detail"]


def test_chunked_body_over_ten_mebibytes_is_refused(tenant: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"events": ['
        for _ in range(12):
            yield b'"' + b"x" * (1024 * 1024) + b'",'
        yield b"]}"

    answer = tenant.writer.post("/audit-logs/batch", content=chunks())
    assert answer.status_code == 413


def test_same_id_and_content_is_a_harmless_retry(tenant: Tenant) -> None:
    event = make_event(id=str(uuid.uuid4()), timestamp="2025-01-15T14:30:00Z")
    first = tenant.writer.post("/audit-logs/", json=event)
    again = tenant.writer.post("/audit-logs/", json=event)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert tenant.reader.get("/audit-logs/").json()["total"] == 1


def test_retry_without_timestamp_is_still_the_same_event(tenant: Tenant) -> None:
    event = make_event(id=str(uuid.uuid4()))
    first = tenant.writer.post("/audit-logs/", json=event)
    again = tenant.writer.post("/audit-logs/", json=event)
    assert again.status_code == 200
    assert again.json()["timestamp"] == first.json()["timestamp"]


def test_the_same_id_sent_twice_at_once_is_stored_once(tenant: Tenant) -> None:
    event = make_event(id=str(uuid.uuid4()))
    start = threading.Barrier(4)
    statuses: list[int] = []

    def send() -> None:
        with httpx.Client(base_url=tenant.stack.base_url, headers=tenant.writer.headers) as client:
            start.wait()
            statuses.append(client.post("/audit-logs/", json=event).status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert tenant.reader.get("/audit-logs/").json()["total"] == 1


def test_same_id_with_different_content_conflicts(tenant: Tenant) -> None:
    event_id = str(uuid.uuid4())
    assert tenant.writer.post("/audit-logs/", json=make_event(id=event_id)).status_code == 201
    changed = tenant.writer.post("/audit-logs/", json=make_event(id=event_id, action="DELETE"))
    assert changed.status_code == 409
    assert event_id in changed.json()["detail"]
    assert tenant.reader.get(f"/audit-logs/{event_id}").json()["action"] == "CREATE"


def test_batch_duplicates_are_counted_and_conflicts_refuse_the_batch(tenant: Tenant) -> None:
    known = str(uuid.uuid4())
    tenant.writer.post("/audit-logs/", json=make_event(id=known))
    retry = tenant.writer.post(
        "/audit-logs/batch", json={"events": [make_event(id=known), make_event()]}
    )
    assert retry.status_code == 201
    assert (retry.json()["ingested"], retry.json()["duplicates"]) == (1, 1)
    assert retry.json()["ids"][0] == known

    clash = tenant.writer.post(
        "/audit-logs/batch",
        json={"events": [make_event(), make_event(id=known, action="DELETE")]},
    )
    assert clash.status_code == 409
    assert "events[1].id" in clash.json()["detail"]
    assert tenant.reader.get("/audit-logs/").json()["total"] == 2


def test_the_same_id_twice_in_one_batch(tenant: Tenant) -> None:
    event_id = str(uuid.uuid4())
    same = tenant.writer.post(
        "/audit-logs/batch", json={"events": [make_event(id=event_id), make_event(id=event_id)]}
    )
    assert same.status_code == 201
    assert (same.json()["ingested"], same.json()["duplicates"]) == (1, 1)
    other = str(uuid.uuid4())
    differing = tenant.writer.post(
        "/audit-logs/batch",
        json={"events": [make_event(id=other), make_event(id=other, action="DELETE")]},
    )
    assert differing.status_code == 409
    assert tenant.reader.get(f"/audit-logs/{other}").status_code == 404


def test_ids_are_unique_per_tenant_not_globally(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    first, second = tenant_factory(), tenant_factory()
    shared = str(uuid.uuid4())
    assert first.writer.post("/audit-logs/", json=make_event(id=shared)).status_code == 201
    assert (
        second.writer.post("/audit-logs/", json=make_event(id=shared, action="DELETE")).status_code
        == 201
    )
    assert first.reader.get(f"/audit-logs/{shared}").json()["action"] == "CREATE"
    assert second.reader.get(f"/audit-logs/{shared}").json()["action"] == "DELETE"


def _deep(levels: int) -> dict[str, object]:
    node: dict[str, object] = {"leaf": 1}
    for _ in range(levels - 1):
        node = {"child": node}
    return node


FUTURE = "2999-01-01T00:00:00Z"
BAD_EVENTS = [
    ("action", {"action": "DESTROY"}),
    ("action", {"action": None}),
    ("resource_type", {"resource_type": "SPACESHIP"}),
    ("resource_id", {"resource_id": "r" * 256}),
    ("resource_id", {"resource_id": "bad\u0000id"}),
    ("user_id", {"user_id": "u" * 256}),
    ("user_email", {"user_email": "not-an-email"}),
    ("user_email", {"user_email": "a\u0000b@x.com"}),
    ("user_email", {"user_email": "a" * 60 + "@" + "b" * 300 + ".com"}),
    ("timestamp", {"timestamp": "2025-01-15T14:30:00"}),
    ("timestamp", {"timestamp": FUTURE}),
    ("timestamp", {"timestamp": "yesterday"}),
    ("timestamp", {"timestamp": 1736951400}),
    ("timestamp", {"timestamp": "0001-01-01T00:00:00+14:00"}),
    ("ip_address", {"ip_address": "999.1.1.1"}),
    ("ip_address", {"ip_address": "localhost"}),
    ("ip_address", {"ip_address": "fe80::1%" + "a" * 56}),
    ("user_agent", {"user_agent": "a" * 1025}),
    ("details", {"details": ["not", "an", "object"]}),
    ("details", {"details": _deep(17)}),
    ("details", {"details": {"blob": "x" * (64 * 1024)}}),
    ("details", {"details": {"blob": "é" * 40_000}}),  # 40k characters, 80 KB
    ("status", {"status": "MAYBE"}),
    ("tenant_id", {"tenant_id": str(uuid.uuid4())}),
    ("id", {"id": "not-a-uuid"}),
]


@pytest.mark.parametrize(("field", "change"), BAD_EVENTS, ids=[f for f, _ in BAD_EVENTS])
def test_invalid_field_is_named_and_nothing_stored(
    tenant: Tenant, field: str, change: dict[str, object]
) -> None:
    answer = tenant.writer.post("/audit-logs/", json=make_event(**change))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert answer.json()["detail"].startswith(field)
    batch = tenant.writer.post(
        "/audit-logs/batch", json={"events": [make_event(), make_event(**change)]}
    )
    assert batch.status_code == 422
    assert batch.json()["errors"][0]["field"] == f"events[1].{field}"
    assert tenant.reader.get("/audit-logs/").json()["total"] == 0


def test_sixteen_levels_of_details_are_fine(tenant: Tenant) -> None:
    answer = tenant.writer.post("/audit-logs/", json=make_event(details=_deep(16)))
    assert answer.status_code == 201


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 422),
        (b'"text"', 422),
        (b'{"action": "CREATE", "resource_type": "USER", "details": {"x": NaN}}', 422),
        (b"\xff\xfe", 400),
    ],
    ids=["malformed", "empty", "array", "string", "nan", "not-utf8"],
)
def test_unparseable_bodies_are_client_errors(tenant: Tenant, body: bytes, status: int) -> None:
    answer = tenant.writer.post(
        "/audit-logs/", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]
    assert tenant.writer.get("/healthz").status_code == 200
