"""Data comes back exactly as sent and compares as people expect: number tokens in details,
repeated keys refused, secrets in values redacted, emails trimmed, rule filters normalised,
end dates to the second."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Tenant
from tests.helpers import list_all, make_event
from tests.integration.test_detections import alerts_of, control, listed_alerts
from tests.integration.test_users import PASSWORD, new_user

# What real clients sent, and lost digits of: the tokens must come back as written.
EXACT = (
    '{"ratio": 0.1234567890123456789, "price": 19.990000000000000001, "count": 1E+2,'
    ' "small": 2.5e-3, "zero": -0, "big": 123456789012345678901234567890,'
    ' "nested": [{"rate": 1.10}]}'
)
EXACT_TEXT = (
    '{"ratio":0.1234567890123456789,"price":19.990000000000000001,"count":1E+2,'
    '"small":2.5e-3,"zero":-0,"big":123456789012345678901234567890,"nested":[{"rate":1.10}]}'
)


def raw_event(details: str, **fields: Any) -> str:
    """An event's JSON text with ``details`` written as given, token by token."""
    head = json.dumps(make_event(details=..., **fields))[:-1]
    return f'{head}, "details": {details}}}'


def batch_of(*events: str) -> str:
    return '{"events": [' + ", ".join(events) + "]}"


def post_raw(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})


def details_text(answer_text: str) -> str:
    """The details of the one event in a JSON answer, as the JSON text the server wrote."""
    start = answer_text.index('"details":') + len('"details":')
    end = answer_text.index(',"received_at"', start)
    return answer_text[start:end]


