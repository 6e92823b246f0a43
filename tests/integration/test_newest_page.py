"""A page of a frequent term among another filter's events is found from the bitmaps and the
blocks' time bounds (``search.newest``): only the blocks that can hold the newest matches
are fetched, and producers' timestamps decide, not the order of commits (events sent late,
and the newest events of all at the lowest seqs). The bounds are kept by the indexer, filled
by the migration that adds them, trimmed by a purge and compared by the index's check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import Stack, Tenant, make_database_url
from tests.helpers import ingest, list_all, make_event
from tests.integration.test_search_index import PURGE, assert_index_agrees, caught_up, purge
from tests.integration.test_spine import fresh_stack
from vigil.core.clock import new_id, to_micros, utcnow
from vigil.db.engine import build_engine, write_transaction
from vigil.db.migrate import upgrade_to, upgrade_to_head
from vigil.events import service as events_service
from vigil.events.filters import EventFilters
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.schemas import Action, EventIn
from vigil.events.search_clauses import query_clauses
from vigil.events.search_query import parse_search_query
from vigil.events.tables import event_sequences, events
from vigil.events.totals import bitmap_count, index_through
from vigil.jobs import run_job_once
from vigil.search.blocks import BLOCK_BITS, read_blocks, times_of
from vigil.search.consumer import CONSUMER_NAME, SearchIndexConsumer
from vigil.search.newest import newest_matches
from vigil.search.service import compare_index
from vigil.search.tables import search_blocks
from vigil.spine.runner import ConsumerRunner
from vigil.spine.tables import consumer_cursors
from vigil.tenants.service import change_tenant_settings, create_tenant

EVENTS = 12_400  # four blocks of seqs
LATE = 1_000_000  # seconds
LIMIT = 20


def timed_events() -> list[dict[str, Any]]:
    """Events a minute apart from 30 days ago, in commit order, but for one in 50 sent late
    (dated 1 to 10 days before its neighbours) and the first 5, dated now: the newest of
    all, in the first block. One in four is a DELETE, one DELETE in 12 tagged, and one
    UPDATE in 8: the term is frequent, so its postings would have a page walk."""
    now = datetime.now(UTC)
    start = now - timedelta(days=30)
    batch = []
    for n in range(EVENTS):
        moment = start + timedelta(minutes=n)
        if n % 50 == 8:
            moment -= timedelta(days=1 + n % 10)
        if n < 5:
            moment = now - timedelta(seconds=n)
        delete = n % 4 == 0
        tagged = n % 48 == 0 if delete else n % 8 == 1
        batch.append(
            make_event(
                action="DELETE" if delete else "UPDATE",
                resource_id=f"model-{n}",
                details={"tag": "tagged" if tagged else "plain", "n": n},
                timestamp=moment.isoformat(),
            )
        )
    return batch


def pages(tenant: Tenant, **params: Any) -> list[str]:
    """Every event of the tagged DELETEs, page by page, following cursors."""
    found: list[str] = []
    query: dict[str, Any] = {"q": "tagged", "action": "DELETE", "limit": LIMIT, **params}
    while True:
        page = tenant.reader.get("/audit-logs/", params=query)
        assert page.status_code == 200, page.text
        found += [e["id"] for e in page.json()["items"]]
        if page.json()["next_cursor"] is None:
            return found
        query["cursor"] = page.json()["next_cursor"]


def test_a_page_is_the_newest_matches_by_timestamp_from_a_few_blocks(tenant: Tenant) -> None:
    ingest(tenant.writer, timed_events())
    caught_up(tenant.stack, tenant.id)
    expected = [
        e["id"] for e in list_all(tenant.reader, action="DELETE") if e["details"]["tag"] == "tagged"
    ]
    assert len(expected) == 259
    first = tenant.reader.get(
        "/audit-logs/", params={"q": "tagged", "action": "DELETE", "limit": LIMIT}
    ).json()
    # The newest of all is the first event committed; the late ones come in their place.
    assert [e["details"]["n"] for e in first["items"][:1]] == [0]
    assert [e["id"] for e in first["items"]] == expected[:LIMIT]
    assert first["total"] == 259
    assert pages(tenant) == expected
    offset = tenant.reader.get(
        "/audit-logs/", params={"q": "tagged", "action": "DELETE", "limit": 5, "offset": 3}
    ).json()
    assert [e["id"] for e in offset["items"]] == expected[3:8]

    # The first page fetched a few blocks' matches, not all 259.
    filters = EventFilters(actions=(Action.DELETE,), query=parse_search_query("tagged"))
    with tenant.stack.engine.connect() as conn:
        search = query_clauses(conn, tenant_id=tenant.id, query=filters.query)
        assert search.page_form(LIMIT + 1) != "keyed"  # the postings would have it walk
        counted = bitmap_count(filters, search)
        assert counted is not None
        found = newest_matches(
            conn,
            tenant_id=tenant.id,
            counted=counted,
            through=index_through(conn, tenant_id=tenant.id, search=search),
            wanted=LIMIT + 1,
            max_fetched=1_000,
            max_reads=1_000,
        )
    assert found is not None
    assert found.fetched < 200
    assert_index_agrees(tenant.stack, tenant.id)


def test_a_block_an_older_version_indexed_in_part_is_read_whole(tenant: Tenant) -> None:
    """A node of an older version indexes without widening the bounds: the block's bounds
    then miss its newest event, which the page finds all the same (and the check names)."""
    # The first block as in the test above; the second's events two months old, so that
    # its bounds, if they were trusted, would have the page stop before it.
    old = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    older = [
        make_event(
            action="DELETE", details={"tag": "plain" if n % 10 else "tagged", "n": n}, timestamp=old
        )
        for n in range(4_095, 5_000)
    ]
    ingest(tenant.writer, [*timed_events()[:4_095], *older])
    caught_up(tenant.stack, tenant.id)
    b = search_blocks.c
    mine = b.tenant_id == tenant.id
    with tenant.stack.engine.connect() as conn:
        before = conn.execute(select(b.last_us, b.indexed_through).where(mine, b.block == 1)).one()
    newest = make_event(action="DELETE", details={"tag": "tagged", "n": -1})
    ingest(tenant.writer, [newest])
    caught_up(tenant.stack, tenant.id)
    with write_transaction(tenant.stack.engine) as conn:  # as an older version leaves it
        conn.execute(
            update(search_blocks)
            .where(mine, b.block == 1)
            .values(last_us=before.last_us, indexed_through=before.indexed_through)
        )
    with tenant.stack.engine.connect() as conn:
        assert compare_index(conn, tenant_id=tenant.id).blocks == [1]
    page = tenant.reader.get(
        "/audit-logs/", params={"q": "tagged", "action": "DELETE", "limit": 10}
    ).json()
    assert [e["details"]["n"] for e in page["items"][:3]] == [-1, 0, 4_080]


def test_a_purge_drops_the_blocks_before_the_oldest_event_left(tenant: Tenant) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    first = [make_event(timestamp=(old + timedelta(seconds=n)).isoformat()) for n in range(4_095)]
    ingest(tenant.writer, [*first, *(make_event(details={"tag": "kept"}) for _ in range(100))])
    caught_up(tenant.stack, tenant.id)
    assert_index_agrees(tenant.stack, tenant.id)
    assert stored_blocks(tenant.stack, tenant.id) == [0, 1]
    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, retention_days=30)
    run_job_once(tenant.stack.engine, PURGE)
    assert stored_blocks(tenant.stack, tenant.id) == [1]  # seqs 1 to 4,095 all purged
    assert len(list_all(tenant.reader, q="kept")) == 100
    assert_index_agrees(tenant.stack, tenant.id)


def test_a_pass_after_a_purge_left_a_gap_reads_the_block_again(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    """The index's next pass starts past where a block's bounds stop when a purge took the
    events in between before the index reached them, or took every event and the blocks
    with them: it reads the block's bounds again, and they hold every event."""
    fresh = fresh_stack(stack, request, tmp_root)
    runner = ConsumerRunner(fresh.engine, SearchIndexConsumer(), yield_to_writers=False)
    now, old = datetime.now(UTC), datetime.now(UTC) - timedelta(days=40)
    try:
        with write_transaction(fresh.engine) as conn:
            late, emptied = (
                create_tenant(conn, name=name, retention_days=30)["id"]
                for name in ("late", "emptied")
            )
        record(fresh, late, now, 10)
        runner.catch_up()
        record(fresh, late, old, 5)  # sent late, expired before the index reaches them
        assert purge(fresh, late) == 5
        record(fresh, emptied, old, 10)
        runner.catch_up()
        assert purge(fresh, emptied) == 10  # every event, and its blocks
        for tenant_id in (late, emptied):
            record(fresh, tenant_id, now, 5)
        runner.catch_up()
        with fresh.engine.connect() as conn:
            for tenant_id, last in ((late, 20), (emptied, 15)):
                assert compare_index(conn, tenant_id=tenant_id).agrees
                blocks = read_blocks(conn, tenant_id=tenant_id, through=last)
                assert [(times.block, times.indexed_through) for times in blocks] == [(0, last)]
    finally:
        fresh.engine.dispose()


