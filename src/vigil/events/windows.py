"""Windows of a tenant's events, as the detection rules read them: how many match and since
when, the newest of them, which subjects reach a threshold, and where someone signed in from.

Rules read their windows from the database, never from memory, so several nodes looking at
each other's events agree (DESIGN §6). Every statement is tenant-scoped and served by an
index on (tenant, column, timestamp).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypedDict

from sqlalchemy import ColumnElement, Connection, distinct, func, select

from vigil.events.counts import aggregate_time
from vigil.events.filters import EventFilters
from vigil.events.ip_ranges import ip_key_of
from vigil.events.schemas import Action, Status
from vigil.events.service import match
from vigil.events.tables import events

SubjectColumn = Literal["ip_address", "user_id", "user_email"]
# Subjects per IN list: well under every backend's limit on bound parameters.
_SUBJECT_CHUNK = 500


@dataclass(frozen=True, slots=True)
class WindowCount:
    """How many events a window holds, when the first happened, and (when asked) from how
    many distinct addresses."""

    events: int
    first: datetime | None  # None when the window is empty
    sources: int = 0


class WindowEvent(TypedDict):
    """What a rule keeps of an event as evidence."""

    id: uuid.UUID
    user_id: str | None
    user_email: str | None
    details: str | None


class SignIn(NamedTuple):
    """Where and when someone signed in."""

    country: str
    timestamp: datetime


def count_window(conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters) -> WindowCount:
    """How many of the tenant's events pass ``filters``, and when the first was."""
    where = match(conn, tenant_id=tenant_id, filters=filters, window=True)
    count, first = conn.execute(
        select(func.count(), func.min(events.c.timestamp)).select_from(events).where(*where)
    ).one()
    return WindowCount(events=count, first=_time_or_none(first))


def count_window_sources(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters
) -> WindowCount:
    """``count_window``, with how many distinct IP addresses the events came from."""
    where = match(conn, tenant_id=tenant_id, filters=filters, window=True)
    count, sources, first = conn.execute(
        select(
            func.count(),
            func.count(distinct(events.c.ip_address)),
            func.min(events.c.timestamp),
        )
        .select_from(events)
        .where(*where)
    ).one()
    return WindowCount(events=count, first=_time_or_none(first), sources=sources)


def sightings(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, limit: int
) -> list[tuple[datetime, str | None]]:
    """When the first ``limit`` events passing ``filters`` happened and from which address,
    oldest first."""
    query = (
        select(events.c.timestamp, events.c.ip_address)
        .where(*match(conn, tenant_id=tenant_id, filters=filters, window=True))
        .order_by(events.c.timestamp)
        .limit(limit)
    )
    return [(moment, address) for moment, address in conn.execute(query)]


def newest_in_window(
    conn: Connection, *, tenant_id: uuid.UUID, filters: EventFilters, limit: int
) -> list[WindowEvent]:
    """The newest ``limit`` events passing ``filters``, newest first."""
    query = (
        select(events.c.id, events.c.user_id, events.c.user_email, events.c.details)
        .where(*match(conn, tenant_id=tenant_id, filters=filters, window=True))
        .order_by(events.c.timestamp.desc(), events.c.id.desc())
        .limit(limit)
    )
    return [
        WindowEvent(
            id=row["id"],
            user_id=row["user_id"],
            user_email=row["user_email"],
            details=row["details"],
        )
        for row in conn.execute(query).mappings()
    ]


def subjects_reaching(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    column: SubjectColumn,
    subjects: Sequence[str],
    threshold: int,
) -> list[str]:
    """Which of ``subjects`` (values of ``column``) have at least ``threshold`` events
    passing ``filters``: one grouped count per few hundred subjects. A condition of
    ``filters`` on ``column`` itself is left out: the subjects take its place.

    Addresses are counted by their keys (``ip_key``), which the index on addresses holds.
    """
    by_address = column == "ip_address"
    grouped = events.c.ip_key if by_address else events.c[column]
    where = [
        clause
        for clause in match(conn, tenant_id=tenant_id, filters=filters, window=True)
        if not _mentions(clause, grouped.name)
    ]
    reaching: list[str] = []
    for offset in range(0, len(subjects), _SUBJECT_CHUNK):
        chunk = subjects[offset : offset + _SUBJECT_CHUNK]
        named: dict[Any, str] = {ip_key_of(s) if by_address else s: s for s in chunk}
        counted = conn.execute(
            select(grouped, func.count())
            .where(*where, grouped.in_(list(named)))
            .group_by(grouped)
            .having(func.count() >= threshold)
        ).all()
        reaching += [named[value] for value, _count in counted]
    return reaching


def recent_sign_ins(
    conn: Connection, *, tenant_id: uuid.UUID, user_id: str, since: datetime, before: datetime
) -> list[SignIn]:
    """The user's successful sign-ins from a known country in [since, before), newest first
    (at most 1000)."""
    c = events.c
    rows = conn.execute(
        select(c.country, c.timestamp)
        .where(
            c.tenant_id == tenant_id,
            c.user_id == user_id,
            c.action == Action.LOGIN.value,
            c.status == Status.SUCCESS.value,
            c.country.is_not(None),
            c.timestamp >= since,
            c.timestamp < before,
        )
        .order_by(c.timestamp.desc())
        .limit(1000)
    ).all()
    return [SignIn(country, timestamp) for country, timestamp in rows]


def _mentions(clause: ColumnElement[bool], column: str) -> bool:
    """Whether a WHERE clause is on ``column``."""
    left: Any = getattr(clause, "left", None)
    return getattr(left, "name", None) == column


def _time_or_none(value: Any) -> datetime | None:
    return None if value is None else aggregate_time(value)
