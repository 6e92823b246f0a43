"""Benchmark 4: CSV export of the whole table, its speed and the server's memory while it runs.

A smaller export (about a tenth of the rows, by date) runs first, so the two peaks show
whether memory follows the row count. The baseline streams the same query on a raw
connection and writes the same columns with the ``csv`` module.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from bench.client import KeepAlive
from bench.context import Context
from bench.server import Server, Tenant
from bench.sqlcapture import export_statement
from bench.stats import ProcessWatch
from vigil.core.clock import from_micros
from vigil.core.pagination import PageRequest
from vigil.db.engine import build_engine
from vigil.events import service
from vigil.events.export_csv import CSV_COLUMNS
from vigil.events.filters import EventFilters
from vigil.events.wire import format_time

TARGET_ROWS_PER_S = 100_000
TARGET_PEAK_RSS_MB = 150
MB = 1024 * 1024


class _LineCounter:
    """Counts the lines of a streamed body without keeping it (no cell holds a newline)."""

    def __init__(self) -> None:
        self.lines = 0
        self.size = 0

    def feed(self, piece: bytes) -> None:
        self.lines += piece.count(b"\n")
        self.size += len(piece)


def run(
    ctx: Context, server: Server, tenant: Tenant, url: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """Rows/s and the server's memory for a ~10% and a full export, with raw baselines."""
    engine = build_engine(url, pool_size=1)
    client = KeepAlive(server.host, server.port, tenant.api_key)
    raw = ctx.backend.connect(url)
    try:
        small = max(1, int(ctx.sizes.query_events * ctx.sizes.export_small_share))
        since = _timestamp_at(engine, tenant.tenant_id, small - 1)
        runs = []
        for label, params in ((f"{small:,} rows (by start_date)", {"start_date": since}),
                              ("every row", {})):  # fmt: skip
            log(f"export to CSV: {label}")
            result = _export(client, server, params)
            statement, sql_params = export_statement(engine, tenant.tenant_id, params)
            rows, seconds = _raw_csv(ctx.backend.stream(raw, statement, sql_params))
            result["baseline_rows_per_s"] = round(rows / seconds)
            result["ratio"] = round(result["rows_per_s"] / result["baseline_rows_per_s"], 3)
            runs.append(result)
    finally:
        raw.close()
        client.close()
        engine.dispose()
    small_run, full_run = runs
    return {
        "runs": runs,
        "rss_growth_mb": round(full_run["rss_peak_mb"] - small_run["rss_peak_mb"], 1),
        "anon_growth_mb": round(full_run["anon_peak_mb"] - small_run["anon_peak_mb"], 1),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
    }


def _timestamp_at(engine: Any, tenant_id: uuid.UUID, offset: int) -> str:
    page = PageRequest(limit=1, offset=offset, include_total=False)
    with engine.connect() as conn:
        result = service.list_events(conn, tenant_id=tenant_id, filters=EventFilters(), page=page)
    return format_time(result.rows[0]["timestamp"])


def _export(client: KeepAlive, server: Server, params: dict[str, str]) -> dict[str, Any]:
    counter = _LineCounter()
    path = "/audit-logs/export?" + urlencode({"format": "csv", **params})
    with ProcessWatch(server.process) as watch:
        status, seconds = client.stream(path, counter.feed)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}")
    usage = watch.usage
    rows = counter.lines - 1  # the header
    return {
        "filter": params or "none",
        "rows": rows,
        "megabytes": round(counter.size / MB, 1),
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "server_cores": round(usage.cpu_seconds / seconds, 2),
        "rss_before_mb": round(usage.rss_before / MB, 1),
        "rss_peak_mb": round(usage.rss_peak / MB, 1),
        "anon_peak_mb": round(usage.anon_peak / MB, 1),
        "file_peak_mb": round(usage.file_peak / MB, 1),
    }


def _raw_csv(rows: Iterable[tuple[Any, ...]]) -> tuple[int, float]:
    """Rows written and seconds: the rows as CSV, 1000 to an encoded chunk, like the server."""
    started = time.perf_counter()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow(_cells(row))
        count += 1
        if count % 1000 == 0:
            buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    buffer.getvalue().encode()
    return count, time.perf_counter() - started


def _cells(row: tuple[Any, ...]) -> list[Any]:
    # Only what CSV text needs: ids and times as text (SQLite hands back bytes and integers).
    ident, moment = row[0], row[1]
    ident = uuid.UUID(bytes=ident) if isinstance(ident, bytes) else ident
    moment = from_micros(moment) if isinstance(moment, int) else moment
    return [str(ident), format_time(moment), *row[2 : len(CSV_COLUMNS)]]