def record(stack: Stack, tenant_id: uuid.UUID, when: datetime, count: int) -> None:
    with write_transaction(stack.engine) as conn:
        made = [EventIn(action="CREATE", resource_type="PROJECT", timestamp=when)] * count
        events_service.record_many(conn, tenant_id=tenant_id, events=made, geo=NO_GEOLOCATION)


def stored_blocks(stack: Stack, tenant_id: uuid.UUID) -> list[int]:
    b = search_blocks.c
    with stack.engine.connect() as conn:
        query = select(b.block).where(b.tenant_id == tenant_id).order_by(b.block)
        return [int(block) for block in conn.execute(query).scalars()]


def test_the_migration_fills_the_blocks_the_index_had_reached(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    engine = build_engine(make_database_url(stack.backend, request, tmp_root))
    try:
        upgrade_to(engine, "0022")
        now = utcnow()
        with write_transaction(engine) as conn:
            tenant_id = create_tenant(conn, name="before-blocks", retention_days=0)["id"]
            rows = [
                {
                    "tenant_id": tenant_id,
                    "id": new_id(),
                    # Back in time every 3,000, and the first of the second block sent late.
                    "timestamp": now - timedelta(seconds=(n % 3_000) * 7 + LATE * (n == 4_096)),
                    "action": "LOGIN",
                    "resource_type": "USER",
                    "status": "SUCCESS",
                    "received_at": now,
                    "seq": n,
                }
                for n in range(1, 9_001)
            ]
            conn.execute(events.insert(), rows)
            conn.execute(event_sequences.insert().values(tenant_id=tenant_id, last_seq=9_000))
            conn.execute(
                consumer_cursors.insert().values(
                    tenant_id=tenant_id, consumer=CONSUMER_NAME, position=8_500,
                    updated_at=now, failures=0,
                )
            )  # fmt: skip
        upgrade_to_head(engine)
        with engine.connect() as conn:
            b = search_blocks.c
            query = select(b.block, b.first_us, b.last_us, b.indexed_through).where(
                b.tenant_id == tenant_id
            )
            stored = {int(row[0]): tuple(map(int, row[1:])) for row in conn.execute(query)}
        indexed = times_of([row for row in rows if row["seq"] <= 8_500])
        assert stored == {
            block: (seen.first_us, seen.last_us, through)
            for (block, seen), through in zip(indexed.items(), (4_095, 8_191, 8_500), strict=True)
        }
        late = now - timedelta(seconds=(4_096 % 3_000) * 7 + LATE)
        assert stored[4_096 >> BLOCK_BITS][0] == to_micros(late)
    finally:
        engine.dispose()
