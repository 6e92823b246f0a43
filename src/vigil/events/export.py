"""Exports in CSV, JSON and NDJSON (DESIGN §3): each on a connection taken before the answer
starts, streamed in constant memory, and recorded as an EXPORT event when it ends."""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator, Iterable, Sequence
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from vigil.core.clock import utcnow
from vigil.core.errors import TooManyRequests
from vigil.core.principal import Principal
from vigil.events import service
from vigil.events.export_csv import CHUNK_BYTES, RowCounter, csv_chunks
from vigil.events.filters import EventFilters
from vigil.events.geo import Geolocator
from vigil.events.prepare import prepare_event
from vigil.events.schemas import Action, EventIn, ResourceType, Status
from vigil.events.wire import PUBLIC_FIELDS, format_time
from vigil.events.writer import EventWriter
from vigil.ops.request_ids import current_request_id

log = logging.getLogger(__name__)

# Each running export holds a database connection (and, on PostgreSQL, a snapshot).
MAX_CONCURRENT_EXPORTS = 4
RETRY_AFTER_SECONDS = 10
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


class Outcome(StrEnum):
    """How an export ended; all but ``COMPLETED`` are recorded as interrupted."""

    COMPLETED = "completed"
    STALLED = "the client stopped reading"
    DISCONNECTED = "the client went away"
    FAILED = "the server could not finish it"


class ExportSlots:
    """The exports one process runs at once, each on a database connection of its own.

    ``engine``'s pool must hold ``limit`` connections, so a slot never waits for one.
    """

    def __init__(self, engine: Engine, *, limit: int = MAX_CONCURRENT_EXPORTS) -> None:
        self.limit = limit
        self._engine = engine
        self._free = threading.BoundedSemaphore(limit)

    def take(self) -> Connection:
        """A connection for a new export, at once.

        Raises ``TooManyRequests`` (429, ``Retry-After`` in seconds) when ``limit`` exports
        are running, and whatever the driver raises when the database cannot be reached.
        """
        if not self._free.acquire(blocking=False):
            raise TooManyRequests(
                f"{self.limit} exports are already running on this server; "
                f"try again in {RETRY_AFTER_SECONDS} seconds.",
                retry_after=RETRY_AFTER_SECONDS,
            )
        try:
            return self._engine.connect()
        except BaseException:
            self._free.release()
            raise

    def give_back(self, conn: Connection) -> None:
        """Close an export's connection (back to the pool) and free its slot."""
        try:
            conn.close()
        finally:
            self._free.release()


class RunningExport:
    """One export, from its connection to its EXPORT event.

    Made before the answer starts: it takes its connection from ``slots`` at once, so the
    caller gets ``TooManyRequests`` (or the driver's error) instead of a 200 that breaks.
    ``next_chunk`` and ``finish`` block on the database: call them off the event loop, one
    at a time. ``finish`` must be called once the export ends, however it ends.
    """

    def __init__(
        self,
        *,
        slots: ExportSlots,
        writer: EventWriter,
        geo: Geolocator,
        principal: Principal,
        filters: EventFilters,
        export_format: ExportFormat,
        ip_address: str | None,
        user_agent: str | None,
    ) -> None:
        conn = slots.take()
        self.export_format = export_format
        self.rows_sent = 0
        self._rows_made = 0
        self._slots = slots
        self._conn: Connection | None = conn
        self._writer = writer
        self._geo = geo
        self._principal = principal
        self._filters = filters
        self._ip_address = ip_address
        self._user_agent = user_agent
        # The EXPORT event is recorded when the stream ends, outside the request's context.
        self._request_id = current_request_id()
        self._chunks = _chunks(conn, principal.tenant_id, filters, export_format, self._counted)

    def _counted(self, total: int) -> None:
        self._rows_made = total

    def next_chunk(self) -> bytes | None:
        """The next bytes of the export, or None when it is all out; asking for them says
        the ones before were sent (``rows_sent`` counts the rows in those)."""
        self.rows_sent = self._rows_made
        return next(self._chunks, None)

    def finish(self, outcome: Outcome) -> None:
        """Release the connection and its slot, and record the export as it ended."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            self._chunks.close()  # the driver's cursor, before its connection goes back
        finally:
            self._slots.give_back(conn)
            self._record(outcome)

    def _record(self, outcome: Outcome) -> None:
        completed = outcome is Outcome.COMPLETED
        details: dict[str, Any] = {
            "format": self.export_format.value,
            "filters": self._filters.describe(),
            "rows": self.rows_sent,
            "requested_by": self._principal.label(),
        }
        if not completed:
            details |= {"error": "export interrupted", "reason": outcome.value}
        if self._request_id is not None:
            details["request_id"] = self._request_id
        event = EventIn(
            action=Action.EXPORT,
            resource_type=ResourceType.AUDIT_LOG,
            user_id=self._principal.actor_id,
            user_email=self._principal.user_email,
            ip_address=self._ip_address,
            user_agent=self._user_agent[:1024] if self._user_agent else None,
            details=details,
            status=Status.SUCCESS if completed else Status.FAILED,
        )
        prepared = prepare_event(event, now=utcnow(), geo=self._geo)
        batch = service.PendingBatch(tenant_id=self._principal.tenant_id, events=[prepared])
        try:
            self._writer.submit_from_thread(batch)
        except Exception:
            log.exception("could not record an export of %s rows", self.rows_sent)


def _chunks(
    conn: Connection,
    tenant_id: Any,
    filters: EventFilters,
    export_format: ExportFormat,
    on_row_count: RowCounter,
) -> Generator[bytes]:
    if export_format is ExportFormat.CSV:
        return csv_chunks(conn, tenant_id=tenant_id, filters=filters, on_row_count=on_row_count)
    rows = service.iter_events(conn, tenant_id=tenant_id, filters=filters, columns=PUBLIC_FIELDS)
    if export_format is ExportFormat.JSON:
        return _json(rows, on_row_count)
    return _ndjson(rows, on_row_count)


def _json_object(row: Sequence[Any]) -> bytes:
    values = list(row)
    for index in _TIME_COLUMNS:
        values[index] = format_time(values[index])
    if values[_DETAILS] is not None:
        values[_DETAILS] = orjson.Fragment(values[_DETAILS])
    return orjson.dumps(dict(zip(PUBLIC_FIELDS, values, strict=True)))


def _json(rows: Iterable[Sequence[Any]], on_row_count: RowCounter) -> Generator[bytes]:
    yield b"["
    pieces = ((b",\n" if n else b"\n") + _json_object(row) for n, row in enumerate(rows))
    yield from _sized(pieces, on_row_count)
    yield b"\n]\n"


def _ndjson(rows: Iterable[Sequence[Any]], on_row_count: RowCounter) -> Generator[bytes]:
    yield from _sized((_json_object(row) + b"\n" for row in rows), on_row_count)


def _sized(rows: Iterable[bytes], on_row_count: RowCounter) -> Generator[bytes]:
    """Rows gathered into chunks of about ``CHUNK_BYTES`` (an event's details alone may be
    64 KiB), reporting the running row count as each chunk is made."""
    count = 0
    size = 0
    batch: list[bytes] = []
    for row in rows:
        batch.append(row)
        size += len(row)
        if size >= CHUNK_BYTES:
            count += len(batch)
            on_row_count(count)
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        count += len(batch)
        on_row_count(count)
        yield b"".join(batch)
