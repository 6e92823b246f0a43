"""Benchmark 8: the console's 90-day dashboard summary and every team analytics endpoint
over 90 days, against the same statements run raw."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from bench.client import KeepAlive
from bench.context import Context
from bench.server import Server, Tenant
from bench.sqlcapture import Statement, reads_of, summary_statements
from bench.summary import measure
from vigil.analytics import team
from vigil.analytics.period import parse_period
from vigil.analytics.resources import resource_activity
from vigil.db.engine import build_engine

TARGET_P95_MS = 200.0
DAYS = 90


def _period(end: datetime) -> dict[str, str]:
    """The 90 whole days before ``end`` (midnight), as the analytics routes take them."""
    first = (end - timedelta(days=DAYS)).date().isoformat()
    last = (end - timedelta(days=1)).date().isoformat()
    return {"start_date": first, "end_date": last}


def shapes(ctx: Context) -> list[tuple[str, str, dict[str, str]]]:
    """(name, path, query) of each request measured."""
    period = _period(ctx.end)
    since = (ctx.end - timedelta(days=DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        ("dashboard summary, 90 days", "/audit-logs/summary", {"start_date": since}),
        ("overview", "/analytics/overview", period),
        ("peak times", "/analytics/peak-times", period),
        ("features", "/analytics/features", period),
        ("power users", "/analytics/users", {**period, "kind": "power"}),
        ("inactive users", "/analytics/users", {**period, "kind": "inactive"}),
        ("resources: projects", "/analytics/resources", {**period, "resource_type": "PROJECT"}),
    ]


def _statements(
    engine: Any, tenant_id: uuid.UUID, path: str, params: dict[str, str], end: datetime
) -> list[Statement]:
    """The SQL behind one request, captured from the functions its route calls."""
    if path == "/audit-logs/summary":
        return summary_statements(engine, tenant_id, params, end)
    period = parse_period(params.get("start_date"), params.get("end_date"), now=end)

    def work(conn: Connection) -> None:
        if path == "/analytics/overview":
            team.overview(conn, tenant_id=tenant_id, period=period)
        elif path == "/analytics/peak-times":
            team.peak_times(conn, tenant_id=tenant_id, period=period, timezone="UTC")
        elif path == "/analytics/features":
            team.features(conn, tenant_id=tenant_id, period=period)
        elif path == "/analytics/users" and params["kind"] == "power":
            team.power_users(conn, tenant_id=tenant_id, period=period, limit=10, now=end)
        elif path == "/analytics/users":
            team.inactive_users(conn, tenant_id=tenant_id, days=30, limit=10, offset=0, now=end)
        else:
            resource_activity(
                conn, tenant_id=tenant_id, resource_type=params["resource_type"],
                period=period, limit=10,
            )  # fmt: skip

    return reads_of(engine, work)


def run(
    ctx: Context, server: Server, tenant: Tenant, url: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """p95 of each request over HTTP, and of its statements on a raw connection."""
    engine = build_engine(url, pool_size=1)
    raw = ctx.backend.connect(url)
    client = KeepAlive(server.host, server.port, tenant.api_key)
    results = []
    try:
        for name, path, params in shapes(ctx):
            log(f"analytics: {name}")
            replay = _statements(engine, tenant.tenant_id, path, params, ctx.end)
            results.append(measure(ctx, name, path, params, replay, raw, client, TARGET_P95_MS))
    finally:
        client.close()
        raw.close()
        engine.dispose()
    return {"events": ctx.sizes.query_events, "target_p95_ms": TARGET_P95_MS, "shapes": results}