def test_number_tokens_come_back_as_written_everywhere(tenant: Tenant) -> None:
    resource = f"exact-{uuid.uuid4().hex[:8]}"
    single = post_raw(tenant.writer, "/audit-logs/", raw_event(EXACT, resource_id=resource))
    assert single.status_code == 201, single.text
    assert details_text(single.text) == EXACT_TEXT
    event_id = single.json()["id"]
    assert details_text(tenant.reader.get(f"/audit-logs/{event_id}").text) == EXACT_TEXT
    batch = post_raw(
        tenant.writer,
        "/audit-logs/batch",
        batch_of(raw_event(EXACT, resource_id=resource), raw_event("{}")),
    )
    assert batch.status_code == 201, batch.text
    listed = tenant.reader.get("/audit-logs/", params={"resource_id": resource})
    assert listed.text.count(EXACT_TEXT) == 2
    for fmt in ("json", "ndjson"):
        exported = tenant.reader.get(
            "/audit-logs/export", params={"resource_id": resource, "format": fmt}
        )
        assert exported.text.count('"details":' + EXACT_TEXT) == 2, exported.text
    rows = list(csv.DictReader(io.StringIO(tenant.reader.get(
        "/audit-logs/export", params={"resource_id": resource, "format": "csv"}
    ).text)))  # fmt: skip
    assert [row["details"] for row in rows] == [EXACT_TEXT, EXACT_TEXT]
    # Read as numbers, they are still the numbers sent.
    assert orjson.loads(EXACT_TEXT)["count"] == 100


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/audit-logs/", raw_event('{"note": "a", "note": "b"}'), "details.note"),
        ("/audit-logs/", raw_event("{}")[:-1] + ', "action": "DELETE"}', "action"),
        (
            "/audit-logs/batch",
            batch_of(raw_event("{}"), raw_event('{"x": {"k": 1, "k": 1}}')),
            "events[1].details.x.k",
        ),
    ],
)
def test_a_key_named_twice_is_refused_by_name_and_nothing_is_stored(
    tenant: Tenant, path: str, body: str, field: str
) -> None:
    answer = post_raw(tenant.writer, path, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    assert "twice" in answer.json()["errors"][0]["message"]
    assert list_all(tenant.reader) == []


def test_secrets_in_values_are_redacted_and_the_rest_kept(tenant: Tenant) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    details = {
        "note": f"Authorization: Bearer {jwt}",
        "db_url": "postgresql://app:pa55word@db.internal/prod",
        "deploy": {"keys": ["AKIAIOSFODNN7EXAMPLE", "ghp_" + "Z9y8" * 9]},
        "docs": "https://example.com/guide",
    }
    single = tenant.writer.post("/audit-logs/", json=make_event(details=details))
    assert single.status_code == 201, single.text
    batch = tenant.writer.post("/audit-logs/batch", json={"events": [make_event(details=details)]})
    assert batch.status_code == 201, batch.text
    expected = {
        "note": "Authorization: [REDACTED]",
        "db_url": "postgresql://app:[REDACTED]@db.internal/prod",
        "deploy": {"keys": ["[REDACTED]", "[REDACTED]"]},
        "docs": "https://example.com/guide",
    }
    assert [e["details"] for e in list_all(tenant.reader)] == [expected, expected]
    exported = tenant.reader.get("/audit-logs/export", params={"format": "csv"}).text
    for secret in (jwt, "pa55word", "AKIAIOSFODNN7EXAMPLE", "Z9y8"):
        assert secret not in exported


def test_an_email_is_trimmed_at_ingest_in_filters_and_in_accounts(tenant: Tenant) -> None:
    sent = tenant.writer.post("/audit-logs/", json=make_event(user_email=" Alice@Company.com \t"))
    assert sent.status_code == 201, sent.text
    assert sent.json()["user_email"] == "alice@company.com"
    found = tenant.reader.get("/audit-logs/", params={"user_email": " ALICE@company.com "})
    assert [e["id"] for e in found.json()["items"]] == [sent.json()["id"]]
    email = f"trim-{uuid.uuid4().hex[:8]}@example.com"
    user = new_user(tenant, email=f"  {email.upper()} ", password=PASSWORD)
    assert user["email"] == email
    with httpx.Client(base_url=tenant.stack.base_url) as anonymous:
        signed_in = anonymous.post(
            "/auth/login", json={"email": f" {email} ", "password": PASSWORD}
        )
    assert signed_in.status_code == 200, signed_in.text


def test_an_end_date_to_the_second_includes_that_whole_second(tenant: Tenant) -> None:
    late = make_event(resource_id="late", timestamp="2026-03-10T23:59:59.5Z")
    early = make_event(resource_id="early", timestamp="2026-03-10T23:59:58.999999Z")
    assert (
        tenant.writer.post("/audit-logs/batch", json={"events": [late, early]}).status_code == 201
    )

    def listed(end: str) -> list[str]:
        page = tenant.reader.get("/audit-logs/", params={"end_date": end})
        assert page.status_code == 200, page.text
        return [e["resource_id"] for e in page.json()["items"]]

    assert listed("2026-03-10T23:59:59Z") == ["late", "early"]
    assert listed("2026-03-10T23:59Z") == ["late", "early"]
    assert listed("2026-03-11T00:59:59+01:00") == ["late", "early"]
    assert listed("2026-03-10T23:59:58Z") == ["early"]
    assert listed("2026-03-10T23:59:59.4Z") == ["early"]
    assert listed("2026-03-10T23:59:58.9999Z") == ["early"]  # .9999 takes in .999999
    assert listed("2026-03-10T23:59:58.5Z") == []


def test_rule_filters_are_normalised_like_events_and_fire(tenant: Tenant) -> None:
    rule = {
        "name": "mallory_deletes",
        "filter": {
            "action": ["DELETE"],
            "user": " Mallory@Example.test ",
            "ip_address": "::ffff:203.0.113.77",
        },
        "threshold": 2,
        "window_minutes": 60,
        "group_by": "none",
    }
    made = tenant.admin.post("/security/rules", json=rule)
    assert made.status_code == 201, made.text
    assert made.json()["filter"]["user"] == "mallory@example.test"
    assert made.json()["filter"]["ip_address"] == "203.0.113.77"
    v6 = tenant.admin.post(
        "/security/rules",
        json={"name": "v6_rule", "filter": {"ip_address": "2001:DB8::DEAD"}},
    )
    assert v6.json()["filter"]["ip_address"] == "2001:db8::dead"
    deletion = make_event(
        action="DELETE", user_id=None, user_email="MALLORY@example.test", ip_address="203.0.113.77"
    )
    tenant.writer.post("/audit-logs/", json=deletion)
    control(tenant)  # one deletion: below the threshold
    assert listed_alerts(tenant, "mallory_deletes") == []
    tenant.writer.post("/audit-logs/", json=deletion)
    (alert,) = alerts_of(tenant, "mallory_deletes")
    assert alert["subject"] == "everyone"


@pytest.mark.parametrize(
    ("filter_", "field"),
    [
        ({"ip_address": "not-an-ip"}, "filter.ip_address"),
        ({"ip_address": "fe80::1%eth0"}, "filter.ip_address"),
        ({"user": "two@@ats.test"}, "filter.user"),
    ],
)
def test_a_rule_filter_no_event_could_match_is_refused(
    tenant: Tenant, filter_: dict[str, str], field: str
) -> None:
    answer = tenant.admin.post("/security/rules", json={"name": "bad_filter", "filter": filter_})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    names = [r["name"] for r in tenant.reader.get("/security/rules").json()["items"]]
    assert "bad_filter" not in names
