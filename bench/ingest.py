"""Benchmark 1: bulk ingest over HTTP in batches of 1000, against a raw insert of the same rows.

Both sides start from a fresh database with Vigil's schema (the primary key, the five
indexes of the filters and the commit sequence's); the raw side is ``executemany`` on
SQLite and ``COPY`` on PostgreSQL, committing every 1,000 rows (what each request asks
for) and every 20,000 rows (what group commit can reach: the target is 60% of this one).
Request bodies and raw rows are built before any clock starts.

This two-core machine's speed drifts 10 to 15% from one minute to the next, so the HTTP
ingest and the 20,000-row baseline run ``Sizes.ingest_rounds`` times, alternately, each
into a fresh database: the verdict is the median of the rounds' ratios, each a ratio of
two runs a few seconds apart.

The consumers that keep derived data (rollups, people tables, search index) take a small
share of the time while events commit and catch up once ingest pauses (``spine.turns``):
each round also times that catch-up, from the last answer to every consumer at the
head (after the single-event run in the first round), and gives the rate of the whole,
ingest and catch-up together.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench import dataset, rows, single
from bench.client import build_request, closed_loop
from bench.context import Context
from bench.server import create_tenant, running_server
from bench.stats import ProcessWatch, latency_ms
from vigil.cli.common import load_settings
from vigil.consumers import build_consumers
from vigil.core.clock import to_micros
from vigil.db.engine import build_engine
from vigil.db.migrate import upgrade_to_head
from vigil.ops.state import consumer_lag

GROUP_ROWS = 20_000  # the group-commit writer's largest transaction
CATCH_UP_LIMIT = 600.0  # seconds
_SELECT_CONTENT = f"SELECT {rows.column_list(rows.CONTENT)} FROM events"  # noqa: S608


def run(ctx: Context, log: Callable[[str], None]) -> dict[str, Any]:
    """Batch ingest (and, on the same server, single-event ingest) with their baselines."""
    sizes = ctx.sizes
    total = sizes.ingest_warmup_events + sizes.ingest_events
    events = list(dataset.generate(ctx.world, seed=ctx.seed + 1, count=total, days=14, end=ctx.end))
    bodies = list(rows.batch_bodies(events, size=sizes.batch_size))
    warm_batches = sizes.ingest_warmup_events // sizes.batch_size

    table_rows: list[tuple[Any, ...]] = []
    first_tenant = uuid.UUID(int=0)
    rounds: list[dict[str, Any]] = []
    single_result: dict[str, Any] = {}
    stored_as_generated = False
    for number in range(1, sizes.ingest_rounds + 1):
        url = ctx.backend.new_database(f"ingest_http_{number}")
        tenant = create_tenant(url, ctx.workdir)
        requests = [
            build_request("POST", "/audit-logs/batch", token=tenant.api_key, body=b) for b in bodies
        ]
        with running_server(url, ctx.workdir) as server:
            pid = server.process.pid
            log(f"batch ingest over HTTP, round {number}: {sizes.ingest_events:,} events ({pid=})")
            closed_loop(server.host, server.port, requests[:warm_batches], sizes.batch_connections)
            with ProcessWatch(server.process) as watch:
                loaded = closed_loop(
                    server.host, server.port, requests[warm_batches:], sizes.batch_connections
                )
            _require_all(loaded.statuses, 201, "batch ingest")
            if number == 1:
                log("single-event ingest over HTTP")
                single_result = single.run_http(ctx, server, tenant)
            catch_up = _catch_up(url)
            log(f"round {number}: the consumers caught up {catch_up['seconds']:.1f} s later")
        if number == 1:
            stored_as_generated = _verify(ctx, url, events, log)
            first_tenant = tenant.tenant_id
            table_rows = [ctx.backend.row(e, first_tenant, n) for n, e in enumerate(events, 1)]
        log(f"batch ingest baseline, round {number}: raw insert, 20,000 rows per transaction")
        raw_20k_seconds, _ = _raw_batches(
            ctx,
            table_rows,
            warm=sizes.ingest_warmup_events,
            per_commit=GROUP_ROWS,
            label=f"_{number}",
        )
        rate = sizes.ingest_events / loaded.wall
        raw_20k_rate = sizes.ingest_events / raw_20k_seconds
        ratio = rate / raw_20k_rate
        log(f"round {number}: {rate:,.0f} events/s, raw {raw_20k_rate:,.0f}/s: {ratio:.0%}")
        rounds.append({
            "events_per_s": round(rate),
            "baseline_20k_events_per_s": round(raw_20k_rate),
            "ratio_20k": round(rate / raw_20k_rate, 3),
            "seconds": round(loaded.wall, 3),
            "batch_latency_ms": latency_ms(loaded.latencies),
            "server_cores": round(watch.usage.cpu_seconds / loaded.wall, 2),
            "client_cores": round(loaded.client_cpu / loaded.wall, 2),
            "catch_up": catch_up,
        })  # fmt: skip

    log("batch ingest baseline: raw insert into a fresh database, 1000 rows per transaction")
    warm = sizes.ingest_warmup_events
    raw_seconds, raw_url = _raw_batches(ctx, table_rows, warm=warm, per_commit=sizes.batch_size)
    single_result["baseline"] = single.run_raw(
        ctx, raw_url, first_tenant, first_seq=len(table_rows) + 1
    )
    log("batch ingest ceiling: raw insert into a fresh database, one transaction")
    one_txn_seconds, _ = _raw_batches(ctx, table_rows, warm=warm, per_commit=len(table_rows))

    # The round with the median ratio stands for all of them (ties: the earlier round).
    middle = sorted(rounds, key=lambda r: r["ratio_20k"])[(len(rounds) - 1) // 2]
    raw_rate = sizes.ingest_events / raw_seconds
    batch = {
        "events": sizes.ingest_events,
        "batch_size": sizes.batch_size,
        "connections": sizes.batch_connections,
        **middle,
        "baseline_events_per_s": round(raw_rate),
        "ratio": round(middle["events_per_s"] / raw_rate, 3),
        "one_transaction_events_per_s": round(sizes.ingest_events / one_txn_seconds),
        "rounds": rounds,
        "stored_rows_match_generated": stored_as_generated,
    }
    return {"batch": batch, "single": single_result}


def _catch_up(url: str) -> dict[str, Any]:
    """Seconds until every consumer the server on ``url`` runs has reached the last
    committed event (looked at every 0.1 s), and when each one did."""
    names = build_consumers(load_settings(), wake_deliverer=lambda: None).names()
    engine = build_engine(url, pool_size=1)
    started = time.monotonic()
    reached: dict[str, float] = {}
    try:
        while len(reached) < len(names) and time.monotonic() - started < CATCH_UP_LIMIT:
            with engine.connect() as conn:
                lags = consumer_lag(conn, names=names)
            at = round(time.monotonic() - started, 2)
            reached |= {n: at for n, lag in lags.items() if lag.events == 0 and n not in reached}
            time.sleep(0.1)
    finally:
        engine.dispose()
    if len(reached) < len(names):
        raise RuntimeError(f"consumers still behind after {CATCH_UP_LIMIT:.0f} s: {lags}")
    return {"seconds": max(reached.values()), "by_consumer": reached}


def _require_all(statuses: Counter[int], expected: int, what: str) -> None:
    if set(statuses) != {expected}:
        raise RuntimeError(f"{what}: expected only {expected} answers, got {dict(statuses)}")


def _raw_batches(
    ctx: Context,
    table_rows: list[tuple[Any, ...]],
    *,
    warm: int,
    per_commit: int,
    label: str = "",
) -> tuple[float, str]:
    """Seconds to insert the rows after the first ``warm``, ``per_commit`` per transaction,
    into a fresh database (``label`` tells repeated runs apart)."""
    url = ctx.backend.new_database(f"ingest_raw_{per_commit}{label}")
    engine = build_engine(url, pool_size=1)
    try:
        upgrade_to_head(engine)  # the same migrations, so the same table and indexes
    finally:
        engine.dispose()
    timed = table_rows[warm:]
    conn = ctx.backend.connect(url)
    try:
        ctx.backend.insert_batches(conn, [table_rows[:warm]])
        started = time.perf_counter()
        ctx.backend.insert_batches(
            conn, (timed[i : i + per_commit] for i in range(0, len(timed), per_commit))
        )
        return time.perf_counter() - started, url
    finally:
        conn.close()


def _verify(
    ctx: Context, url: str, events: list[dataset.Event], log: Callable[[str], None]
) -> bool:
    """Whether the server stored exactly the rows the raw baseline inserts (ids aside)."""
    conn = ctx.backend.connect(url)
    try:
        stored = Counter(
            (r[0] if isinstance(r[0], int) else to_micros(r[0]), *r[1:])
            for r in ctx.backend.stream(conn, _SELECT_CONTENT, ())
        )
    finally:
        conn.close()
    missing = Counter(rows.content(e) for e in events) - stored
    if missing:
        example = next(iter(missing))
        log(f"[red]{sum(missing.values())} generated rows differ from stored, e.g. {example}[/]")
    return not missing
