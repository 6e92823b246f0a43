"""The activity rollups' table (``analytics.rollups``): how many of a tenant's events fell
in each hour, by action, resource type and status.

An hour is numbered from the Unix epoch in UTC (``hour`` = whole hours since
1970-01-01T00:00Z), so it sits inside one bucket of every timeline step (hour, day, week,
month, year: ``analytics.buckets``) and the summary adds hours up instead of reading events.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    text,
)

from vigil.db.metadata import metadata
from vigil.db.types import UUIDType

activity_hours = Table(
    "activity_hours",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("status", String(8), nullable=False),
    # Events of the kind in the hour that the rollups' consumer has counted: added to as
    # events commit, taken from as retention purges them; a row that comes to 0 is deleted.
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "hour", "action", "resource_type", "status"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)

# The same counters by UTC day (days since 1970-01-01), kept with ``activity_hours`` in
# the same transactions: a period of whole days reads a row per day and kind instead of 24
# (at 10M events, 90 days of hours were 65,000 rows and 150 ms to add up on SQLite).
activity_days = Table(
    "activity_days",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("status", String(8), nullable=False),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "day", "action", "resource_type", "status"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)

# Events per resource, UTC day (days since 1970-01-01) and action, that the resource
# rollups' consumer has counted (``analytics.resource_rollups``): the most changed and
# most accessed resources of a type add up a period's days instead of reading its events.
# Keyed by type and day first, so a period of one type is one range of the key.
resource_days = Table(
    "resource_days",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("action", String(16), nullable=False),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "resource_type", "day", "resource_id", "action"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)
# One resource's days, to add up a few resources' periods (the dashboard's top resources,
# ``analytics.resource_counts``). SQLite's holds the counts too: without statistics its
# planner prefers the key's range of the whole type's days over an index that must look
# each row up, and reading every resource's days is what this index is for avoiding.
# PostgreSQL's planner has its statistics, and a counter's update stays a heap-only one.
Index(
    "ix_resource_days_resource",
    resource_days.c.tenant_id,
    resource_days.c.resource_type,
    resource_days.c.resource_id,
    resource_days.c.day,
).ddl_if(dialect="postgresql")
Index(
    "ix_resource_days_resource_counts",
    resource_days.c.tenant_id,
    resource_days.c.resource_type,
    resource_days.c.resource_id,
    resource_days.c.day,
    resource_days.c.action,
    resource_days.c.events,
).ddl_if(dialect="sqlite")

# Every event the resource rollups' consumer has counted per resource, whatever its day
# and action: what no period of the resource can exceed, so the dashboard's top resources
# add up the days of the few resources that can rank, most first, instead of every
# resource's (``analytics.resource_counts``). Kept with ``resource_days``, in the same
# transactions; a row that comes to 0 is deleted. ``changes``: those of them that are a
# CREATE, UPDATE or DELETE; ``actors``: the resource's (resource, actor) pairs in
# ``resource_actors``. A period holding every day of the type's counters takes all three
# as they are (``analytics.resources``).
resource_totals = Table(
    "resource_totals",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("changes", BigInteger, nullable=False, server_default=text("0")),
    Column("actors", BigInteger, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("tenant_id", "resource_type", "resource_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)
Index("ix_resource_totals_events", resource_totals.c.tenant_id, resource_totals.c.events)

# Each actor of each resource (a user id, or an email for events with none), with how many
# of their events on it the resource rollups' consumer has counted and the first and last
# UTC day of those: a period's distinct actors of a resource are at least the pairs whose
# days all fall in it and at most those whose days meet it, equal when the period holds
# them all, which it does when it spans the stored events, as the default 90-day retention
# makes "the last 90 days" do (``analytics.resource_actors``). A purge lowers ``events``
# and deletes the pairs that come to 0, leaving the days as they were: still around every
# stored event of the pair, so the bounds stay true, only less tight.
resource_actors = Table(
    "resource_actors",
    metadata,
    Column("tenant_id", UUIDType(), nullable=False),
    Column("resource_type", String(16), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("first_day", BigInteger, nullable=False),
    Column("last_day", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "resource_type", "resource_id", "actor"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
    sqlite_with_rowid=False,
)
