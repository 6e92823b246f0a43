"""Team usage analytics (the product guide's "Team Usage Analytics"): an overview against
the previous period, peak usage times, popular features, power and inactive users.

Counts by kind come from the hourly rollups (``analytics.rollup_counts``), people from the
people counters (``analytics.people_period``); both exact at any moment. Each function
reads in the caller's snapshot and returns plain values the routes turn into JSON or CSV.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Final, TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, Connection, cast, func, type_coerce

from vigil.analytics import rollup_counts
from vigil.analytics.buckets import DAY, HOUR, Bucket
from vigil.analytics.people_period import active_count, features_of, people_in, users_per_type
from vigil.analytics.period import Period
from vigil.analytics.resource_rollups import CHANGES
from vigil.analytics.rollups import MICROS_PER_HOUR
from vigil.core.clock import from_micros
from vigil.events import counts
from vigil.events.counts import KindCount
from vigil.events.filters import EventFilters
from vigil.people import service as people_service
from vigil.people.service import PeopleFilters, PersonSummary
from vigil.people.tail import PeopleTail, read_tail

QUARTER_SECONDS: Final = 900
BUSIEST_HOURS: Final = 5  # hours of the week named as the busiest


def is_sign_in(kind: KindCount) -> bool:
    """A successful LOGIN."""
    return kind.action == "LOGIN" and kind.status == "SUCCESS"


def is_failed_sign_in(kind: KindCount) -> bool:
    """A LOGIN_FAILED, or a LOGIN that failed."""
    return kind.action == "LOGIN_FAILED" or (kind.action == "LOGIN" and kind.status == "FAILED")


def _kinds(
    conn: Connection, tenant_id: uuid.UUID, period: Period, step: Bucket = DAY
) -> list[KindCount]:
    """The period's events counted per kind and UTC day (or ``step``), from the rollups."""
    filters = EventFilters(start=period.start, end=period.end)
    return rollup_counts.count_by_kind_and_slot(
        conn, tenant_id=tenant_id, filters=filters, slot_of=step.slot_of,
        whole_days=step.whole_days,
    )  # fmt: skip


class Figure(TypedDict):
    """One overview tile: the period's value, the previous period's, and the change in
    percent (None when the previous value is 0)."""

    value: int
    previous: int
    change_percent: float | None


def _figure(value: int, previous: int) -> Figure:
    change = None if previous == 0 else round((value - previous) * 100 / previous, 1)
    return {"value": value, "previous": previous, "change_percent": change}


def _totals(
    conn: Connection, tenant_id: uuid.UUID, period: Period, tail: PeopleTail
) -> dict[str, int]:
    kinds = _kinds(conn, tenant_id, period)
    return {
        "active_users": active_count(conn, tenant_id=tenant_id, period=period, tail=tail),
        "total_actions": sum(k.events for k in kinds),
        "resource_changes": sum(k.events for k in kinds if k.action in CHANGES),
        "sign_ins": sum(k.events for k in kinds if is_sign_in(k)),
        "failed_sign_ins": sum(k.events for k in kinds if is_failed_sign_in(k)),
    }


def overview(conn: Connection, *, tenant_id: uuid.UUID, period: Period) -> dict[str, Figure]:
    """Active users (distinct people with any event), total actions, resource changes
    (CREATE, UPDATE, DELETE), sign-ins (successful LOGIN) and failed sign-ins
    (LOGIN_FAILED, or a failed LOGIN), each against the previous period."""
    tail = read_tail(conn, tenant_id=tenant_id)
    now = _totals(conn, tenant_id, period, tail)
    before = _totals(conn, tenant_id, period.previous(), tail)
    return {name: _figure(now[name], before[name]) for name in now}


