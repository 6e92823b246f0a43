"""``/people``: everyone seen acting in the tenant's events, with the accounts no event has
named yet (``people.service``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from vigil.accounts.deps import Caller
from vigil.core.clock import utcnow
from vigil.core.deps import ReadConnDep
from vigil.core.http import FastJSONResponse, uuid_or_404
from vigil.core.pagination import PageQuery
from vigil.events.filters import parse_moment
from vigil.events.wire import format_time
from vigil.people import service
from vigil.people.schemas import PersonOut, PersonPage

router = APIRouter(tags=["people"])


class PeopleListQuery(PageQuery):
    """``GET /people``."""

    q: str | None = Field(
        default=None, max_length=200, description="Part of an id, an email or an account's name"
    )
    active_since: str | None = Field(
        default=None, description="Only people with an event at or after this time (ISO 8601)"
    )
    inactive_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Only people with no event in so many days (or none at all)",
    )
    has_account: bool | None = Field(
        default=None, description="Only people who are (true) or are not (false) Vigil accounts"
    )
    sort: Literal["last_active", "most_actions", "name"] = "last_active"


def summary_json(person: service.PersonSummary) -> dict[str, Any]:
    """A person as the API shows them in a list."""
    account = person["account"]
    return {
        "id": person["id"],
        "label": person["label"],
        "name": person["name"],
        "first_seen": _time(person["first_seen"]),
        "last_seen": _time(person["last_seen"]),
        "last_sign_in": _time(person["last_sign_in"]),
        "events": person["events"],
        "account": dict(account) if account is not None else None,
    }


def _time(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


@router.get("/people", response_model=PersonPage, summary="List and search people")
def list_people(
    principal: Caller, conn: ReadConnDep, query: Annotated[PeopleListQuery, Query()]
) -> FastJSONResponse:
    """Everyone seen acting in the tenant's events (by ``user_id``, or by ``user_email``
    for events with no id), and the Vigil accounts no event has named yet: search, filter,
    sort, page."""
    since = (
        parse_moment(query.active_since, field_name="active_since") if query.active_since else None
    )
    filters = service.PeopleFilters(
        text=(query.q or "").strip() or None,
        active_since=since,
        inactive_days=query.inactive_days,
        has_account=query.has_account,
    )
    rows, total = service.list_people(
        conn,
        tenant_id=principal.tenant_id,
        filters=filters,
        sort=query.sort,
        limit=query.limit,
        offset=query.offset,
        now=utcnow(),
    )
    return FastJSONResponse(
        {
            "items": [summary_json(row) for row in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@router.get("/people/{person_id}", response_model=PersonOut, summary="One person")
def get_person(principal: Caller, conn: ReadConnDep, person_id: str) -> FastJSONResponse:
    """One person, by their id or their account's, with the ids and emails they were seen
    with, their countries and their events by action and resource type."""
    person = service.get_person(
        conn,
        tenant_id=principal.tenant_id,
        person_id=uuid_or_404(person_id, what="person"),
        now=utcnow(),
    )
    return FastJSONResponse(
        {
            **summary_json(person),
            "user_ids": person["user_ids"],
            "emails": person["emails"],
            "countries": person["countries"],
            "actions": person["actions"],
            "resource_types": person["resource_types"],
        }
    )
