"""Fill a migrated database with the query dataset, fast, straight into the real table.

The rows are the generator's (the same ones the API would have stored), inserted with the
table's indexes in place, then ANALYZEd so the planner sees a realistic table.
"""

from __future__ import annotations

import time
import uuid
from itertools import islice

from bench import dataset
from bench.context import Context

LOAD_CHUNK = 50_000
QUERY_DAYS = 60  # inside the default 90-day retention, so the purge job leaves it alone


def load_events(ctx: Context, url: str, tenant_id: uuid.UUID) -> dict[str, float]:
    """Insert ``sizes.query_events`` events and ANALYZE; how long each step took."""
    events = dataset.generate(
        ctx.world, seed=ctx.seed, count=ctx.sizes.query_events, days=QUERY_DAYS, end=ctx.end
    )
    conn = ctx.backend.connect(url)
    try:
        started = time.perf_counter()
        while chunk := list(islice(events, LOAD_CHUNK)):
            ctx.backend.insert_batches(conn, [[ctx.backend.row(e, tenant_id) for e in chunk]])
        loaded = time.perf_counter()
        ctx.backend.analyze(conn)
        analyzed = time.perf_counter()
    finally:
        conn.close()
    return {
        "load_seconds": round(loaded - started, 1),
        "analyze_seconds": round(analyzed - loaded, 1),
    }
