"""Benchmark 5: ``GET /audit-logs/summary``, what every activity page of the console draws
(timeline, counts by action and resource, top resources), against its own SQL run raw."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bench.client import KeepAlive
from bench.context import Context
from bench.server import Server, Tenant
from bench.sqlcapture import Statement, summary_statements
from bench.stats import latency_ms
from vigil.db.engine import build_engine

PATH = "/audit-logs/summary"
TARGET_P95_MS = 500.0  # a dashboard that answers within half a second
BUDGET_SECONDS = 15.0
MIN_SAMPLES = 5


def _since(end: datetime, days: float) -> str:
    return (end - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def shapes(ctx: Context) -> list[tuple[str, dict[str, str]]]:
    """What the console asks for: the quick ranges, and a busy person's month."""
    busiest = ctx.world.users.items[0]
    return [
        ("last 24 hours (by hour)", {"start_date": _since(ctx.end, 1)}),
        ("last 7 days", {"start_date": _since(ctx.end, 7)}),
        ("last 30 days", {"start_date": _since(ctx.end, 30)}),
        ("one user, 30 days", {"start_date": _since(ctx.end, 30), "user_id": busiest.user_id}),
        ("deletions, 30 days", {"start_date": _since(ctx.end, 30), "action": "DELETE"}),
    ]


def run(
    ctx: Context, server: Server, tenant: Tenant, url: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """p95 of each shape over HTTP, and of the same statements on a raw connection."""
    engine = build_engine(url, pool_size=1)
    raw = ctx.backend.connect(url)
    client = KeepAlive(server.host, server.port, tenant.api_key)
    results = []
    try:
        for name, params in shapes(ctx):
            log(f"summary shape: {name}")
            replay = summary_statements(engine, tenant.tenant_id, params, ctx.end)
            results.append(measure(ctx, name, PATH, params, replay, raw, client, TARGET_P95_MS))
    finally:
        client.close()
        raw.close()
        engine.dispose()
    return {"events": ctx.sizes.query_events, "target_p95_ms": TARGET_P95_MS, "shapes": results}


def measure(
    ctx: Context,
    name: str,
    path: str,
    params: dict[str, str],
    replay: list[Statement],
    raw: Any,
    client: KeepAlive,
    target_ms: float,
) -> dict[str, Any]:
    """p95 of ``GET path?params`` over HTTP (after a first request that warms the caches),
    and of ``replay`` on the raw connection, each sample one of each, for up to
    ``query_repeats`` samples or ``BUDGET_SECONDS`` (at least ``MIN_SAMPLES``)."""
    target = f"{path}?{urlencode(params)}"
    status, body, _ = client.get(target)
    if status != 200:
        raise RuntimeError(f"GET {target} answered {status}: {body[:300]!r}")
    http_s: list[float] = []
    sql_s: list[float] = []
    started = time.perf_counter()
    while len(http_s) < ctx.sizes.query_repeats and (
        len(http_s) < MIN_SAMPLES or time.perf_counter() - started < BUDGET_SECONDS
    ):
        status, body, seconds = client.get(target)
        if status != 200:
            raise RuntimeError(f"{name}: answered {status}: {body[:300]!r}")
        http_s.append(seconds)
        sql_started = time.perf_counter()
        for statement, statement_params in replay:
            ctx.backend.fetch_all(raw, statement, statement_params)
        sql_s.append(time.perf_counter() - sql_started)
    http_ms = latency_ms(http_s)
    return {
        "name": name,
        "path": path,
        "params": params,
        "samples": len(http_s),
        "http_ms": http_ms,
        "sql_ms": latency_ms(sql_s),
        "met": http_ms["p95"] <= target_ms,
    }
