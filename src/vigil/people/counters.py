"""The per-person counters (``person_days``, ``person_features``, ``person_countries``): each
a table of events counted per person and some key, added to as events are counted, taken
from as retention purges them (a row that comes to 0 is deleted), and compared with the
events by ``vigil people check``. Written once here for the three."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Table, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vigil.people.directory import LOOKUP_CHUNK
from vigil.people.sightings import Tally
from vigil.people.tables import person_countries, person_days, person_features

Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PersonCounter:
    """A counter table: its columns past ``tenant_id`` and ``person_id`` (``keys``) and
    how a person's ``Tally`` spreads over them."""

    table: Table
    keys: tuple[str, ...]
    counts: Callable[[Tally], Mapping[Key, int]]


def _by_day(tally: Tally) -> Counter[Key]:
    found: Counter[Key] = Counter()
    for kind, n in tally.days.items():
        found[(kind.day,)] += n
    return found


def _by_feature(tally: Tally) -> Counter[Key]:
    return Counter({(k.resource_type, k.day, k.action): n for k, n in tally.days.items()})


def _by_country(tally: Tally) -> Counter[Key]:
    return Counter({(country,): n for country, n in tally.countries.items()})


COUNTERS: Final = (
    PersonCounter(person_days, ("day",), _by_day),
    PersonCounter(person_features, ("resource_type", "day", "action"), _by_feature),
    PersonCounter(person_countries, ("country",), _by_country),
)


def _rows(counter: PersonCounter, tallies: Mapping[uuid.UUID, Tally]) -> list[dict[str, Any]]:
    """One parameter set per row: ``p`` the person, ``k0``… the keys, ``n`` the count
    (bind names must differ from column names in an UPDATE)."""
    return [
        {"p": person_id, **{f"k{i}": value for i, value in enumerate(key)}, "n": n}
        for person_id, tally in sorted(tallies.items())
        for key, n in sorted(counter.counts(tally).items())
    ]


def add_counts(
    conn: Connection, *, tenant_id: uuid.UUID, tallies: Mapping[uuid.UUID, Tally]
) -> None:
    """Add ``tallies`` to every counter table, creating rows not there yet (``INSERT … ON
    CONFLICT DO UPDATE``: PostgreSQL 9.5+, SQLite 3.24+)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for counter in COUNTERS:
        rows = [
            {
                "tenant_id": tenant_id,
                "person_id": person_id,
                **dict(zip(counter.keys, key, strict=True)),
                "events": n,
            }
            for person_id, tally in sorted(tallies.items())
            for key, n in sorted(counter.counts(tally).items())
        ]
        if not rows:
            continue
        insert = dialect.insert(counter.table)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[c.name for c in counter.table.primary_key.columns],
                set_={"events": counter.table.c.events + insert.excluded.events},
            ),
            rows,
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
