"""Reading people: a tenant's list (with its accounts that no event has named yet), one
person, and whose events ``/users/{user_id}/activity`` means.

A Vigil account is linked to the person one of whose emails is the account's. An account
with no such person is listed all the same, under the account's id, with no activity.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypedDict

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from vigil.accounts.tables import users
from vigil.core.errors import NotFound
from vigil.db.folding import fold
from vigil.db.search import contains
from vigil.db.types import UTCDateTime
from vigil.events.filters import Actor
from vigil.events.tables import events
from vigil.people.directory import Identifier, actor_of, person_of
from vigil.people.tables import (
    EMAIL,
    USER_ID,
    people,
    person_countries,
    person_features,
    person_identifiers,
)
from vigil.people.tail import PeopleTail, actor_in, read_tail

PeopleSort = Literal["last_active", "most_actions", "name"]

_p, _i, _u = people.c, person_identifiers.c, users.c
MAX_IDENTIFIERS_SHOWN: Final = 100
MAX_USER_ID: Final = (
    255  # the longest ``user_id`` an event holds  # a person's ids and emails listed at most
)


@dataclass(frozen=True, slots=True)
class PeopleFilters:
    """Which people a list selects; every part optional and combined with AND. ``text``
    matches any of a person's ids and emails and their account's name, case-insensitively;
    ``inactive_days`` selects those with no event for so many days (or none at all)."""

    text: str | None = None
    active_since: datetime | None = None
    inactive_days: int | None = None
    has_account: bool | None = None
    role: str | None = None  # accounts with this role only
    no_sign_in_since: datetime | None = None  # last successful LOGIN before this, or none


class AccountLink(TypedDict):
    """The Vigil account a person is."""

    id: uuid.UUID
    email: str
    name: str
    role: str
    status: str


class PersonSummary(TypedDict):
    """A person as a list shows them. ``label`` is the identifier that first named them
    (an account's email for an account no event has named); the times are None for such
    an account."""

    id: uuid.UUID
    label: str
    name: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    last_sign_in: datetime | None
    events: int
    account: AccountLink | None


class PersonDetail(PersonSummary):
    """A person with everything known of them: ids and emails seen, countries and actions
    with their events (ids and emails in order, ``MAX_IDENTIFIERS_SHOWN`` of each at most)."""

    user_ids: list[str]
    emails: list[str]
    countries: dict[str, int]
    actions: dict[str, int]
    resource_types: dict[str, int]


def _linked_account(tenant_id: uuid.UUID, person_id: Any) -> Any:
    """The id of the account one of the person's emails is (the oldest, for several)."""
    return (
        select(_u.id)
        .join(
            person_identifiers,
            and_(_i.tenant_id == _u.tenant_id, _i.kind == EMAIL, _i.value == _u.email),
        )
        .where(_u.tenant_id == tenant_id, _i.person_id == person_id)
        .order_by(_u.created_at, _u.id)
        .limit(1)
        .scalar_subquery()
    )


def _everyone(tenant_id: uuid.UUID) -> Any:
    """People, and accounts no event has named, as one subquery of ``PersonSummary``'s
    columns (``account_id`` for ``account``)."""
    seen = select(
        _p.id.label("id"),
        _p.label.label("label"),
        _p.first_seen.label("first_seen"),
        _p.last_seen.label("last_seen"),
        _p.last_sign_in.label("last_sign_in"),
        _p.events.label("events"),
        _linked_account(tenant_id, _p.id).label("account_id"),
    ).where(_p.tenant_id == tenant_id)
    unseen = select(
        _u.id,
        _u.email,
        null().cast(UTCDateTime()),
        null().cast(UTCDateTime()),
        _u.last_login_at,
        literal(0),
        _u.id,
    ).where(
        _u.tenant_id == tenant_id,
        ~exists().where(_i.tenant_id == tenant_id, _i.kind == EMAIL, _i.value == _u.email),
    )
    return union_all(seen, unseen).subquery("everyone")


def _selected(
    tenant_id: uuid.UUID, filters: PeopleFilters, now: datetime, dialect: str
) -> tuple[Any, Select[Any]]:
    everyone = _everyone(tenant_id)
    e = everyone.c
    query = select(
        e.id,
        e.label,
        e.first_seen,
        e.last_seen,
        e.last_sign_in,
        e.events,
        e.account_id,
        _u.email.label("account_email"),
        _u.name.label("account_name"),
        _u.role.label("account_role"),
        _u.status.label("account_status"),
    ).select_from(everyone.outerjoin(users, and_(_u.tenant_id == tenant_id, _u.id == e.account_id)))
    clauses: list[ColumnElement[bool]] = []
    if filters.text:
        folded = fold(filters.text)
        clauses.append(
            or_(
                contains(_u.search_text, folded, dialect=dialect),
                exists().where(
                    _i.tenant_id == tenant_id,
                    _i.person_id == e.id,
                    contains(_i.folded, folded, dialect=dialect),
                ),
            )
        )
    if filters.active_since is not None:
        clauses.append(e.last_seen >= filters.active_since)
    if filters.inactive_days is not None:
        since = now - timedelta(days=filters.inactive_days)
        clauses.append(or_(e.last_seen.is_(None), e.last_seen < since))
    if filters.has_account is not None:
        clauses.append(e.account_id.is_not(None) if filters.has_account else e.account_id.is_(None))
    if filters.role is not None:
        clauses.append(_u.role == filters.role)
    if filters.no_sign_in_since is not None:
        since = filters.no_sign_in_since
        clauses.append(or_(e.last_sign_in.is_(None), e.last_sign_in < since))
    return everyone, query.where(*clauses)


def list_people(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: PeopleFilters,
    sort: PeopleSort,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[list[PersonSummary], int]:
    """A page of the tenant's people (and accounts no event has named) and how many match
    in all. Sorts: ``last_active`` (latest event first, never-seen last), ``most_actions``,
    ``name`` (the account's name, else the label; case-insensitive)."""
    everyone, query = _selected(tenant_id, filters, now, conn.dialect.name)
    e = everyone.c
    shown = func.lower(func.coalesce(_u.name, e.label))
    order = {
        "last_active": (e.last_seen.desc().nulls_last(), shown),
        "most_actions": (e.events.desc(), shown),
        "name": (shown,),
    }[sort]
    rows = conn.execute(query.order_by(*order, e.id).limit(limit).offset(offset)).mappings().all()
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    return [_summary(row) for row in rows], int(total)


def _summary(row: Any) -> PersonSummary:
    account: AccountLink | None = None
    if row["account_id"] is not None:
        account = {
            "id": row["account_id"],
            "email": row["account_email"],
            "name": row["account_name"],
            "role": row["account_role"],
            "status": row["account_status"],
        }
    return {
        "id": row["id"],
        "label": row["label"],
        "name": account["name"] if account else None,
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "last_sign_in": row["last_sign_in"],
        "events": int(row["events"]),
        "account": account,
    }


def summaries_of(
    conn: Connection, *, tenant_id: uuid.UUID, person_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, PersonSummary]:
    """The listed people (or accounts) by id; ids not known are left out."""
    if not person_ids:
        return {}
    everyone, query = _selected(tenant_id, PeopleFilters(), now, conn.dialect.name)
    rows = conn.execute(query.where(everyone.c.id.in_(person_ids))).mappings().all()
    return {row["id"]: _summary(row) for row in rows}


def unknown_person(person_id: uuid.UUID) -> PersonSummary:
    """A person known by id only (neither the people tables nor the events past the
    consumer's cursor name them)."""
    return {
        "id": person_id,
        "label": str(person_id),
        "name": None,
        "first_seen": None,
        "last_seen": None,
        "last_sign_in": None,
        "events": 0,
        "account": None,
    }


def newcomer_summary(
    conn: Connection, *, tenant_id: uuid.UUID, person_id: uuid.UUID, tail: PeopleTail
) -> PersonSummary | None:
    """A person only the events past the people consumer's cursor name (for a moment,
    while it catches up), as the tables will list them once it has: labelled by the
    identifier that first named them, linked to the oldest account one of their emails
    is. None if ``tail`` does not name them."""
    seen = tail.of(person_id)
    if not seen:
        return None
    first = seen[0]
    emails = sorted({s.email for s in seen if s.email is not None})
    account_row = (
        conn.execute(
            select(_u.id, _u.email, _u.name, _u.role, _u.status)
            .where(_u.tenant_id == tenant_id, _u.email.in_(emails))
            .order_by(_u.created_at, _u.id)
            .limit(1)
        )
        .mappings()
        .first()
        if emails
        else None
    )
    account: AccountLink | None = None
    if account_row is not None:
        account = {
            "id": account_row["id"],
            "email": account_row["email"],
            "name": account_row["name"],
            "role": account_row["role"],
            "status": account_row["status"],
        }
    sign_ins = [s.timestamp for s in seen if s.is_sign_in]
    return {
        "id": person_id,
        "label": first.user_id if first.user_id is not None else str(first.email),
        "name": account["name"] if account else None,
        "first_seen": min(s.timestamp for s in seen),
        "last_seen": max(s.timestamp for s in seen),
        "last_sign_in": max(sign_ins) if sign_ins else None,
        "events": len(seen),
        "account": account,
    }


def newcomer(
    conn: Connection, *, tenant_id: uuid.UUID, person_id: uuid.UUID, tail: PeopleTail
) -> PersonDetail | None:
    """``newcomer_summary`` with everything the tail knows of them, as ``get_person``."""
    summary = newcomer_summary(conn, tenant_id=tenant_id, person_id=person_id, tail=tail)
    if summary is None:
        return None
    seen = tail.of(person_id)
    emails = sorted({s.email for s in seen if s.email is not None})
    user_ids = sorted({s.user_id for s in seen if s.user_id is not None})
    return {
        **summary,
        "user_ids": user_ids[:MAX_IDENTIFIERS_SHOWN],
        "emails": emails[:MAX_IDENTIFIERS_SHOWN],
        "countries": _most_first(Counter(s.country for s in seen if s.country is not None)),
        "actions": _most_first(Counter(s.action for s in seen)),
        "resource_types": _most_first(Counter(s.resource_type for s in seen)),
    }


def _most_first(counts: Counter[str]) -> dict[str, int]:
    """``counts`` as a dict, most first (ties by name)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def get_person(
    conn: Connection, *, tenant_id: uuid.UUID, person_id: uuid.UUID, now: datetime
) -> PersonDetail:
    """One person, by their id or by the id of their account (an account no event has
    named is a person with no activity); raises ``NotFound`` for neither."""
    everyone, query = _selected(tenant_id, PeopleFilters(), now, conn.dialect.name)
    found = conn.execute(query.where(everyone.c.id == person_id)).mappings().first()
    if found is None:
        account_email = conn.execute(
            select(_u.email).where(_u.tenant_id == tenant_id, _u.id == person_id)
        ).scalar_one_or_none()
        linked = (
            person_of(conn, tenant_id=tenant_id, key=Identifier(EMAIL, account_email))
            if account_email is not None
            else None
        )
        if linked is not None:
            found = conn.execute(query.where(everyone.c.id == linked)).mappings().first()
    if found is None:
        tail = read_tail(conn, tenant_id=tenant_id)
        fresh = newcomer(conn, tenant_id=tenant_id, person_id=person_id, tail=tail)
        if fresh is None:
            raise NotFound(f"person {person_id} not found")
        return fresh
    summary = _summary(found)
    pid = summary["id"]
    identifiers = conn.execute(
        select(_i.kind, _i.value)
        .where(_i.tenant_id == tenant_id, _i.person_id == pid)
        .order_by(_i.kind, _i.value)
    ).all()
    c, d = person_countries.c, person_features.c
    countries = conn.execute(
        select(c.country, c.events)
        .where(c.tenant_id == tenant_id, c.person_id == pid)
        .order_by(c.events.desc(), c.country)
    ).all()
    by_kind = conn.execute(
        select(d.action, d.resource_type, func.sum(d.events))
        .where(d.tenant_id == tenant_id, d.person_id == pid)
        .group_by(d.action, d.resource_type)
    ).all()
    actions: dict[str, int] = {}
    resource_types: dict[str, int] = {}
    for action, resource_type, n in by_kind:
        actions[action] = actions.get(action, 0) + int(n)
        resource_types[resource_type] = resource_types.get(resource_type, 0) + int(n)
    if not identifiers and summary["account"] is not None:
        emails = [summary["account"]["email"]]
    else:
        emails = [value for kind, value in identifiers if kind == EMAIL]
    user_ids = [value for kind, value in identifiers if kind == USER_ID][:MAX_IDENTIFIERS_SHOWN]
    return {
        **summary,
        "user_ids": user_ids,
        "emails": emails[:MAX_IDENTIFIERS_SHOWN],
        "countries": {country: int(n) for country, n in countries},
        "actions": _most_first(Counter(actions)),
        "resource_types": _most_first(Counter(resource_types)),
    }


def actor_for(conn: Connection, *, tenant_id: uuid.UUID, key: str) -> Actor:
    """Whose events ``/users/{key}/activity`` lists: ``key`` is a Vigil account's id (its
    person's events, or for an account no event has named, those naming the account's id
    or, with no id, its email), a person's id, or a ``user_id`` producers send (its
    person's events, or the events naming it if the people tables have not reached them
    yet). Raises ``NotFound`` when it is none of these in the tenant."""
    if len(key) > MAX_USER_ID:
        raise NotFound(f"no account, person or user id {key[:40]!r}… in this tenant")
    try:
        as_uuid: uuid.UUID | None = uuid.UUID(key)
    except ValueError:
        as_uuid = None
    if as_uuid is not None:
        account_email = conn.execute(
            select(_u.email).where(_u.tenant_id == tenant_id, _u.id == as_uuid)
        ).scalar_one_or_none()
        if account_email is not None:
            person = person_of(conn, tenant_id=tenant_id, key=Identifier(EMAIL, account_email))
            if person is None:
                return Actor(user_ids=(str(as_uuid),), emails=(account_email,))
            return actor_of(conn, tenant_id=tenant_id, person_id=person)
        person_exists = conn.execute(
            select(_p.id).where(_p.tenant_id == tenant_id, _p.id == as_uuid)
        ).scalar_one_or_none()
        if person_exists is not None:
            return actor_of(conn, tenant_id=tenant_id, person_id=as_uuid)
        fresh = read_tail(conn, tenant_id=tenant_id).of(as_uuid)
        if fresh:
            return actor_in(fresh)
    person = person_of(conn, tenant_id=tenant_id, key=Identifier(USER_ID, key))
    if person is not None:
        return actor_of(conn, tenant_id=tenant_id, person_id=person)
    named = conn.execute(
        select(events.c.id).where(events.c.tenant_id == tenant_id, events.c.user_id == key).limit(1)
    ).first()
    if named is not None:
        return Actor(user_ids=(key,))
    raise NotFound(f"no account, person or user id {key!r} in this tenant")
