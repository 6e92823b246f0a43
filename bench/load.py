"""Fill a migrated database with the query dataset, fast, straight into the real table.

The rows are the generator's (the same ones the API would have stored), inserted with the
table's indexes in place, then ANALYZEd so the planner sees a realistic table. They are
numbered after the tenant's events already there, and the consumers' cursors are set past
them, as for history that was judged before, and the search index, the activity and
resource rollups and the people tables are brought up to them: a server started on it has
nothing to catch up.
"""

from __future__ import annotations

import time
import uuid
from itertools import islice
from typing import Any

from sqlalchemy import select, update

from bench import dataset
from bench.context import Context
from vigil.analytics.resource_rollups import ResourceRollupConsumer
from vigil.analytics.rollups import RollupConsumer
from vigil.cli.db import INDEXER_CACHE_MIB
from vigil.core.clock import utcnow
from vigil.db.engine import build_engine, write_transaction
from vigil.events.tables import event_sequences
from vigil.people.consumer import PeopleConsumer
from vigil.search.consumer import CONSUMER_NAME as SEARCH_INDEX
from vigil.search.consumer import SearchIndexConsumer
from vigil.spine import service as cursors
from vigil.spine.consumers import Consumer
from vigil.spine.runner import ConsumerRunner
from vigil.spine.tables import consumer_cursors

LOAD_CHUNK = 50_000
QUERY_DAYS = 60  # inside the default 90-day retention, so the purge job leaves it alone


def load_events(
    ctx: Context, url: str, tenant_id: uuid.UUID, *, search_index: bool = True
) -> dict[str, float]:
    """Insert ``sizes.query_events`` events and ANALYZE; how long each step took. Without
    ``search_index`` the index's cursor is set past them instead of building it, for
    benchmarks that never search (free text would not find these events): at 10M events
    the index takes most of an hour to build."""
    events = dataset.generate(
        ctx.world, seed=ctx.seed, count=ctx.sizes.query_events, days=QUERY_DAYS, end=ctx.end
    )
    head = _head(url, tenant_id)
    seq = head
    conn = ctx.backend.connect(url)
    try:
        started = time.perf_counter()
        while chunk := list(islice(events, LOAD_CHUNK)):
            rows = [ctx.backend.row(e, tenant_id, seq + n) for n, e in enumerate(chunk, 1)]
            ctx.backend.insert_batches(conn, [rows])
            seq += len(chunk)
        loaded = time.perf_counter()
        ctx.backend.analyze(conn)
        analyzed = time.perf_counter()
    finally:
        conn.close()
    _judged(url, tenant_id, last_seq=seq, skipped=() if search_index else (SEARCH_INDEX,))
    return {
        "load_seconds": round(loaded - started, 1),
        "analyze_seconds": round(analyzed - loaded, 1),
        "index_seconds": _indexed(url) if search_index else 0.0,
        "rollup_seconds": _rolled_up(url),
        "resource_rollup_seconds": _caught_up(url, ResourceRollupConsumer()),
        "people_seconds": _caught_up(url, PeopleConsumer()),
    }


def _indexed(url: str) -> float:
    """Bring the search index up to the loaded events, as ``vigil db index`` does (a server
    would in the background); how long it took, in seconds."""
    return _caught_up(url, SearchIndexConsumer(), cache_mib=INDEXER_CACHE_MIB)


def _rolled_up(url: str) -> float:
    """Bring the activity rollups up to the loaded events (a server would in the
    background, and its summaries would read the events meanwhile); seconds taken."""
    return _caught_up(url, RollupConsumer())


def _caught_up(url: str, consumer: Consumer[Any], *, cache_mib: int | None = None) -> float:
    engine = build_engine(url, pool_size=1, cache_mib=cache_mib)
    try:
        started = time.perf_counter()
        ConsumerRunner(engine, consumer, yield_to_writers=False).catch_up()
        return round(time.perf_counter() - started, 1)
    finally:
        engine.dispose()


def _head(url: str, tenant_id: uuid.UUID) -> int:
    """The tenant's last ``seq`` so far."""
    engine = build_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            query = select(event_sequences.c.last_seq).where(
                event_sequences.c.tenant_id == tenant_id
            )
            return int(conn.execute(query).scalar_one_or_none() or 0)
    finally:
        engine.dispose()


def _judged(
    url: str, tenant_id: uuid.UUID, *, last_seq: int, skipped: tuple[str, ...] = ()
) -> None:
    """Move the tenant's sequence, and the cursors of the detection consumer and of the
    ``skipped`` ones, to ``last_seq``."""
    engine = build_engine(url, pool_size=1)
    try:
        with write_transaction(engine) as conn:
            moved = conn.execute(
                update(event_sequences)
                .where(event_sequences.c.tenant_id == tenant_id)
                .values(last_seq=last_seq)
            ).rowcount
            if not moved:
                head = {"tenant_id": tenant_id, "last_seq": last_seq}
                conn.execute(event_sequences.insert().values(head))
            for consumer in ("detections", *skipped):
                cursors.ensure_cursor(conn, tenant_id=tenant_id, consumer=consumer, now=utcnow())
            conn.execute(
                update(consumer_cursors)
                .where(consumer_cursors.c.tenant_id == tenant_id)
                .values(position=last_seq)
            )
    finally:
        engine.dispose()
