"""The search language in ``q``: every field, alternatives, exclusions, phrases, errors with
their position, and totals that say when they are a lower bound."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.helpers import ingest, list_all, make_event
from tests.integration.test_search_index import caught_up


def found(tenant: Tenant, q: str) -> set[str]:
    return {e["id"] for e in list_all(tenant.reader, q=q)}


@pytest.fixture
def events(tenant: Tenant) -> dict[str, str]:
    named = {
        "deploy": make_event(
            action="DELETE",
            resource_type="ENDPOINT",
            resource_id="production-api",
            user_id="deploy-bot",
            user_email="bot@example.com",
            ip_address="10.1.2.3",
            details={"reason": "invalid credentials", "env": {"region": "eu-west-1"}},
        ),
        "ann": make_event(
            action="UPDATE",
            resource_type="ENDPOINT",
            resource_id="production-api",
            user_id="u-ann",
            user_email="ann@example.com",
            ip_address="10.9.9.9",
            details={"reason": "scale up", "replicas": 3},
        ),
        "bob": make_event(
            action="CREATE",
            resource_type="PROJECT",
            resource_id="churn",
            user_id="u-bob",
            user_email="bob@example.com",
            ip_address="2001:db8::7",
            status="FAILED",
            details={"tags": ["alpha", "beta"]},
        ),
        "system": make_event(action="DELETE", resource_type="MODEL", resource_id="old-model"),
    }
    ids = ingest(tenant.writer, list(named.values()))
    return dict(zip(named, ids, strict=True))


CASES: list[tuple[str, set[str]]] = [
    ("action:DELETE", {"deploy", "system"}),
    ("action:delete,update", {"deploy", "ann", "system"}),
    ("resource:ENDPOINT", {"deploy", "ann"}),
    ("resource_id:churn", {"bob"}),
    ("user:u-ann", {"ann"}),
    ("user:BOB@example.com", {"bob"}),  # an email matches the actor's email
    ("email:ann@example.com", {"ann"}),
    ("status:FAILED", {"bob"}),
    ("ip:10.0.0.0/8", {"deploy", "ann"}),
    ("ip:10.1.2.3", {"deploy"}),
    ("ip:2001:db8::/32", {"bob"}),
    ('details.reason:"invalid credentials"', {"deploy"}),
    ("details.reason:INVALID", set()),  # a key path matches the whole value
    ("details.env.region:eu-west-1", {"deploy"}),
    ("details.replicas:3", {"ann"}),
    ("details.tags:beta", {"bob"}),  # any element of an array
    ("details.region:eu-west-1", set()),  # the full path is needed
    ("-action:DELETE", {"ann", "bob"}),
    ("-user:deploy-bot", {"ann", "bob", "system"}),  # events with no actor stay in
    ("-resource_id:production-api", {"bob", "system"}),
    ('"production-api"', {"deploy", "ann"}),
    ("production -ann", {"deploy"}),  # free text excluded
    ("scale up", {"ann"}),  # two words, both present
    ('"up scale"', set()),
    (
        'action:DELETE,UPDATE resource:ENDPOINT -user:deploy-bot ip:10.0.0.0/8 "production-api"',
        {"ann"},
    ),
]


@pytest.mark.parametrize(("q", "expected"), CASES, ids=[q for q, _ in CASES])
def test_each_form_selects_its_events(
    tenant: Tenant, events: dict[str, str], q: str, expected: set[str]
) -> None:
    assert found(tenant, q) == {events[name] for name in expected}


ERRORS = [
    ('resource_id:"abc', "unclosed quote", 12),
    ("action:DELET", "unknown value 'DELET' for action", 7),
    ("ok -", "nothing after '-'", 3),
    ("status:", "no value after 'status:'", 0),
    ("action:DELETE,,UPDATE", "empty value for action", 14),
    ("ip:10.0.0.1/8", "has host bits set", 3),
    ("country:DEU", "not a two-letter country code", 8),
    ("details..a:x", "has an empty key", 0),
    ('""', "empty phrase", 0),
    (" ".join(["w"] * 21), "more than 20 terms", 40),
    ("x" * 1001, "at most 1000 characters", 1000),
]


@pytest.mark.parametrize(("q", "message", "position"), ERRORS, ids=[e[0][:30] for e in ERRORS])
def test_a_bad_query_names_the_problem_and_where(
    tenant: Tenant, q: str, message: str, position: int
) -> None:
    answer = tenant.reader.get("/audit-logs/", params={"q": q})
    assert answer.status_code == 422
    body = answer.json()
    assert body["detail"].startswith("q: ")
    assert message in body["detail"]
    assert body["position"] == position
    assert body["errors"][0]["field"] == "q"


def test_the_export_takes_the_query_and_records_it(tenant: Tenant, events: dict[str, str]) -> None:
    answer = tenant.reader.get(
        "/audit-logs/export", params={"q": "Action:delete -user:deploy-bot", "format": "json"}
    )
    assert answer.status_code == 200, answer.text
    assert [e["id"] for e in answer.json()] == [events["system"]]
    exports = list_all(tenant.reader, action="EXPORT")
    assert exports[0]["details"]["filters"]["q"] == "action:DELETE -user:deploy-bot"


def test_a_search_total_above_ten_thousand_is_a_lower_bound_until_indexed_then_exact(
    tenant: Tenant,
) -> None:
    """Past 10,000 matches, a total the index cannot count yet is "10,000+" (a lower bound),
    never a wrong number; once the index has reached the events it is exact."""
    batch: list[dict[str, Any]] = [
        make_event(details={"batch": "bulk-load"}) for _ in range(10_001)
    ]
    ingest(tenant.writer, batch)
    ingest(tenant.writer, [make_event(details={"batch": "bulk-small"}) for _ in range(3)])

    def page(q: str) -> dict[str, Any]:
        answer = tenant.reader.get("/audit-logs/", params={"q": q, "limit": 5})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    small = page("bulk-small")
    assert (small["total"], small["total_exact"]) == (3, True)
    everything = page("bulk")
    assert (everything["total"], everything["total_exact"]) in ((10_000, False), (10_004, True))
    assert len(everything["items"]) == 5
    caught_up(tenant.stack, tenant.id)
    everything = page("bulk")
    assert (everything["total"], everything["total_exact"]) == (10_004, True)
    unfiltered = tenant.reader.get("/audit-logs/", params={"limit": 1}).json()
    assert (unfiltered["total"], unfiltered["total_exact"]) == (10_004, True)
