"""The events table, the indexes that follow the list filters (DESIGN §5), and each
tenant's commit sequence (DESIGN §2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    RowMapping,
    String,
    Table,
    Text,
    text,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

events = Table(
    "events",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    Column("timestamp", UTCDateTime(), nullable=False),
    Column("action", String(16), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("resource_id", String(255), nullable=True),
    Column("user_id", String(255), nullable=True),
    Column("user_email", String(320), nullable=True),
    Column("ip_address", String(45), nullable=True),
    # The address as a sortable 16-byte key (``events.ip_ranges``): a CIDR filter is a
    # range of it. Null without an address, and in rows stored before migration 0010
    # until the backfill fills them (``vigil.db.backfill``).
    Column("ip_key", LargeBinary(16), nullable=True),
    Column("user_agent", String(1024), nullable=True),
    # Compact JSON text, stored exactly as serialised (jsonb would reorder keys).
    Column("details", Text, nullable=True),
    Column("status", String(8), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("country", String(2), nullable=True),
    # The event's place in its tenant's commit order: 1, 2, 3, … without gaps, given as
    # the event commits (see ``events.sequence``). Consumers read the log by it.
    Column("seq", BigInteger, nullable=False),
    # What free-text search looks in (``events.search_text``): folded values, never JSON
    # syntax. NULL only on events stored before it existed, until ``vigil migrate`` fills it.
    Column("search_text", Text, nullable=True),
    PrimaryKeyConstraint("tenant_id", "id"),
    # Each index ends in (timestamp, id) so newest-first keyset pages read in index order.
    Index("ix_events_tenant_time", "tenant_id", "timestamp", "id"),
    Index("ix_events_tenant_user_time", "tenant_id", "user_id", "timestamp", "id"),
    Index("ix_events_tenant_action_time", "tenant_id", "action", "timestamp", "id"),
    # ix_events_tenant_ipkey_time: below, as its columns run newest first.
    # Always appended at the right edge: the commit sequence only grows.
    Index("ix_events_tenant_seq", "tenant_id", "seq", unique=True),
)


# A resource's events by time. On SQLite they end in the actor's id and email, so that a
# resource's distinct actors are counted from the index alone (resource analytics' "most
# active": 0.9 s for the projects of 1M events reading each event's row, 0.13 s from the
# index). PostgreSQL keeps the shorter key: a B-tree entry holds 2,704 bytes at most, which
# an id, an email and a resource id of 4-byte characters at their longest would exceed.
Index(
    "ix_events_tenant_resource_time",
    events.c.tenant_id,
    events.c.resource_type,
    events.c.resource_id,
    events.c.timestamp,
    events.c.id,
).ddl_if(dialect="postgresql")
Index(
    "ix_events_tenant_resource_actor",
    events.c.tenant_id,
    events.c.resource_type,
    events.c.resource_id,
    events.c.timestamp,
    events.c.id,
    events.c.user_id,
    events.c.user_email,
).ddl_if(dialect="sqlite")

# Addresses by key, each key's events newest first: a network is a range of keys, whose
# newest events are the first of each key's run, so a page stops reading a key early
# (on SQLite, a busy address in a /24 read oldest first cost a row lookup per event).
# Only rows with a key: every filter on it implies one, and events without an address
# (system actions) cost ingest nothing here.
Index(
    "ix_events_tenant_ipkey_time",
    events.c.tenant_id,
    events.c.ip_key,
    events.c.timestamp.desc(),
    events.c.id.desc(),
    sqlite_where=text("ip_key IS NOT NULL"),
    postgresql_where=text("ip_key IS NOT NULL"),
)

# The events naming an actor by email alone, each email's newest first: a person's events
# are those naming one of their ids, and these (``people.directory``). Only rows without an
# id, so an event from a producer that sends ids costs ingest nothing here.
Index(
    "ix_events_tenant_email_time",
    events.c.tenant_id,
    events.c.user_email,
    events.c.timestamp,
    events.c.id,
    sqlite_where=text("user_id IS NULL"),
    postgresql_where=text("user_id IS NULL"),
)


class PreparedEventRow(TypedDict):
    """An event validated and enriched for storage: every column of ``events`` but those
    given as it is stored (``tenant_id``, ``received_at``, ``seq``)."""

    id: uuid.UUID
    timestamp: datetime
    action: str
    resource_type: str
    resource_id: str | None
    user_id: str | None
    user_email: str | None
    ip_address: str | None
    ip_key: bytes | None  # ``events.ip_ranges.ip_key_of(ip_address)``
    user_agent: str | None
    details: str | None  # compact JSON text
    status: str
    country: str | None
    search_text: str | None  # see ``events.search_text``


class EventRow(PreparedEventRow):
    """A row of ``events``: what storing an event returns and what every reader gets."""

    tenant_id: uuid.UUID
    received_at: datetime
    seq: int


def event_row(mapping: RowMapping) -> EventRow:
    """A row read with ``select(events)``, typed: its keys are exactly the table's columns
    (``tests/unit/test_rows.py`` holds the two equal)."""
    return cast(EventRow, dict(mapping))


# The last ``seq`` each tenant has committed. Its row is locked from the moment a
# transaction numbers its events until it commits, so a tenant's numbers become visible
# in the order they were given: a reader never sees 11 before 10 (DESIGN §2).
event_sequences = Table(
    "event_sequences",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)
