"""A page of a term that is frequent overall but rare among the other filters' events is
fetched by key from what the bitmaps select (``events.keyed_page``): the same events in
the same order as reading every event gives, every page, each tenant its own, with the
events the index has not reached yet."""

from __future__ import annotations

import random
from typing import Any

from tests.conftest import Tenant, TenantFactory
from tests.helpers import ingest, list_all
from tests.integration.test_search_index import caught_up, varied_events
from vigil.db.engine import write_transaction
from vigil.events import service as events
from vigil.events.filters import EventFilters
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.keyed_page import keyed_by_bitmaps
from vigil.events.schemas import Action, EventIn
from vigil.events.search_clauses import query_clauses
from vigil.events.search_query import parse_search_query


def tagged_events(seed: int) -> list[dict[str, Any]]:
    """2,000 events, one in 8 tagged (a walk finds those fast), but only 20 of the 1,000
    DELETEs (a walk of the DELETEs reads them all for a page)."""
    batch = varied_events(random.Random(seed), 2_000)
    for n, event in enumerate(batch):
        event["action"] = "DELETE" if n % 2 else "UPDATE"
        tagged = n % 8 == 0 if n % 2 == 0 else n % 100 == 1
        event["details"]["tag"] = "tagged" if tagged else "plain"
    return batch


def assert_pages_read_right(tenant: Tenant, expected: list[str]) -> None:
    paged: list[str] = []
    params: dict[str, Any] = {"q": "tagged", "action": "DELETE", "limit": 7}
    while True:
        page = tenant.reader.get("/audit-logs/", params={**params, "include_total": "true"})
        assert page.status_code == 200, page.text
        assert page.json()["total"] == len(expected)
        paged += [e["id"] for e in page.json()["items"]]
        if page.json()["next_cursor"] is None:
            break
        params["cursor"] = page.json()["next_cursor"]
    assert paged == expected
    offset = {"q": "tagged", "action": "DELETE", "limit": 5, "offset": 3}
    page = tenant.reader.get("/audit-logs/", params=offset).json()
    assert [e["id"] for e in page["items"]] == expected[3:8]


def test_a_page_keyed_by_the_bitmaps_is_what_reading_every_event_gives(
    tenant_factory: TenantFactory,
) -> None:
    # Two tenants with the same events: the same event numbers hold the term in both.
    mine, theirs = tenant_factory(), tenant_factory()
    for tenant in (mine, theirs):
        ingest(tenant.writer, tagged_events(11))
        caught_up(tenant.stack, tenant.id)
    with write_transaction(mine.stack.engine) as conn:  # past the index, as just committed
        for _ in range(3):
            events.record(
                conn,
                tenant_id=mine.id,
                event=EventIn(action="DELETE", resource_type="MODEL", details={"tag": "tagged"}),
                geo=NO_GEOLOCATION,
            )
    filters = EventFilters(actions=(Action.DELETE,), query=parse_search_query("tagged"))
    with mine.stack.engine.connect() as conn:
        search = query_clauses(conn, tenant_id=mine.id, query=filters.query)
        assert search.page_form(8) != "keyed"  # the postings would have it walk
        keyed = keyed_by_bitmaps(conn, tenant_id=mine.id, filters=filters, search=search, wanted=8)
        assert keyed is not None
    for tenant, count in ((mine, 23), (theirs, 20)):
        expected = [
            e["id"]
            for e in list_all(tenant.reader, action="DELETE")
            if e["details"]["tag"] == "tagged"
        ]
        assert len(expected) == count
        assert_pages_read_right(tenant, expected)
