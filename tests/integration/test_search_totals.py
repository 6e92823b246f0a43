"""A list's total, counted from the search index's bitmaps when its filters allow, is the
number of events reading every page gives: exact past 10,000, through purges, and for
events the index has not reached yet."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Stack, Tenant
from tests.helpers import ingest, list_all, make_event
from tests.integration.test_search_index import (
    PURGE,
    WORDS,
    assert_index_agrees,
    caught_up,
)
from tests.integration.test_spine import fresh_stack
from vigil.core.pagination import PageRequest
from vigil.db.engine import write_transaction
from vigil.events import service as events
from vigil.events.filters import EventFilters
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.schemas import EventIn
from vigil.events.search_clauses import query_clauses
from vigil.events.search_query import parse_search_query
from vigil.events.tables import events as events_table
from vigil.events.totals import bitmap_count, counted_total
from vigil.jobs import run_job_once
from vigil.search.consumer import SearchIndexConsumer
from vigil.search.service import compare_index
from vigil.spine.runner import ConsumerRunner
from vigil.tenants.service import change_tenant_settings, create_tenant

ADDRESSES = ["8.8.8.8", "81.2.69.160", "1.1.1.1", "192.168.1.100", None]
ACTIONS = ["CREATE", "UPDATE", "DELETE", "LOGIN", "LOGIN_FAILED"]


def assorted_events(rng: random.Random, count: int, *, days_old: float = 0) -> list[dict[str, Any]]:
    """Events that differ in every filtered column and in their text."""
    moment = datetime.now(UTC) - timedelta(days=days_old)
    made = []
    for n in range(count):
        action = rng.choice(ACTIONS)
        made.append(
            make_event(
                action=action,
                resource_type=rng.choice(["PROJECT", "MODEL", "ENDPOINT"]),
                status="FAILED" if action == "LOGIN_FAILED" or rng.random() < 0.1 else "SUCCESS",
                user_id=rng.choice([f"u-{rng.randrange(8)}", None]),
                user_email=f"person{rng.randrange(8)}@example.com",
                ip_address=rng.choice(ADDRESSES),
                resource_id=f"{rng.choice(WORDS)}-{rng.randrange(30)}",
                details={"note": " ".join(rng.sample(WORDS, 2)), "n": rng.randrange(40)},
                timestamp=(moment - timedelta(seconds=n)).isoformat(),
            )
        )
    return made


# Each one answered from the bitmaps: no time range, address or resource id among them.
COUNTED = [
    {},
    {"action": "DELETE"},
    {"action": "DELETE,UPDATE", "status": "FAILED"},
    {"resource_type": "MODEL,ENDPOINT", "user_id": "u-3"},
    {"user_email": "person5@example.com"},
    {"country": "US,GB"},
    {"q": "alpha"},
    {"q": "alpha", "action": "UPDATE"},
    {"q": "-alpha"},
    {"q": "beta -user:u-3"},
    {"q": "user:person4@example.com action:CREATE,DELETE"},
    {"q": "-user:u-1 -action:LOGIN"},
    {"q": 'resource:MODEL "zeta-api" -gamma'},
    {"q": "details.n:7,11"},
    {"q": '-details.note:"alpha beta" status:SUCCESS'},
    {"q": "country:US epsilon"},
    {"q": "email:person2@example.com -ÉPSILON"},
    {"q": "nothing-holds-this"},
    {"q": "-nothing-holds-this", "action": "LOGIN"},
]


def assert_totals_read_right(client: Any) -> None:
    for params in COUNTED:
        answer = client.get("/audit-logs/", params={**params, "limit": 1})
        assert answer.status_code == 200, (params, answer.text)
        page = answer.json()
        every = list_all(client, **params)
        assert (page["total"], page["total_exact"]) == (len(every), True), params


def test_totals_are_what_reading_every_page_gives(tenant: Tenant) -> None:
    rng = random.Random(5)
    ingest(tenant.writer, assorted_events(rng, 700))
    ingest(tenant.writer, assorted_events(rng, 300, days_old=40))
    caught_up(tenant.stack, tenant.id)
    assert_totals_read_right(tenant.reader)
    assert_index_agrees(tenant.stack, tenant.id)

    # A purge takes its events out of every bitmap.
    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, retention_days=30)
    run_job_once(tenant.stack.engine, PURGE)
    assert tenant.reader.get("/audit-logs/", params={"limit": 1}).json()["total"] == 700
    assert_totals_read_right(tenant.reader)
    assert_index_agrees(tenant.stack, tenant.id)


def test_a_lone_term_in_many_values_past_the_cap_is_a_lower_bound(tenant: Tenant) -> None:
    """Counting a lone term's hundreds of values from the bitmaps would cost more than the
    answer is worth: past the cap, its values' counts say "10,000+" at once. A term in
    fewer values is counted exactly; with another filter, so many values are counted
    newest first until the count passes the cap."""
    made = [make_event(details={"run": f"sweep-{n % 300}"}) for n in range(12_000)]
    ingest(tenant.writer, made)
    caught_up(tenant.stack, tenant.id)
    page = tenant.reader.get("/audit-logs/", params={"q": "sweep", "limit": 1}).json()
    assert (page["total"], page["total_exact"]) == (10_000, False)
    assert len(page["items"]) == 1
    few = tenant.reader.get("/audit-logs/", params={"q": "sweep-7", "limit": 1}).json()
    assert (few["total"], few["total_exact"]) == (40 * 11, True)  # sweep-7, -70 … -79
    filtered = tenant.reader.get(
        "/audit-logs/", params={"q": "sweep", "action": "CREATE", "limit": 1}
    ).json()
    assert (filtered["total"], filtered["total_exact"]) == (10_000, False)


def test_a_total_past_the_cap_is_exact(tenant: Tenant) -> None:
    made = [make_event(action="DELETE", details={"team": "wide"}) for _ in range(10_050)]
    made += [make_event(action="UPDATE", details={"team": "wide"}) for _ in range(30)]
    ingest(tenant.writer, made)
    caught_up(tenant.stack, tenant.id)
    page = tenant.reader.get("/audit-logs/", params={"q": "wide", "action": "DELETE"}).json()
    assert (page["total"], page["total_exact"]) == (10_050, True)
    # With a time range the bitmaps cannot answer, it is counted by reading, to the cap.
    since = {"start_date": "2000-01-01T00:00:00Z"}
    page = tenant.reader.get("/audit-logs/", params={"q": "wide", "action": "DELETE", **since})
    assert (page.json()["total"], page.json()["total_exact"]) == (10_000, False)


def total(stack: Stack, tenant_id: uuid.UUID, **filters: Any) -> int | None:
    """The total ``list_events`` gives, straight from the service."""
    with stack.engine.connect() as conn:
        page = events.list_events(
            conn,
            tenant_id=tenant_id,
            filters=EventFilters(**filters),
            page=PageRequest(limit=1, include_total=True),
        )
    assert page.total_exact
    return page.total


def read_count(stack: Stack, tenant_id: uuid.UUID, **filters: Any) -> int:
    """How many events reading them all, as an export does, gives."""
    with stack.engine.connect() as conn:
        found = events.iter_events(conn, tenant_id=tenant_id, filters=EventFilters(**filters))
        return sum(1 for _ in found)


def test_events_the_index_has_not_reached_are_counted_too(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    fresh = fresh_stack(stack, request, tmp_root)
    rng = random.Random(9)
    with write_transaction(fresh.engine) as conn:
        tenant_id = create_tenant(conn, name="lagging", retention_days=90)["id"]

    def store(count: int) -> None:
        batch = [
            EventIn.model_validate({**e, "timestamp": datetime.fromisoformat(e["timestamp"])})
            for e in assorted_events(rng, count)
        ]
        with write_transaction(fresh.engine) as conn:
            events.record_many(conn, tenant_id=tenant_id, events=batch, geo=NO_GEOLOCATION)

    store(300)
    ConsumerRunner(fresh.engine, SearchIndexConsumer(), yield_to_writers=False).catch_up()
    store(120)  # committed after the index's last pass: no consumer runs here
    asked = [
        {},
        {"query": parse_search_query("alpha -user:u-2")},
        {"query": parse_search_query("details.n:3 action:DELETE,UPDATE")},
        {"actions": (), "status": None, "query": parse_search_query("-beta")},
    ]
    before = [total(fresh, tenant_id, **filters) for filters in asked]
    assert before == [read_count(fresh, tenant_id, **filters) for filters in asked]
    assert before[0] == 420
    ConsumerRunner(fresh.engine, SearchIndexConsumer(), yield_to_writers=False).catch_up()
    after = [total(fresh, tenant_id, **filters) for filters in asked]
    assert before == after
    with fresh.engine.connect() as conn:
        assert compare_index(conn, tenant_id=tenant_id).agrees
    fresh.engine.dispose()


def test_a_value_indexed_while_a_total_is_counted_is_not_missed(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    # The terms' values are read from the dictionary before the bitmaps are: a pass of the
    # indexer committed in between (PostgreSQL reads each statement afresh) adds a value
    # the count did not look for, whose events it must still count.
    fresh = fresh_stack(stack, request, tmp_root)
    with write_transaction(fresh.engine) as conn:
        tenant_id = create_tenant(conn, name="racing", retention_days=90)["id"]

    def store(note: str, count: int) -> None:
        made = [
            EventIn.model_validate({**make_event(details={"note": note}), "timestamp": now})
            for now in [datetime.now(UTC)] * count
        ]
        with write_transaction(fresh.engine) as conn:
            events.record_many(conn, tenant_id=tenant_id, events=made, geo=NO_GEOLOCATION)

    def catch_up() -> None:
        ConsumerRunner(fresh.engine, SearchIndexConsumer(), yield_to_writers=False).catch_up()

    store("alpha one", 100)
    catch_up()
    asked = [("alpha", 110), ("-alpha", 0), ("alpha -note2", 120)]
    for number, (query, expected) in enumerate(asked):
        store(f"alpha note{number}", 10)  # a value the dictionary does not hold yet
        filters = EventFilters(query=parse_search_query(query))
        with fresh.engine.connect() as conn:
            search = query_clauses(conn, tenant_id=tenant_id, query=filters.query)
            counted = bitmap_count(filters, search)
            assert counted is not None
            catch_up()  # the new value reaches the index and the dictionary
            found = counted_total(
                conn,
                tenant_id=tenant_id,
                counted=counted,
                clauses=[events_table.c.tenant_id == tenant_id],
                search=search,
                cap=None,
            )
        assert found == (expected, True), query
    fresh.engine.dispose()


def test_a_query_naming_too_many_values_is_counted_by_reading(tenant: Tenant) -> None:
    made = [make_event(details={"a": f"qqa-{n}", "b": f"qqb-{n}"}) for n in range(6_100)]
    ingest(tenant.writer, made)
    caught_up(tenant.stack, tenant.id)
    # 12,200 values in all: more keys than a count reads bitmaps for.
    page = tenant.reader.get("/audit-logs/", params={"q": "qqa qqb", "limit": 1}).json()
    assert (page["total"], page["total_exact"]) == (6_100, True)
    # Each alone is counted from its bitmaps.
    page = tenant.reader.get("/audit-logs/", params={"q": "qqa action:CREATE", "limit": 1})
    assert (page.json()["total"], page.json()["total_exact"]) == (6_100, True)
