"""The people tables, kept by the ``people`` consumer (``people.consumer``).

A person is an actor seen in a tenant's events: by the producer's ``user_id``, or by
``user_email`` when an event has no id. Each id and email a person was seen with is one of
their identifiers; an event whose id is new but whose email is known joins that email's
person, so a platform's user and the Vigil account with their address are one person.

A person's id is derived from the identifier that first named them (a UUID v5 in the
tenant's namespace), so ``vigil people rebuild`` gives everyone back the same id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypedDict

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
)

from vigil.db.metadata import metadata
from vigil.db.types import UTCDateTime, UUIDType

# The kinds of identifier, as stored in ``person_identifiers.kind``.
USER_ID = "user_id"
EMAIL = "email"

people = Table(
    "people",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("id", UUIDType(), nullable=False),
    # The identifier that first named the person: what a list shows for someone with no
    # account (a name is known only from an account).
    Column("label", String(320), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    # The last successful LOGIN; null when none is stored.
    Column("last_sign_in", UTCDateTime(), nullable=True),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_people_tenant_last_seen", "tenant_id", "last_seen"),
)

person_identifiers = Table(
    "person_identifiers",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("kind", String(8), nullable=False),  # USER_ID or EMAIL
    Column("value", String(320), nullable=False),  # an email is lower case, as stored
    Column("person_id", UUIDType(), nullable=False),
    # ``value`` folded (``db.folding.fold``): what a search of people matches.
    Column("folded", Text, nullable=False),
    # For an email: whether an event has named it with no ``user_id`` (such events are
    # the person's by this email alone, so their activity must look for it; most
    # producers always send an id, and an index on ``user_id`` then finds everything).
    Column("without_id", Boolean, nullable=False, server_default=false()),
    PrimaryKeyConstraint("tenant_id", "kind", "value"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_person_identifiers_person", "tenant_id", "person_id"),
)

# A person's events per UTC day (days since 1970-01-01): who was active when, and how much
# (active users, power users). One row per person and day, so a period's distinct people
# read a few rows per day whatever the events' count.
person_days = Table(
    "person_days",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("person_id", UUIDType(), nullable=False),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "day", "person_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)

# A person's events per resource type, UTC day and action: what each person uses (popular
# features, a power user's top features, a person's counts). Keyed by resource type, then
# person, so the people who used a type in a period are read in order, without sorting.
person_features = Table(
    "person_features",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("person_id", UUIDType(), nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "resource_type", "person_id", "day", "action"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    Index("ix_person_features_person", "tenant_id", "person_id", "day"),
    sqlite_with_rowid=False,
)

person_countries = Table(
    "person_countries",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("person_id", UUIDType(), nullable=False),
    Column("country", String(2), nullable=False),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "person_id", "country"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)


class PersonRow(TypedDict):
    """A row of ``people``."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    label: str
    first_seen: datetime
    last_seen: datetime
    last_sign_in: datetime | None
    events: int
