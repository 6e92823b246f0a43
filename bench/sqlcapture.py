"""The exact SQL Vigil runs for a request, captured from its own service functions.

The baselines replay these statements on a raw connection, so the difference between a
baseline and the HTTP figure is Vigil's overhead (HTTP, auth, SQLAlchemy, JSON), not a
different query.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, event

from vigil.analytics.summary import summarize
from vigil.core.pagination import parse_page
from vigil.events import service
from vigil.events.export_csv import CSV_COLUMNS
from vigil.events.filters import EventFilters, parse_filters

Statement = tuple[str, Any]
_FILTER_NAMES = ("action", "resource_type", "resource_id", "user_id", "user_email",
                 "ip_address", "country", "status", "q", "start_date", "end_date")  # fmt: skip


def filters_of(params: dict[str, str]) -> EventFilters:
    """Query parameters parsed as the list route parses them."""
    found = {name: params.get(name) for name in _FILTER_NAMES}
    for repeatable in ("action", "resource_type", "country"):
        value = found[repeatable]
        found[repeatable] = [value] if value else None  # type: ignore[assignment]
    return parse_filters(**found)  # type: ignore[arg-type]


def _capture(
    engine: Engine,
    work: Callable[[Connection], None],
    wanted: Callable[[str], bool] = lambda statement: "FROM events" in statement,
) -> list[Statement]:
    """The statements ``work`` runs that are ``wanted`` (by default those reading events:
    not BEGIN, pings or the like)."""
    statements: list[Statement] = []

    def record(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if wanted(statement):
            statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.connect() as conn:
            work(conn)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def list_statements(
    engine: Engine, tenant_id: uuid.UUID, params: dict[str, str]
) -> list[Statement]:
    """The page query (and the count, when ``include_total``) of ``GET /audit-logs/``."""
    page = parse_page(
        limit=int(params.get("limit", 50)),
        offset=int(params.get("offset", 0)),
        cursor=params.get("cursor"),
        include_total=params.get("include_total", "true") == "true",
    )
    filters = filters_of(params)

    def work(conn: Connection) -> None:
        service.list_events(conn, tenant_id=tenant_id, filters=filters, page=page)

    return _capture(engine, work)


def export_statement(engine: Engine, tenant_id: uuid.UUID, params: dict[str, str]) -> Statement:
    """The streaming query of ``GET /audit-logs/export`` (only its first rows are read here)."""
    filters = filters_of(params)

    def work(conn: Connection) -> None:
        rows = service.iter_events(conn, tenant_id=tenant_id, filters=filters, columns=CSV_COLUMNS)
        for _row in rows:  # the first row shows the statement; the rest is not needed
            break

    (statement,) = _capture(engine, work)
    return statement


def summary_statements(
    engine: Engine, tenant_id: uuid.UUID, params: dict[str, str], now: datetime
) -> list[Statement]:
    """The grouped counts behind ``GET /audit-logs/summary``."""
    filters = filters_of(params)

    def work(conn: Connection) -> None:
        summarize(conn, tenant_id=tenant_id, filters=filters, now=now)

    return _capture(engine, work)


def reads_of(engine: Engine, work: Callable[[Connection], None]) -> list[Statement]:
    """Every SELECT ``work`` runs, in order (an analytics answer reads counters, cursors
    and events)."""
    return _capture(engine, work, lambda statement: statement.lstrip().upper().startswith("SELECT"))
