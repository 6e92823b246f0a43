"""The per-person counters (``person_days``, ``person_features``, ``person_countries``): each
a table of events counted per person and some key, added to as events are counted, taken
from as retention purges them (a row that comes to 0 is deleted), and compared with the
events by ``vigil people check``. Written once here for the three.

The consumer counts in SQL (``add_stored``): each actor's person is looked up in
``person_identifiers`` (by the rule of ``people.directory``), so a pass costs a row per
counter it touches, not Python work per event. Purges and the check count in
Python from the rows they read (``Tally``), a second way to the same numbers."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vigil.analytics.buckets import DAY
from vigil.db.types import UUIDType
from vigil.events.tables import events
from vigil.people.directory import LOOKUP_CHUNK
from vigil.people.sightings import Tally
from vigil.people.tables import (
    EMAIL,
    USER_ID,
    person_countries,
    person_days,
    person_features,
    person_identifiers,
)

Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PersonCounter:
    """A counter table: its columns past ``tenant_id`` and ``person_id`` (``keys``) and
    how a person's ``Tally`` spreads over them."""

    table: Table
    keys: tuple[str, ...]
    counts: Callable[[Tally], Mapping[Key, int]]
    # The same keys as SQL over an event (``events`` columns; the event's UTC day given).
    event_keys: Callable[[ColumnElement[Any]], tuple[ColumnElement[Any], ...]]


def _by_day(tally: Tally) -> Counter[Key]:
    found: Counter[Key] = Counter()
    for kind, n in tally.days.items():
        found[(kind.day,)] += n
    return found


def _by_feature(tally: Tally) -> Counter[Key]:
    return Counter({(k.resource_type, k.day, k.action): n for k, n in tally.days.items()})


def _by_country(tally: Tally) -> Counter[Key]:
    return Counter({(country,): n for country, n in tally.countries.items()})


_e = events.c

COUNTERS: Final = (
    PersonCounter(person_days, ("day",), _by_day, lambda day: (day,)),
    PersonCounter(
        person_features,
        ("resource_type", "day", "action"),
        _by_feature,
        lambda day: (_e.resource_type, day, _e.action),
    ),
    PersonCounter(person_countries, ("country",), _by_country, lambda day: (_e.country,)),
)


def _rows(counter: PersonCounter, tallies: Mapping[uuid.UUID, Tally]) -> list[dict[str, Any]]:
    """One parameter set per row: ``p`` the person, ``k0``… the keys, ``n`` the count
    (bind names must differ from column names in an UPDATE)."""
    return [
        {"p": person_id, **{f"k{i}": value for i, value in enumerate(key)}, "n": n}
        for person_id, tally in sorted(tallies.items())
        for key, n in sorted(counter.counts(tally).items())
    ]


def add_stored(conn: Connection, *, tenant_id: uuid.UUID, first_seq: int, last_seq: int) -> None:
    """Add the tenant's stored events from ``first_seq`` to ``last_seq`` (both included)
    to every counter table: one ``INSERT … SELECT … ON CONFLICT DO UPDATE`` per table
    (PostgreSQL 9.5+, SQLite 3.24+), the events' person looked up by their identifier
    (their ``user_id``, or their ``user_email`` when they have none), which must all be
    stored.

    The events are counted per actor first, and each actor's person looked up once, by
    a subquery: joined, SQLite would rather walk every identifier of the tenant and probe
    the span's events for each."""
    i = person_identifiers.c
    day = DAY.slot_of(_e.timestamp, conn.dialect.name)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for counter in COUNTERS:
        where = [
            _e.tenant_id == tenant_id,
            _e.seq.between(first_seq, last_seq),
            or_(_e.user_id.is_not(None), _e.user_email.is_not(None)),
        ]
        if counter.table is person_countries:
            where.append(_e.country.is_not(None))
        keys = counter.event_keys(day)
        by_actor = (
            select(
                _e.user_id,
                _e.user_email,
                *(key.label(name) for key, name in zip(keys, counter.keys, strict=True)),
                func.count().label("n"),
            )
            .where(*where)
            .group_by(_e.user_id, _e.user_email, *keys)
            .subquery("by_actor")
        )
        a = by_actor.c
        person = (
            select(i.person_id)
            .where(
                i.tenant_id == tenant_id,
                i.kind == case((a.user_id.is_not(None), USER_ID), else_=EMAIL),
                i.value == func.coalesce(a.user_id, a.user_email),
            )
            .scalar_subquery()
        )
        seen = select(person.label("person_id"), *(a[name] for name in counter.keys), a.n).subquery(
            "seen"
        )
        grouped = [seen.c.person_id, *(seen.c[name] for name in counter.keys)]
        counted = select(
            literal(tenant_id, UUIDType()).label("tenant_id"), *grouped, func.sum(seen.c.n)
        ).group_by(*grouped)
        insert = dialect.insert(counter.table)
        conn.execute(
            insert.from_select(
                ["tenant_id", "person_id", *counter.keys, "events"], counted
            ).on_conflict_do_update(
                index_elements=[c.name for c in counter.table.primary_key.columns],
                set_={"events": counter.table.c.events + insert.excluded.events},
            )
        )


def take_counts(
    conn: Connection, *, tenant_id: uuid.UUID, tallies: Mapping[uuid.UUID, Tally]
) -> None:
    """Take ``tallies`` off every counter table; rows that come to 0 (or below, which
    ``vigil people check`` would report) are deleted."""
    ids = sorted(tallies)
    for counter in COUNTERS:
        c = counter.table.c
        rows = _rows(counter, tallies)
        if rows:
            conn.execute(
                update(counter.table)
                .where(
                    c.tenant_id == tenant_id,
                    c.person_id == bindparam("p"),
                    *(c[name] == bindparam(f"k{i}") for i, name in enumerate(counter.keys)),
                )
                .values(events=c.events - bindparam("n")),
                rows,
            )
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK]
            conn.execute(
                delete(counter.table).where(
                    and_(c.tenant_id == tenant_id, c.person_id.in_(chunk), c.events <= 0)
                )
            )


def compare_counts(
    conn: Connection, *, tenant_id: uuid.UUID, expected: Mapping[uuid.UUID, Tally]
) -> list[str]:
    """Every row of every counter table that differs from ``expected``, described."""
    problems: list[str] = []
    for counter in COUNTERS:
        c = counter.table.c
        stored = {
            (row[0], *row[1:-1]): int(row[-1])
            for row in conn.execute(
                select(c.person_id, *(c[name] for name in counter.keys), c.events).where(
                    c.tenant_id == tenant_id
                )
            )
        }
        want = {
            (person_id, *key): n
            for person_id, tally in expected.items()
            for key, n in counter.counts(tally).items()
        }
        name = counter.table.name
        problems.extend(
            f"{name} of person {key[0]} at {', '.join(map(str, key[1:]))}:"
            f" counted {stored.get(key, 0):,}, events {want.get(key, 0):,}"
            for key in sorted(set(stored) | set(want), key=str)
            if stored.get(key) != want.get(key)
        )
    return problems


def delete_people_counts(
    conn: Connection, *, tenant_id: uuid.UUID, person_ids: list[uuid.UUID]
) -> None:
    """Delete every counter row of these people (none of their events is left)."""
    for start in range(0, len(person_ids), LOOKUP_CHUNK):
        chunk = person_ids[start : start + LOOKUP_CHUNK]
        for counter in COUNTERS:
            c = counter.table.c
            conn.execute(
                delete(counter.table).where(c.tenant_id == tenant_id, c.person_id.in_(chunk))
            )
