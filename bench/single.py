"""Benchmark 2: one event per ``POST /audit-logs/`` from 16 concurrent clients.

The baseline is the cost the database puts on the same work done naively: one row per
transaction, one after another. Group commit is what lets the HTTP side beat it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from bench import dataset, rows
from bench.client import LoadResult, build_request, closed_loop, closed_loop_processes
from bench.context import Context
from bench.server import Server, Tenant
from bench.stats import ProcessWatch, latency_ms

# Above this share of one core, the client may be what limits the rate: run a second one.
CLIENT_SATURATED = 0.8


def _requests(ctx: Context, token: str, *, seed: int, count: int) -> list[bytes]:
    events = dataset.generate(ctx.world, seed=seed, count=count, days=7, end=ctx.end)
    return [
        build_request("POST", "/audit-logs/", token=token, body=orjson.dumps(rows.wire(e)))
        for e in events
    ]


def run_http(ctx: Context, server: Server, tenant: Tenant) -> dict[str, Any]:
    """Events/s and latency of single-event ingest.

    Run again with two client processes when one client process was busy enough to be
    what limited the rate.
    """
    sizes = ctx.sizes
    warm = _requests(ctx, tenant.api_key, seed=ctx.seed + 2, count=sizes.single_warmup)
    timed = _requests(ctx, tenant.api_key, seed=ctx.seed + 3, count=sizes.single_requests)
    closed_loop(server.host, server.port, warm, sizes.single_concurrency)
    # The first half is timed with one client process; the second only if that one was busy.
    halves = (timed[: len(timed) // 2], timed[len(timed) // 2 :])
    runs = []
    for processes, batch in zip((1, 2), halves, strict=True):
        with ProcessWatch(server.process) as watch:
            result = closed_loop_processes(
                server.host, server.port, batch, sizes.single_concurrency, processes
            )
        if set(result.statuses) != {201}:
            raise RuntimeError(f"single-event ingest: unexpected answers {dict(result.statuses)}")
        runs.append(_summary(result, watch.usage.cpu_seconds, processes))
        if result.client_cpu / result.wall < CLIENT_SATURATED:
            break
    best = max(runs, key=lambda r: r["events_per_s"])
    return {**best, "concurrency": sizes.single_concurrency, "runs": runs}


def _summary(result: LoadResult, server_cpu: float, processes: int) -> dict[str, Any]:
    return {
        "requests": len(result.latencies),
        "client_processes": processes,
        "events_per_s": round(len(result.latencies) / result.wall),
        "latency_ms": latency_ms(result.latencies),
        "server_cores": round(server_cpu / result.wall, 2),
        "client_cores": round(result.client_cpu / result.wall, 2),
    }


def run_raw(ctx: Context, url: str, tenant_id: uuid.UUID, *, first_seq: int) -> dict[str, Any]:
    """One row per transaction, sequentially, on the raw-ingest database (numbered from
    ``first_seq``, after the rows already there)."""
    events = dataset.generate(
        ctx.world, seed=ctx.seed + 4, count=ctx.sizes.baseline_single_rows, days=7, end=ctx.end
    )
    table_rows = [ctx.backend.row(e, tenant_id, n) for n, e in enumerate(events, first_seq)]
    conn = ctx.backend.connect(url)
    latencies = []
    try:
        started = time.perf_counter()
        for row in table_rows:
            sent = time.perf_counter()
            ctx.backend.insert_one(conn, row)
            latencies.append(time.perf_counter() - sent)
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return {
        "rows": len(table_rows),
        "rows_per_s": round(len(table_rows) / seconds),
        "latency_ms": latency_ms(latencies),
    }
