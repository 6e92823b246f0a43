"""The search index: it answers what reading every event would, events it has not reached
are found all the same, and it stays exactly what the events say through concurrent
ingest, retention purges, a common value and a restart."""

from __future__ import annotations

import json
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Stack, Tenant, TenantFactory
from tests.helpers import eventually, ingest, list_all, make_event
from tests.integration.test_spine import fresh_stack
from vigil.accounts import service as accounts
from vigil.app import create_app
from vigil.core.permissions import Permission
from vigil.db.engine import write_transaction
from vigil.events import service as events
from vigil.events.commit_log import events_after
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.jobs import purge_expired
from vigil.events.schemas import EventIn
from vigil.events.search_clauses import query_clauses
from vigil.events.search_query import parse_search_query
from vigil.events.search_text import event_search_text, search_terms_text
from vigil.jobs import JOBS, run_job_once
from vigil.search.consumer import CONSUMER_NAME, SearchIndexConsumer
from vigil.search.service import compare_index
from vigil.search.tables import search_terms
from vigil.search.terms import COMMON_AT
from vigil.spine.runner import ConsumerRunner
from vigil.spine.service import (
    advance_cursor,
    claim_cursor,
    cursor_position,
    ensure_cursor,
    last_seq,
)
from vigil.tenants.service import change_tenant_settings, create_tenant
from vigil.testing.server import live_server

PURGE = next(job for job in JOBS if job.name == "purge_expired_events")
WORDS = ["alpha", "beta", "gamma", "delta", "Épsilon", "zeta-api", "eta", "theta"]


def caught_up(stack: Stack, tenant_id: uuid.UUID) -> None:
    """Wait until the index has reached every event the tenant has committed."""

    def behind() -> int:
        with stack.engine.connect() as conn:
            head = last_seq(conn, tenant_id=tenant_id)
            return head - cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)

    eventually(behind, lambda n: n == 0, what="the search index to catch up", timeout=30)


def assert_index_agrees(stack: Stack, tenant_id: uuid.UUID) -> None:
    with stack.engine.connect() as conn:
        difference = compare_index(conn, tenant_id=tenant_id)
    assert difference.agrees, difference


def varied_events(rng: random.Random, count: int, *, days_old: float = 0) -> list[dict[str, Any]]:
    moment = datetime.now(UTC) - timedelta(days=days_old)
    return [
        make_event(
            user_id=f"u-{rng.randrange(20)}",
            user_email=f"person{rng.randrange(20)}@example.com",
            resource_id=f"{rng.choice(WORDS)}-{rng.randrange(50)}",
            user_agent=rng.choice(["curl/8.5.0", "Mozilla/5.0 Firefox/133.0", None]),
            details={"note": " ".join(rng.sample(WORDS, 2)), "n": rng.randrange(1000)},
            timestamp=(moment - timedelta(seconds=n)).isoformat(),
        )
        for n in range(count)
    ]


def read_directly(stored: list[dict[str, Any]], term: str) -> set[str]:
    """What reading every event would find for a free-text term."""
    folded = search_terms_text(term)
    found = set()
    for event in stored:
        details = None if event["details"] is None else json.dumps(event["details"])
        text = event_search_text(
            user_email=event["user_email"],
            user_id=event["user_id"],
            resource_id=event["resource_id"],
            user_agent=event["user_agent"],
            details=details,
        )
        if folded in text:
            found.add(event["id"])
    return found


def test_the_index_answers_what_reading_every_event_would(tenant: Tenant) -> None:
    ingest(tenant.writer, varied_events(random.Random(7), 600))
    caught_up(tenant.stack, tenant.id)
    stored = list_all(tenant.reader)
    for term in ["alpha", "ÉPSILON", "zeta-api-4", "person7@", "firefox", "u-1", "42", "lta", "a"]:
        found = {e["id"] for e in list_all(tenant.reader, q=term)}
        assert found == read_directly(stored, term), term
    by_path = {e["id"] for e in list_all(tenant.reader, q="details.n:42")}
    assert by_path == {e["id"] for e in stored if e["details"]["n"] == 42}
    assert_index_agrees(tenant.stack, tenant.id)


