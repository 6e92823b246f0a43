"""Streamed exports in CSV, JSON and NDJSON, in constant memory (DESIGN §3)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Engine

from vigil.core.clock import utcnow
from vigil.core.principal import Principal
from vigil.events import service
from vigil.events.filters import EventFilters
from vigil.events.geo import Geolocator
from vigil.events.prepare import prepare_event
from vigil.events.schemas import Action, EventIn, ResourceType, Status
from vigil.events.wire import PUBLIC_FIELDS, format_time
from vigil.events.writer import EventWriter

log = logging.getLogger(__name__)

CSV_COLUMNS = PUBLIC_FIELDS[:12]  # everything but received_at, in the contract's order
# A spreadsheet would run a cell starting with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
ROWS_PER_CHUNK = 1000
# Each running export holds a database connection (and, on PostgreSQL, a snapshot).
MAX_CONCURRENT_EXPORTS = 4
_TIME_COLUMNS = (PUBLIC_FIELDS.index("timestamp"), PUBLIC_FIELDS.index("received_at"))
_DETAILS = PUBLIC_FIELDS.index("details")


class ExportFormat(StrEnum):
    """The formats an export can take."""

    CSV = "csv"
    JSON = "json"
    NDJSON = "ndjson"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.NDJSON: "application/x-ndjson",
}


def escape_formula(cell: str | None) -> str | None:
    """Prefix a cell a spreadsheet would evaluate with ``'`` so it stays text."""
    if cell is None or not cell.startswith(FORMULA_TRIGGERS):
        return cell
    return "'" + cell


def columns_for(export_format: ExportFormat) -> tuple[str, ...]:
    """The event fields an export in ``export_format`` reads."""
    return CSV_COLUMNS if export_format is ExportFormat.CSV else PUBLIC_FIELDS


def render(
    rows: Iterable[Sequence[Any]],
    export_format: ExportFormat,
    *,
    on_row_count: Callable[[int], None],
) -> Iterator[bytes]:
    """Chunks of the export of ``rows``; reports the running row count after each chunk."""
    renderers = {ExportFormat.CSV: _csv, ExportFormat.JSON: _json, ExportFormat.NDJSON: _ndjson}
    return renderers[export_format](rows, on_row_count)


def _batched(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == ROWS_PER_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _csv(rows: Iterable[Sequence[Any]], on_row_count: Callable[[int], None]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue().encode()
    count = 0
    for batch in _batched(rows):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_csv_cells(row) for row in batch)
        count += len(batch)
        yield buffer.getvalue().encode()
        on_row_count(count)


def _csv_cells(row: Sequence[Any]) -> tuple[Any, ...]:
    # Only producer-chosen text can start like a formula: ids and times are hex and digits,
    # enums are capitals, addresses are normalised, details start with "{".
    (event_id, timestamp, action, status, resource_type, resource_id, user_id, user_email,
     ip_address, user_agent, country, details) = row  # fmt: skip
    return (
        event_id,  # the csv module writes None as an empty cell and UUIDs as text
        format_time(timestamp),
        action,
        status,
        resource_type,
        escape_formula(resource_id),
        escape_formula(user_id),
        escape_formula(user_email),
        ip_address,
        escape_formula(user_agent),
        country,
        details,
    )


def _json_object(row: Sequence[Any]) -> bytes:
    values = list(row)
    for index in _TIME_COLUMNS:
        values[index] = format_time(values[index])
    if values[_DETAILS] is not None:
        values[_DETAILS] = orjson.Fragment(values[_DETAILS])
    return orjson.dumps(dict(zip(PUBLIC_FIELDS, values, strict=True)))


def _json(rows: Iterable[Sequence[Any]], on_row_count: Callable[[int], None]) -> Iterator[bytes]:
    yield b"["
    count = 0
    for batch in _batched(rows):
        prefix = b"\n" if count == 0 else b",\n"
        yield prefix + b",\n".join(_json_object(row) for row in batch)
        count += len(batch)
        on_row_count(count)
    yield b"\n]\n"


def _ndjson(rows: Iterable[Sequence[Any]], on_row_count: Callable[[int], None]) -> Iterator[bytes]:
    count = 0
    for batch in _batched(rows):
        yield b"".join(_json_object(row) + b"\n" for row in batch)
        count += len(batch)
        on_row_count(count)


def stream_export(
    *,
    engine: Engine,
    writer: EventWriter,
    geo: Geolocator,
    principal: Principal,
    filters: EventFilters,
    export_format: ExportFormat,
    ip_address: str | None,
    user_agent: str | None,
) -> Iterator[bytes]:
    """The export's bytes, read in one snapshot; when it ends, an EXPORT event records it."""
    rows_sent = 0
    completed = False

    def count(total: int) -> None:
        nonlocal rows_sent
        rows_sent = total

    try:
        with engine.connect() as conn:
            rows = service.iter_events(
                conn,
                tenant_id=principal.tenant_id,
                filters=filters,
                columns=columns_for(export_format),
            )
            yield from render(rows, export_format, on_row_count=count)
        completed = True
    finally:
        _record_export(
            writer,
            geo,
            principal=principal,
            details={
                "format": export_format.value,
                "filters": filters.describe(),
                "rows": rows_sent,
                "requested_by": principal.label(),
                **({} if completed else {"error": "export interrupted"}),
            },
            completed=completed,
            ip_address=ip_address,
            user_agent=user_agent,
        )


def _record_export(
    writer: EventWriter,
    geo: Geolocator,
    *,
    principal: Principal,
    details: dict[str, Any],
    completed: bool,
    ip_address: str | None,
    user_agent: str | None,
) -> None:
    event = EventIn(
        action=Action.EXPORT,
        resource_type=ResourceType.AUDIT_LOG,
        user_id=principal.actor_id,
        user_email=principal.user_email,
        ip_address=ip_address,
        user_agent=user_agent[:1024] if user_agent else None,
        details=details,
        status=Status.SUCCESS if completed else Status.FAILED,
    )
    batch = service.PendingBatch(
        tenant_id=principal.tenant_id, events=[prepare_event(event, now=utcnow(), geo=geo)]
    )
    try:
        writer.submit_from_thread(batch)
    except Exception:
        log.exception("could not record an export of %s rows", details.get("rows"))
