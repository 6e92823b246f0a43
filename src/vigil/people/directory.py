"""Who an event's actor is: the person its ``user_id`` names, or its ``user_email`` when it
has no id; and a person's identifiers.

The rule, applied in commit order by the ``people`` consumer:

- an id already known is its person's;
- a new id joins the person of the event's email when that email is known, and is
  otherwise a new person;
- an email not known yet joins the person the event resolved to;
- an event with no id is the person's of its email (a new person when it is new).

An identifier belongs to one person, the first it was seen with: an event naming an id of
one person and an email of another counts for the id's, and joins nobody. So a person's
events are exactly those naming one of their ids, and those with no id naming one of their
emails (``Actor``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple, Protocol

from sqlalchemy import Connection, and_, or_, select

from vigil.events.filters import Actor
from vigil.people.tables import EMAIL, USER_ID, person_identifiers

LOOKUP_CHUNK: Final = 500  # identifiers per query: well under SQLite's 32,766 parameters

_i = person_identifiers.c


class NamesActor(Protocol):
    """An event's actor as it names itself (a ``Sighting``, or the consumer's
    ``ActorSpan`` for every event of one id and email)."""

    @property
    def user_id(self) -> str | None:
        """The producer's id of the actor, if the event gives one."""

    @property
    def email(self) -> str | None:
        """The actor's email, lower case, if the event gives one."""


class Identifier(NamedTuple):
    """A ``person_identifiers`` key past the tenant: its kind (``USER_ID`` or ``EMAIL``)
    and value."""

    kind: str
    value: str


def person_id_for(tenant_id: uuid.UUID, first: Identifier) -> uuid.UUID:
    """The id of the person first named by ``first``: a UUID v5 (RFC 9562 §5.5) in the
    tenant's namespace, so a rebuild gives everyone back the same id."""
    return uuid.uuid5(tenant_id, f"{first.kind}:{first.value}")


@dataclass(frozen=True, slots=True)
class Known:
    """A stored identifier: its person, and for an email whether an event named it
    without an id."""

    person_id: uuid.UUID
    without_id: bool = False


def load_identifiers(
    conn: Connection, *, tenant_id: uuid.UUID, wanted: Iterable[Identifier]
) -> dict[Identifier, Known]:
    """The stored ones of ``wanted``, read ``LOOKUP_CHUNK`` at a time."""
    keys = sorted(set(wanted))
    found: dict[Identifier, Known] = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        query = select(_i.kind, _i.value, _i.person_id, _i.without_id).where(
            _i.tenant_id == tenant_id,
            or_(
                *(
                    and_(_i.kind == kind, _i.value.in_([k.value for k in chunk if k.kind == kind]))
                    for kind in (USER_ID, EMAIL)
                    if any(k.kind == kind for k in chunk)
                )
            ),
        )
        for kind, value, person_id, without_id in conn.execute(query):
            found[Identifier(kind, value)] = Known(person_id, bool(without_id))
    return found


def wanted_by(seen: Iterable[NamesActor]) -> set[Identifier]:
    """Every identifier ``seen`` names."""
    wanted: set[Identifier] = set()
    for s in seen:
        if s.user_id is not None:
            wanted.add(Identifier(USER_ID, s.user_id))
        if s.email is not None:
            wanted.add(Identifier(EMAIL, s.email))
    return wanted


@dataclass(slots=True)
class Resolution:
    """Each sighting's person (in the sightings' order); the identifiers and people the
    sightings made known, each person with the identifier that first named them; and the
    stored emails first named without an id by these sightings."""

    persons: list[uuid.UUID] = field(default_factory=list)
    new_identifiers: dict[Identifier, Known] = field(default_factory=dict)
    new_people: dict[uuid.UUID, Identifier] = field(default_factory=dict)
    now_without_id: set[Identifier] = field(default_factory=set)


def resolve(
    tenant_id: uuid.UUID, seen: Sequence[NamesActor], known: dict[Identifier, Known]
) -> Resolution:
    """Whose each of ``seen`` is, by the module's rule, given the ``known`` identifiers
    (``load_identifiers`` of ``wanted_by(seen)``; not changed). ``seen`` in commit order:
    an actor named again resolves as it did the first time, so one entry per distinct
    (id, email), in the order of their first events, resolves as every event would."""
    found = Resolution()
    every = dict(known)

    def meet(key: Identifier, person_id: uuid.UUID, *, without_id: bool = False) -> None:
        had = every.get(key)
        if had is None:
            every[key] = found.new_identifiers[key] = Known(person_id, without_id)
        elif without_id and not had.without_id:
            every[key] = Known(had.person_id, True)
            if key in found.new_identifiers:
                found.new_identifiers[key] = every[key]
            else:
                found.now_without_id.add(key)

    for s in seen:
        by_id = Identifier(USER_ID, s.user_id) if s.user_id is not None else None
        by_email = Identifier(EMAIL, s.email) if s.email is not None else None
        first = by_id or by_email
        assert first is not None, "a sighting names an id or an email"
        entry = every.get(first)
        if entry is None and by_id is not None and by_email is not None:
            entry = every.get(by_email)
        if entry is None:
            person_id = person_id_for(tenant_id, first)
            found.new_people.setdefault(person_id, first)
        else:
            person_id = entry.person_id
        if by_id is not None:
            meet(by_id, person_id)
        if by_email is not None:
            meet(by_email, person_id, without_id=by_id is None)
        found.persons.append(person_id)
    return found


def actor_of(conn: Connection, *, tenant_id: uuid.UUID, person_id: uuid.UUID) -> Actor:
    """The person's events as an ``Actor``: their ids, and their emails that events have
    named without an id (an empty ``Actor`` for an unknown person)."""
    rows = conn.execute(
        select(_i.kind, _i.value, _i.without_id)
        .where(_i.tenant_id == tenant_id, _i.person_id == person_id)
        .order_by(_i.kind, _i.value)
    ).all()
    return Actor(
        user_ids=tuple(value for kind, value, _ in rows if kind == USER_ID),
        emails=tuple(value for kind, value, without_id in rows if kind == EMAIL and without_id),
    )


def person_of(conn: Connection, *, tenant_id: uuid.UUID, key: Identifier) -> uuid.UUID | None:
    """The person ``key`` names in the tenant, if any."""
    found = conn.execute(
        select(_i.person_id).where(
            _i.tenant_id == tenant_id, _i.kind == key.kind, _i.value == key.value
        )
    ).scalar_one_or_none()
    return found