def test_an_event_just_committed_is_found_before_the_index_has_it(tenant: Tenant) -> None:
    ingest(tenant.writer, varied_events(random.Random(3), 50))
    caught_up(tenant.stack, tenant.id)
    # Written straight to the database, as a CLI command would: no wake for the server's
    # consumers, whose next look may be seconds away.
    with write_transaction(tenant.stack.engine) as conn:
        row, _ = events.record(
            conn,
            tenant_id=tenant.id,
            event=EventIn(action="UPDATE", resource_type="MODEL", details={"note": "quokka"}),
            geo=NO_GEOLOCATION,
        )
    assert [e["id"] for e in list_all(tenant.reader, q="quokka")] == [str(row["id"])]
    assert [e["id"] for e in list_all(tenant.reader, q="details.note:QUOKKA")] == [str(row["id"])]


@pytest.mark.parametrize(
    ("band", "share", "form"),
    [("scarce", 100, "keyed"), ("middling", 8, "walking"), ("frequent", 2, "scanning")],
)
def test_every_page_of_a_term_is_what_reading_every_event_would_give(
    tenant: Tenant, band: str, share: int, form: str
) -> None:
    # One event in ``share`` holds the term; pages of 50 are read however suits the term
    # best: from its events, or walking all of them testing each against the postings
    # or the text. Every way finds the same events, in the same order.
    rng = random.Random(share)
    batch = varied_events(rng, 1_200)
    for n, event in enumerate(batch):
        event["details"]["band"] = band if n % share == 0 else "other"
    ingest(tenant.writer, batch)
    caught_up(tenant.stack, tenant.id)
    with write_transaction(tenant.stack.engine) as conn:  # past the index, as just committed
        for _ in range(3):
            events.record(
                conn,
                tenant_id=tenant.id,
                event=EventIn(action="UPDATE", resource_type="MODEL", details={"band": band}),
                geo=NO_GEOLOCATION,
            )
    with tenant.stack.engine.connect() as conn:
        query = parse_search_query(band)
        assert query_clauses(conn, tenant_id=tenant.id, query=query).page_form(51) == form

    expected = [e["id"] for e in list_all(tenant.reader) if e["details"]["band"] == band]
    paged: list[str] = []
    params: dict[str, Any] = {"q": band, "limit": 50, "include_total": "true"}
    while True:
        page = tenant.reader.get("/audit-logs/", params=params).json()
        assert page["total"] == len(expected)
        paged += [e["id"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert paged == expected
    offset = tenant.reader.get("/audit-logs/", params={"q": band, "limit": 50, "offset": 7})
    assert [e["id"] for e in offset.json()["items"]] == expected[7:57]


@pytest.mark.parametrize(("share", "form"), [(100, "keyed"), (8, "walking"), (2, "scanning")])
def test_every_form_finds_only_the_tenants_own_events(
    tenant_factory: TenantFactory, share: int, form: str
) -> None:
    # Two tenants with the same events, so the same event numbers hold the same term.
    mine, theirs = tenant_factory(), tenant_factory()
    for tenant in (mine, theirs):
        batch = varied_events(random.Random(share), 1_200)
        for n, event in enumerate(batch):
            event["details"]["band"] = "shared" if n % share == 0 else "other"
        ingest(tenant.writer, batch)
        caught_up(tenant.stack, tenant.id)
    with mine.stack.engine.connect() as conn:
        query = parse_search_query("shared")
        assert query_clauses(conn, tenant_id=mine.id, query=query).page_form(51) == form
    for tenant in (mine, theirs):
        expected = [e["id"] for e in list_all(tenant.reader) if e["details"]["band"] == "shared"]
        params = {"q": "shared", "limit": 50, "include_total": "true"}
        page = tenant.reader.get("/audit-logs/", params=params).json()
        assert [e["id"] for e in page["items"]] == expected[:50]
        assert page["total"] == len(expected)


def test_the_index_stays_equal_to_the_events_through_ingest_purges_and_a_restart(
    tenant: Tenant,
) -> None:
    rng = random.Random(11)
    batches = [varied_events(rng, 150, days_old=40 if k % 2 else 0) for k in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda batch: ingest(tenant.writer, batch), batches))
    caught_up(tenant.stack, tenant.id)
    assert_index_agrees(tenant.stack, tenant.id)

    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, retention_days=30)
    run_job_once(tenant.stack.engine, PURGE)
    kept = list_all(tenant.reader)
    assert len(kept) == 600
    assert_index_agrees(tenant.stack, tenant.id)
    assert {e["id"] for e in list_all(tenant.reader, q="gamma")} == read_directly(kept, "gamma")

    # A restart: a new server on the same database goes on from the index's cursor.
    with write_transaction(tenant.stack.engine) as conn:
        key = accounts.create_api_key(
            conn, tenant_id=tenant.id, name="restarted", scopes=frozenset(Permission)
        )[0]
    with (
        live_server(create_app(tenant.stack.settings, engine=tenant.stack.engine)) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        ingest(client, varied_events(rng, 200))
        caught_up(tenant.stack, tenant.id)
        everything = list_all(client)
        found = {e["id"] for e in list_all(client, q="theta")}
    assert found == read_directly(everything, "theta")
    assert_index_agrees(tenant.stack, tenant.id)


def test_a_common_value_is_still_found_everywhere_and_counted_after_a_purge(
    tenant: Tenant,
) -> None:
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    shared = [
        make_event(details={"team": "platform"}, **({"timestamp": old} if n < 15_000 else {}))
        for n in range(COMMON_AT + 5)
    ]
    ingest(tenant.writer, shared)
    ingest(tenant.writer, [make_event(details={"team": "platformers"})])
    caught_up(tenant.stack, tenant.id)
    # Counted from the bitmaps, a total past the cap is exact too.
    answer = tenant.reader.get("/audit-logs/", params={"q": "platform", "limit": 3}).json()
    assert (answer["total"], answer["total_exact"]) == (COMMON_AT + 6, True)
    exact = tenant.reader.get("/audit-logs/", params={"q": "details.team:platform", "limit": 1})
    assert (exact.json()["total"], exact.json()["total_exact"]) == (COMMON_AT + 5, True)
    rarer = tenant.reader.get("/audit-logs/", params={"q": "platformers"}).json()
    assert rarer["total"] == 1
    assert_index_agrees(tenant.stack, tenant.id)

    # A purge takes the common value under the cap, though it stays common (its postings
    # having stopped): its bitmaps lose the purged events.
    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, retention_days=30)
    run_job_once(tenant.stack.engine, PURGE)
    answer = tenant.reader.get("/audit-logs/", params={"q": "platform", "limit": 3}).json()
    assert (answer["total"], answer["total_exact"]) == (COMMON_AT + 5 - 15_000 + 1, True)
    exact = tenant.reader.get("/audit-logs/", params={"q": "details.team:platform", "limit": 1})
    assert (exact.json()["total"], exact.json()["total_exact"]) == (COMMON_AT + 5 - 15_000, True)
    assert_index_agrees(tenant.stack, tenant.id)


