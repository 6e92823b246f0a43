"""Generated events in the two shapes the benchmarks need: JSON for the API, rows for the table.

A row is what Vigil itself would store for the event (same normalised values, the same
compact details JSON, the same GeoIP country), so a raw insert loads the very rows the
server would have written. ``bench.ingest`` checks that against the server after each run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import orjson

from bench.dataset import Event
from vigil.core.clock import from_micros
from vigil.events.geo import Geolocator
from vigil.events.ip_ranges import ip_key_of
from vigil.events.schemas import dump_details
from vigil.events.search_text import event_search_text
from vigil.events.wire import format_time

# The events table's columns, in the order every row tuple here uses.
COLUMNS = (
    "tenant_id", "id", "timestamp", "action", "resource_type", "resource_id", "user_id",
    "user_email", "ip_address", "ip_key", "user_agent", "details", "status", "received_at",
    "country", "seq", "search_text",
)  # fmt: skip
# What must match between a generated row and the server's stored row (ids, received_at
# and the commit sequence are the server's to choose).
CONTENT = tuple(c for c in COLUMNS if c not in ("tenant_id", "id", "received_at", "seq"))


def column_list(names: Iterable[str]) -> str:
    """Quoted, comma-separated column names for SQL (``timestamp`` is a keyword)."""
    return ", ".join(f'"{name}"' for name in names)


def event_id(event: Event) -> uuid.UUID:
    """A UUIDv7 from the event's own time and nonce: time-ordered, and the same every run."""
    millis, micros = divmod(event.ts, 1000)
    value = (millis << 80) | (0x7 << 76) | (micros << 64) | (0b10 << 62) | event.nonce
    return uuid.UUID(int=value)


def wire(event: Event) -> dict[str, Any]:
    """The event as a producer sends it to ``POST /audit-logs/``."""
    return {
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "user_id": event.user_id,
        "user_email": event.user_email,
        "timestamp": format_time(from_micros(event.ts)),
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "details": event.details,
        "status": event.status,
    }


def batch_bodies(events: Iterable[Event], *, size: int) -> Iterator[bytes]:
    """``POST /audit-logs/batch`` bodies of ``size`` events each, serialised once up front."""
    iterator = iter(events)
    while chunk := list(islice(iterator, size)):
        yield orjson.dumps({"events": [wire(e) for e in chunk]})


def _received_us(event: Event) -> int:
    # Producers deliver a fraction of a second after the fact.
    return event.ts + 50_000 + event.nonce % 400_000


def sqlite_row(event: Event, tenant_id: bytes, seq: int) -> tuple[Any, ...]:
    """The row as SQLite stores it: 16-byte ids, integer microseconds; ``seq`` is its place
    in the tenant's commit sequence."""
    return (
        tenant_id, event_id(event).bytes, event.ts, event.action, event.resource_type,
        event.resource_id, event.user_id, event.user_email, event.ip_address, _ip_key(event),
        event.user_agent, _details(event), event.status, _received_us(event), _country(event),
        seq, _search_text(event),
    )  # fmt: skip


def postgres_row(event: Event, tenant_id: uuid.UUID, seq: int) -> tuple[Any, ...]:
    """The row as PostgreSQL stores it: native uuid and timestamptz."""
    return (
        tenant_id, event_id(event), from_micros(event.ts), event.action, event.resource_type,
        event.resource_id, event.user_id, event.user_email, event.ip_address, _ip_key(event),
        event.user_agent, _details(event), event.status, from_micros(_received_us(event)),
        _country(event), seq, _search_text(event),
    )  # fmt: skip


def content(event: Event) -> tuple[Any, ...]:
    """The fields a stored row must reproduce, ``timestamp`` as integer microseconds."""
    return (
        event.ts, event.action, event.resource_type, event.resource_id, event.user_id,
        event.user_email, event.ip_address, _ip_key(event), event.user_agent, _details(event),
        event.status, _country(event), _search_text(event),
    )  # fmt: skip


def _details(event: Event) -> str | None:
    return None if event.details is None else dump_details(event.details)


def _ip_key(event: Event) -> bytes | None:
    # The server stores the sortable key beside the text; the baseline writes it too, so
    # both maintain the same index.
    return ip_key_of(event.ip_address) if event.ip_address else None


def _search_text(event: Event) -> str:
    # What free-text search reads, written with each event by the server; the baseline
    # writes the same text, so both store the same bytes.
    return event_search_text(
        user_email=event.user_email,
        user_id=event.user_id,
        resource_id=event.resource_id,
        user_agent=event.user_agent,
        details=_details(event),
    )


_GEO = Geolocator(enabled=True)  # the server's default


def _country(event: Event) -> str | None:
    return _GEO.country_of(event.ip_address) if event.ip_address else None
