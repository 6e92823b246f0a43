"""A term held by many values is counted from its unions kept per sealed chunk (and for the
newest chunk, up to where it was counted): totals stay what reading the events gives after
a retention purge deletes kept events, and with events indexed since, a value new to the
dictionary among them."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.helpers import make_event
from tests.integration.test_search_index import PURGE
from tests.integration.test_spine import fresh_stack
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
from vigil.search.bitmaps import CHUNK_BITS
from vigil.search.consumer import CONSUMER_NAME, SearchIndexConsumer
from vigil.search.counting import count_indexed
from vigil.search.unions import term_unions
from vigil.spine.runner import ConsumerRunner
from vigil.spine.service import cursor_position
from vigil.tenants.service import change_tenant_settings, create_tenant

ACTIONS = ["CREATE", "UPDATE", "DELETE", "LOGIN"]
# ``sweep`` is in 300 values, ``sweep-1`` in 111 (sweep-1, -10 … -19, -100 … -199): both kept.
ASKED = [
    "sweep action:DELETE",
    "sweep-1 -action:LOGIN",
    "action:UPDATE -sweep-2",
    "sweep-1 alpha",
    "sweep -sweep-1 user:u-3",
]


def store(
    stack: Stack, tenant_id: uuid.UUID, count: int, *, days_old: float, run: str = ""
) -> None:
    """``count`` events ``days_old`` days old, each with one of 300 runs (or ``run``)."""
    rng = random.Random(count)
    moment = datetime.now(UTC) - timedelta(days=days_old)
    for start in range(0, count, 5_000):
        made = [
            EventIn.model_validate(
                {
                    **make_event(
                        action=rng.choice(ACTIONS),
                        user_id=f"u-{rng.randrange(6)}",
                        details={
                            "run": run or f"sweep-{rng.randrange(300)}",
                            "note": rng.choice(["alpha", "beta", "gamma"]),
                        },
                    ),
                    "timestamp": moment - timedelta(seconds=n),
                }
            )
            for n in range(start, min(count, start + 5_000))
        ]
        with write_transaction(stack.engine) as conn:
            events.record_many(conn, tenant_id=tenant_id, events=made, geo=NO_GEOLOCATION)


def counted(stack: Stack, tenant_id: uuid.UUID, query: str) -> int:
    """The total the bitmaps give (exact: no cap)."""
    filters = EventFilters(query=parse_search_query(query))
    with stack.engine.connect() as conn:
        search = query_clauses(conn, tenant_id=tenant_id, query=filters.query)
        bitmaps = bitmap_count(filters, search)
        assert bitmaps is not None, query
        total, exact = counted_total(
            conn,
            tenant_id=tenant_id,
            counted=bitmaps,
            clauses=[events_table.c.tenant_id == tenant_id],
            search=search,
            cap=None,
        )
    assert exact
    return total


def read(stack: Stack, tenant_id: uuid.UUID, query: str) -> int:
    """How many events pass the query's clauses, counted in SQL without the bitmaps."""
    filters = EventFilters(query=parse_search_query(query))
    with stack.engine.connect() as conn:
        return events.count_events(conn, tenant_id=tenant_id, filters=filters)


def kept_chunks(tenant_id: uuid.UUID, term: str) -> dict[int, int]:
    """``{chunk: through}`` of the unions kept for the tenant's ``term``."""
    return {
        key[3]: through
        for key, (through, _) in term_unions.entries()
        if key[1] == tenant_id and key[2] == term
    }


def test_kept_unions_count_what_reading_gives(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    fresh = fresh_stack(stack, request, tmp_root)
    with write_transaction(fresh.engine) as conn:
        tenant_id = create_tenant(conn, name="kept", retention_days=90)["id"]

    def catch_up() -> int:
        ConsumerRunner(fresh.engine, SearchIndexConsumer(), yield_to_writers=False).catch_up()
        with fresh.engine.connect() as conn:
            return cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)

    # The first 5,000 (in the first chunk) will expire; the first chunk is sealed.
    store(fresh, tenant_id, 5_000, days_old=40)
    store(fresh, tenant_id, 61_000, days_old=1)
    first_count = catch_up()
    assert first_count >> CHUNK_BITS == 1
    expected = [read(fresh, tenant_id, query) for query in ASKED]
    assert [counted(fresh, tenant_id, query) for query in ASKED] == expected
    # Kept: the sealed chunk, and the newest up to where the index stood.
    assert kept_chunks(tenant_id, "sweep") == {0: first_count, 1: first_count}
    assert [counted(fresh, tenant_id, query) for query in ASKED] == expected

    with write_transaction(fresh.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant_id, retention_days=30)
    run_job_once(fresh.engine, PURGE)
    after_purge = [read(fresh, tenant_id, query) for query in ASKED]
    assert after_purge != expected
    assert [counted(fresh, tenant_id, query) for query in ASKED] == after_purge
    assert kept_chunks(tenant_id, "sweep")[0] == first_count  # still the same union

    # Indexed since: the newest chunk's kept union and the events after it, one of them
    # with a value the dictionary did not hold when the union was kept.
    store(fresh, tenant_id, 200, days_old=0)
    store(fresh, tenant_id, 7, days_old=0, run="sweep-1-new")
    assert catch_up() == first_count + 207
    with fresh.engine.connect() as conn:
        filters = EventFilters(query=parse_search_query("sweep-1 -action:LOGIN"))
        search = query_clauses(conn, tenant_id=tenant_id, query=filters.query)
        bitmaps = bitmap_count(filters, search)
        assert bitmaps is not None
        found = count_indexed(conn, tenant_id=tenant_id, counted=bitmaps, through=first_count + 207)
    assert found.through == first_count  # the 207 since are read
    latest = [read(fresh, tenant_id, query) for query in ASKED]
    assert latest[1] > after_purge[1]
    assert [counted(fresh, tenant_id, query) for query in ASKED] == latest
    fresh.engine.dispose()