def dictionary(stack: Stack, tenant_id: uuid.UUID, folded: str) -> list[tuple[int, int]]:
    """The (id, count) of the tenant's dictionary values holding ``folded``."""
    with stack.engine.connect() as conn:
        t = search_terms.c
        query = select(t.id, t.events).where(t.tenant_id == tenant_id, t.text.contains(folded))
        return [(int(i), int(n)) for i, n in conn.execute(query)]


def test_a_purge_takes_values_no_event_holds_out_of_the_dictionary(tenant: Tenant) -> None:
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    ingest(
        tenant.writer,
        [make_event(details={"request": f"req-{n:04d}"}, timestamp=old) for n in range(300)]
        + [make_event(details={"request": "req-kept"})],
    )
    caught_up(tenant.stack, tenant.id)
    assert len(dictionary(tenant.stack, tenant.id, "req-")) == 301
    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, retention_days=30)
    run_job_once(tenant.stack.engine, PURGE)
    left = dictionary(tenant.stack, tenant.id, "req-")
    # SQLite keeps its newest term, whose id numbers the next; nothing else stays.
    assert [n for _, n in left] in ([1], [0, 1], [1, 0])
    with tenant.stack.engine.connect() as conn:
        assert len(compare_index(conn, tenant_id=tenant.id).emptied) == len(left) - 1

    # A purged value seen again is indexed anew.
    again = ingest(tenant.writer, [make_event(details={"request": "req-0007"})])
    caught_up(tenant.stack, tenant.id)
    assert [e["id"] for e in list_all(tenant.reader, q="req-0007")] == again
    assert len(dictionary(tenant.stack, tenant.id, "req-0007")) == 1
    assert_index_agrees(tenant.stack, tenant.id)


