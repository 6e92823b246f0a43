"""Benchmark 3: ``GET /audit-logs/`` over a large table, each shape against its own SQL run raw.

Every shape is timed with ``include_total=false`` and with the exact total; the baseline
replays the statements Vigil issues for the same request on a plain DB-API connection.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson

from bench.client import KeepAlive
from bench.context import Context
from bench.server import Server, Tenant
from bench.shapes import Params, Shape, build_shapes
from bench.sqlcapture import Statement, list_statements
from bench.stats import latency_ms
from vigil.core.pagination import Cursor, PageRequest
from vigil.db.engine import build_engine
from vigil.events import service
from vigil.events.filters import EventFilters

TARGET_MS = {False: 50.0, True: 250.0}  # p95, without and with the total
MIN_SAMPLES = 8
BUDGET_SECONDS = 12.0  # per shape and mode: slow shapes stop early, with at least MIN_SAMPLES


def run(
    ctx: Context, server: Server, tenant: Tenant, url: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """Latency of every shape, over HTTP and as raw SQL, without and with the total."""
    engine = build_engine(url, pool_size=1)
    raw = ctx.backend.connect(url)
    client = KeepAlive(server.host, server.port, tenant.api_key)
    try:
        count = ctx.sizes.query_events
        depth = min(1_000_000, count * 99 // 100)
        cursors = [_cursor_at(engine, tenant.tenant_id, depth - 50 * k) for k in range(4)]
        shapes = build_shapes(ctx.world, end=ctx.end, deep_cursors=cursors, depth=depth)
        results = []
        for shape in shapes:
            log(f"query shape: {shape.name}")
            results.append(_measure(ctx, shape, engine, raw, client, tenant.tenant_id))
    finally:
        client.close()
        raw.close()
        engine.dispose()
    first, deep = results[0], next(r for r in results if r["name"].startswith("cursor page"))
    return {
        "events": count,
        "cursor_depth": depth,
        "shapes": results,
        # Keyset paging: the page at ``depth`` should cost what the first page does.
        "deep_cursor_vs_first_page_p50": round(
            deep["no_total"]["http_ms"]["p50"] / first["no_total"]["http_ms"]["p50"], 2
        ),
    }


def _cursor_at(engine: Any, tenant_id: uuid.UUID, offset: int) -> str:
    """The cursor a client holds after paging down to ``offset`` rows (found once, untimed)."""
    page = PageRequest(limit=1, offset=offset, include_total=False)
    with engine.connect() as conn:
        result = service.list_events(conn, tenant_id=tenant_id, filters=EventFilters(), page=page)
    row = result.rows[0]
    return Cursor(timestamp=row["timestamp"], id=row["id"]).encode()


def _measure(
    ctx: Context, shape: Shape, engine: Any, raw: Any, client: KeepAlive, tenant_id: uuid.UUID
) -> dict[str, Any]:
    captured: dict[tuple[int, bool], list[Statement]] = {}

    def statements(index: int, total: bool) -> list[Statement]:
        if (index, total) not in captured:
            params = {**shape.variants[index], "include_total": _flag(total)}
            captured[(index, total)] = list_statements(engine, tenant_id, params)
        return captured[(index, total)]

    entry: dict[str, Any] = {"name": shape.name, "targeted": shape.targeted}
    first = _path(shape.variants[0], total=True)
    status, body, _ = client.get(first)  # also warms the caches
    if status != 200:
        raise RuntimeError(f"GET {first} answered {status}: {body[:300]!r}")
    answer = orjson.loads(body)
    entry["example"] = {"params": shape.variants[0], "items": len(answer["items"]),
                        "total": answer["total"]}  # fmt: skip
    page_sql, page_params = statements(0, False)[0]
    entry["plan"] = ctx.backend.explain(raw, page_sql, page_params)
    for total in (False, True):
        http_s, sql_s = [], []
        started = time.perf_counter()
        index = 0
        while index < ctx.sizes.query_repeats and (
            index < MIN_SAMPLES or time.perf_counter() - started < BUDGET_SECONDS
        ):
            variant = index % len(shape.variants)
            status, body, seconds = client.get(_path(shape.variants[variant], total=total))
            if status != 200:
                raise RuntimeError(f"{shape.name}: answered {status}: {body[:300]!r}")
            http_s.append(seconds)
            replay = statements(variant, total)  # captured (by running it) before the clock
            sql_started = time.perf_counter()
            for statement, params in replay:
                ctx.backend.fetch_all(raw, statement, params)
            sql_s.append(time.perf_counter() - sql_started)
            index += 1
        key = "with_total" if total else "no_total"
        http_ms, sql_ms = latency_ms(http_s), latency_ms(sql_s)
        entry[key] = {
            "samples": len(http_s),
            "http_ms": http_ms,
            "sql_ms": sql_ms,
            "target_p95_ms": TARGET_MS[total],
            "met": http_ms["p95"] <= TARGET_MS[total],
        }
    return entry


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _path(params: Params, *, total: bool) -> str:
    return "/audit-logs/?" + urlencode({**params, "include_total": _flag(total)})