def _quarter_slot(timestamp: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Quarter hours since the epoch, for a zone whose offset is not whole hours."""
    if dialect == "postgresql":
        seconds = func.extract("epoch", timestamp)
        return cast(func.floor(seconds / QUARTER_SECONDS), BigInteger)
    micros: ColumnElement[Any] = type_coerce(timestamp, BigInteger)
    divisor = QUARTER_SECONDS * 1_000_000
    return (micros - (micros % divisor + divisor) % divisor) // divisor


def _whole_hours(zone: ZoneInfo, period: Period) -> bool:
    """Whether the zone's offset is whole hours all through the period (and a day around)."""
    moment = period.start - timedelta(days=1)
    while moment <= period.end + timedelta(days=1):
        offset = moment.astimezone(zone).utcoffset()
        if offset is None or offset % timedelta(hours=1):
            return False
        moment += timedelta(hours=6)  # zones change offset at most a few times a year
    return True


class PeakTimes(TypedDict):
    """Events per weekday (Monday = 0) and hour of the day in ``timezone``; the busiest
    hours of the week, most first."""

    timezone: str
    matrix: list[list[int]]
    busiest: list[dict[str, int]]


def peak_times(
    conn: Connection, *, tenant_id: uuid.UUID, period: Period, timezone: str
) -> PeakTimes:
    """The period's events by weekday and hour in the tenant's time zone: from the hourly
    rollups when the zone's offset is whole hours (an hour in UTC is then an hour there),
    else from the events in quarter hours (India's +05:30, say)."""
    zone = ZoneInfo(timezone)
    matrix = [[0] * 24 for _ in range(7)]
    filters = EventFilters(start=period.start, end=period.end)
    by_slot: dict[int, int] = {}
    if _whole_hours(zone, period):
        by_slot = rollup_counts.count_by_slot(
            conn, tenant_id=tenant_id, filters=filters, slot_of=HOUR.slot_of
        )
        slot_micros = MICROS_PER_HOUR
    else:
        for kind in counts.count_by_kind_and_slot(
            conn, tenant_id=tenant_id, filters=filters, slot_of=_quarter_slot
        ):
            by_slot[kind.slot] = by_slot.get(kind.slot, 0) + kind.events
        slot_micros = QUARTER_SECONDS * 1_000_000
    for slot, n in by_slot.items():
        local = from_micros(slot * slot_micros).astimezone(zone)
        matrix[local.weekday()][local.hour] += n
    cells = sorted(
        ((n, day, hour) for day, row in enumerate(matrix) for hour, n in enumerate(row) if n),
        key=lambda cell: (-cell[0], cell[1], cell[2]),
    )
    return {
        "timezone": timezone,
        "matrix": matrix,
        "busiest": [
            {"weekday": day, "hour": hour, "events": n} for n, day, hour in cells[:BUSIEST_HOURS]
        ],
    }


class Feature(TypedDict):
    """A resource type: its events, its events per action, and the people who used it
    with their share of the period's active users (percent)."""

    resource_type: str
    events: int
    by_action: dict[str, int]
    users: int
    share_percent: float


def features(conn: Connection, *, tenant_id: uuid.UUID, period: Period) -> dict[str, Any]:
    """Popular features: events per resource type and action, and per resource type with
    the share of active users who used it, most used first."""
    kinds = _kinds(conn, tenant_id, period)
    by_kind: Counter[tuple[str, str]] = Counter()
    for kind in kinds:
        by_kind[(kind.resource_type, kind.action)] += kind.events
    tail = read_tail(conn, tenant_id=tenant_id)
    users_of = users_per_type(conn, tenant_id=tenant_id, period=period, tail=tail)
    active = active_count(conn, tenant_id=tenant_id, period=period, tail=tail)
    types: Counter[str] = Counter()
    for (resource_type, _), n in by_kind.items():
        types[resource_type] += n
    by_type: list[Feature] = [
        {
            "resource_type": resource_type,
            "events": n,
            "by_action": {
                action: m
                for (rt, action), m in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))
                if rt == resource_type
            },
            "users": users_of[resource_type],
            "share_percent": round(users_of[resource_type] * 100 / active, 1) if active else 0.0,
        }
        for resource_type, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {
        "active_users": active,
        "by_resource_type": by_type,
        "by_resource_type_and_action": [
            {"resource_type": rt, "action": action, "events": n}
            for (rt, action), n in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }


class PowerUser(TypedDict):
    """One of the most active people: their events in the period, their top features and
    when they were last active."""

    person: PersonSummary
    events: int
    top_features: list[dict[str, Any]]


TOP_FEATURES: Final = 3


def power_users(
    conn: Connection, *, tenant_id: uuid.UUID, period: Period, limit: int, now: datetime
) -> list[PowerUser]:
    """The ``limit`` people with the most events in the period, most first (ties by id)."""
    tail = read_tail(conn, tenant_id=tenant_id)
    who = people_in(conn, tenant_id=tenant_id, period=period, tail=tail)
    top = sorted(who.items(), key=lambda kv: (-kv[1], str(kv[0])))[:limit]
    ids = [person_id for person_id, _ in top]
    used = features_of(conn, tenant_id=tenant_id, period=period, person_ids=ids, tail=tail)
    people = people_service.summaries_of(conn, tenant_id=tenant_id, person_ids=ids, now=now)
    found: list[PowerUser] = []
    for person_id, n in top:
        person = people.get(person_id) or people_service.newcomer_summary(
            conn, tenant_id=tenant_id, person_id=person_id, tail=tail
        )
        if person is None:  # the tail names everyone the counters do not
            person = people_service.unknown_person(person_id)
        ranked = sorted(used[person_id].items(), key=lambda kv: (-kv[1], kv[0]))
        found.append(
            {
                "person": person,
                "events": n,
                "top_features": [
                    {"resource_type": rt, "action": action, "events": m}
                    for (rt, action), m in ranked[:TOP_FEATURES]
                ],
            }
        )
    return found


def inactive_users(
    conn: Connection, *, tenant_id: uuid.UUID, days: int, limit: int, offset: int, now: datetime
) -> tuple[list[PersonSummary], int]:
    """People and accounts with no sign-in in the last ``days`` days (never signed in
    included), most recently seen first, and how many there are."""
    return people_service.list_people(
        conn,
        tenant_id=tenant_id,
        filters=PeopleFilters(no_sign_in_since=now - timedelta(days=days)),
        sort="last_active",
        limit=limit,
        offset=offset,
        now=now,
    )