@pytest.mark.parametrize("term", ["zz", "é"])
def test_short_terms_are_found_by_reading(tenant: Tenant, term: str) -> None:
    ingest(tenant.writer, [make_event(details={"code": f"x{term.upper()}y"}), make_event()])
    caught_up(tenant.stack, tenant.id)
    assert len(list_all(tenant.reader, q=term)) == 1


def test_a_query_listing_more_events_than_a_statement_takes_still_answers(tenant: Tenant) -> None:
    # Four values, each under the common threshold, together over 65,535: more event
    # numbers than PostgreSQL takes as parameters in one statement.
    teams = ["amber", "birch", "cedar", "dune"]
    for team in teams:
        ingest(tenant.writer, [make_event(details={"team": team}) for _ in range(16_500)])
    caught_up(tenant.stack, tenant.id)
    answer = tenant.reader.get("/audit-logs/", params={"q": "details.team:" + ",".join(teams)})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert (page["total"], page["total_exact"]) == (66_000, True)  # from the bitmaps
    assert {item["details"]["team"] for item in page["items"]} <= set(teams)
    one = tenant.reader.get("/audit-logs/", params={"q": "details.team:dune", "limit": 1}).json()
    assert (one["total"], one["total_exact"]) == (16_500, True)
    # A time range, which the bitmaps do not answer: counted by reading, up to the cap.
    since = {"start_date": "2000-01-01T00:00:00Z"}
    answer = tenant.reader.get(
        "/audit-logs/", params={"q": "details.team:" + ",".join(teams), **since}
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["total"], answer.json()["total_exact"]) == (10_000, False)


def test_nul_and_private_use_characters_reach_no_key(tenant: Tenant) -> None:
    stored = ingest(
        tenant.writer,
        [
            make_event(details={"reason": "abc\u0000defgh"}),
            make_event(details={"note": "\U000f0072\U000f0065ason"}),
        ],
    )
    caught_up(tenant.stack, tenant.id)
    assert [e["id"] for e in list_all(tenant.reader, q="efg")] == [stored[0]]
    assert [e["id"] for e in list_all(tenant.reader, q='"abc def"')] == [stored[0]]
    # A key path typed in the private-use characters it is stored in matches nothing.
    typed_key = "".join(chr(0xF0000 + ord(c)) for c in "reason")
    assert list_all(tenant.reader, q=typed_key) == []
    assert list_all(tenant.reader, q="reason") == []


# --- a purge and the indexer, or two purges, at the same moment ---


def store_old_and_new(stack: Stack) -> uuid.UUID:
    """A tenant with 300 events past a 30-day retention and 100 within it, sharing values."""
    old = datetime.now(UTC) - timedelta(days=40)
    with write_transaction(stack.engine) as conn:
        tenant_id = create_tenant(conn, name="racing", retention_days=30)["id"]
        batch = [
            EventIn.model_validate(
                make_event(
                    details={"request": f"req-{n}", "team": f"team-{n % 7}"},
                    timestamp=old if n < 300 else datetime.now(UTC),
                )
            )
            for n in range(400)
        ]
        events.record_many(conn, tenant_id=tenant_id, events=batch, geo=NO_GEOLOCATION)
    return tenant_id


def purge(stack: Stack, tenant_id: uuid.UUID) -> int:
    with write_transaction(stack.engine) as conn:
        return purge_expired(conn, tenant_id=tenant_id, retention_days=30, now=datetime.now(UTC))


def waiting_for_a_lock(stack: Stack) -> bool:
    with stack.engine.connect() as conn:
        return bool(
            conn.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar()
        )


def test_a_purge_while_the_indexer_has_read_the_events_leaves_exact_counts(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    fresh = fresh_stack(stack, request, tmp_root)  # no server: only the test's passes run
    tenant_id = store_old_and_new(fresh)
    consumer = SearchIndexConsumer()
    now = datetime.now(UTC)
    if fresh.backend == "sqlite":
        # The runner's order on SQLite: plan in a read snapshot, then write. The purge
        # commits in between, deleting events the plan holds, past the index's cursor.
        with fresh.engine.connect() as conn:
            batch = events_after(conn, tenant_id=tenant_id, after_seq=0, limit=1_000)
            plan = consumer.plan(conn, tenant_id=tenant_id, events=batch, now=now)
        assert purge(fresh, tenant_id) == 300
        with write_transaction(fresh.engine) as conn:
            ensure_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=now)
            advance_cursor(
                conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, expected=0, to=400, now=now
            )
            assert plan is not None
            consumer.apply(conn, tenant_id=tenant_id, plan=plan, now=now)
    else:
        # PostgreSQL: the pass holds the index's cursor; a purge started meanwhile waits
        # for it, then forgets what the pass indexed.
        with write_transaction(fresh.engine) as conn:
            ensure_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=now)
        with ThreadPoolExecutor(max_workers=1) as pool:
            with write_transaction(fresh.engine) as conn:
                assert claim_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME) == 0
                batch = events_after(conn, tenant_id=tenant_id, after_seq=0, limit=1_000)
                plan = consumer.plan(conn, tenant_id=tenant_id, events=batch, now=now)
                assert plan is not None
                purged = pool.submit(purge, fresh, tenant_id)
                eventually(lambda: waiting_for_a_lock(fresh), what="the purge to wait")
                consumer.apply(conn, tenant_id=tenant_id, plan=plan, now=now)
                advance_cursor(
                    conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, expected=0, to=400, now=now
                )
            assert purged.result(timeout=30) == 300
    assert_index_agrees(fresh, tenant_id)
    with fresh.engine.connect() as conn:
        assert compare_index(conn, tenant_id=tenant_id).through == 400
        kept = query_clauses(conn, tenant_id=tenant_id, query=parse_search_query("team-3"))
        assert kept.matched_at_least == len([n for n in range(300, 400) if n % 7 == 3])
    fresh.engine.dispose()


@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
def test_two_nodes_purging_at_once_forget_each_event_once(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    fresh = fresh_stack(stack, request, tmp_root)  # no server: only the test's passes run
    tenant_id = store_old_and_new(fresh)
    ConsumerRunner(fresh.engine, SearchIndexConsumer(), yield_to_writers=False).catch_up()
    with ThreadPoolExecutor(max_workers=1) as pool:
        with write_transaction(fresh.engine) as conn:
            now = datetime.now(UTC)
            assert purge_expired(conn, tenant_id=tenant_id, retention_days=30, now=now) == 300
            other = pool.submit(purge, fresh, tenant_id)
            eventually(lambda: waiting_for_a_lock(fresh), what="the other purge to wait")
        assert other.result(timeout=30) == 0
    assert_index_agrees(fresh, tenant_id)
    with fresh.engine.connect() as conn:
        teams = query_clauses(conn, tenant_id=tenant_id, query=parse_search_query("team-3"))
        assert teams.matched_at_least == len([n for n in range(300, 400) if n % 7 == 3])
    fresh.engine.dispose()
