"""The activity views: the organisation's Dashboard and Activity pages, and a user's tab."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Connection

from vigil.accounts.service import api_key_names
from vigil.accounts.users import emails_of, find_user
from vigil.analytics.summary import summarize
from vigil.core.clock import utcnow
from vigil.core.deps import ReadConnDep
from vigil.core.errors import InvalidInput, InvalidQuery
from vigil.core.http import uuid_or_404
from vigil.core.pagination import PageRequest
from vigil.events import service as events
from vigil.events.filters import Actor
from vigil.events.wire import event_json
from vigil.people.service import PersonDetail, actor_for, get_person
from vigil.spine.service import last_seq
from vigil.web import charts
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.formatting import number
from vigil.web.live_pages import stream_url
from vigil.web.rendering import render
from vigil.web.view_filters import (
    ACTIONS,
    PAGE_SIZE,
    QUICK_RANGES,
    RESOURCE_TYPES,
    STATUSES,
    ViewFilters,
    split_at_token,
)

router = APIRouter(prefix="/ui", include_in_schema=False)

PLATFORM_RESOURCES = ("PROJECT", "MODEL", "ENDPOINT", "CLUSTER", "BENCHMARK")
RECENT_KEEP = PAGE_SIZE  # the Dashboard's Recent Actions, kept live: its first page


def activity_context(
    conn: Connection,
    me: ConsoleUser,
    view: ViewFilters,
    *,
    path: str,
    person: str | None = None,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """Everything the activity widgets show for ``view``: the list page, the summary, the
    timeline, and the export links, all over exactly the same filters. On a person's
    Activity tab, ``actor`` is whose events these are and ``person`` the key the export
    links name them by (``people.service.actor_for``)."""
    now = utcnow()
    base = {
        "view": view,
        "path": path,
        "quick_ranges": QUICK_RANGES,
        "actions": ACTIONS,
        "resource_types": RESOURCE_TYPES,
        "statuses": STATUSES,
    }
    try:
        filters = view.event_filters(now, actor=actor)
    except InvalidQuery as error:  # shown under the filters; the box keeps the text
        at = split_at_token(view.q, error.position)
        return {**base, "filter_error": error.reason, "query_error": error, "query_at": at}
    except InvalidInput as error:
        return {**base, "filter_error": f"{error.field}: {error.reason}"}
    tenant_id = me.principal.tenant_id
    page = events.list_events(
        conn,
        tenant_id=tenant_id,
        filters=filters,
        page=PageRequest(limit=PAGE_SIZE, offset=(view.page - 1) * PAGE_SIZE),
    )
    summary = summarize(conn, tenant_id=tenant_id, filters=filters, now=now)
    export_query = view.api_params(now, person=person)
    # A USER resource is shown by its email, where the user is one of Vigil's own.
    user_resources = [
        item["resource_id"]
        for item in [*page.rows, *summary.top_resources]
        if item["resource_type"] == "USER" and item["resource_id"]
    ]
    labels = emails_of(conn, tenant_id=tenant_id, ids=user_resources)
    actors = [row["user_id"] for row in page.rows if row["user_id"]]
    total = page.total or 0
    total_label = number(total) + ("" if page.total_exact else "+")
    first = (view.page - 1) * PAGE_SIZE + 1 if page.rows else 0
    return {
        **base,
        # Details as stored text, for the template to indent (the API's form is a fragment).
        "events": [{**event_json(row), "details": row["details"]} for row in page.rows],
        "total": total,
        "total_label": total_label,
        "first_shown": first,
        "last_shown": first + len(page.rows) - 1 if page.rows else 0,
        "has_next": page.next_cursor is not None,
        "summary": summary,
        "resource_labels": labels,
        "key_names": api_key_names(conn, tenant_id=tenant_id, actor_ids=actors),
        "timeline": charts.timeline(summary.timeline, summary.bucket),
        "action_shares": charts.shares(summary.by_action),
        "resource_shares": charts.shares(summary.by_resource_type),
        "export_csv": "/audit-logs/export?" + urlencode({**export_query, "format": "csv"}),
        "export_json": "/audit-logs/export?" + urlencode({**export_query, "format": "json"}),
        "export_ndjson": "/audit-logs/export?" + urlencode({**export_query, "format": "ndjson"}),
    }


@router.get("/dashboard")
def dashboard(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """The organisation's activity over a range, at a glance."""
    view = ViewFilters.from_query(request.query_params)
    head = last_seq(conn, tenant_id=me.principal.tenant_id)  # before the rows, as /ui/live
    context = activity_context(conn, me, view, path="/ui/dashboard")
    if view.page == 1 and not view.end and "filter_error" not in context:
        # The newest rows stay the newest: the page goes on from the events it shows.
        context.update(live_stream=stream_url(view, after=head), live_list=RECENT_KEEP)
    # Vigil records its own sign-ins, so "no events" never happens; what a new installation
    # lacks is events from the platform's services.
    first_steps = not events.has_activity_of(
        conn, tenant_id=me.principal.tenant_id, resource_types=PLATFORM_RESOURCES
    )
    return render(
        request,
        "activity/dashboard.html",
        {"me": me, "section": "dashboard", "first_steps": first_steps, **context},
    )


@router.get("/activity")
def activity(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Every action in the organisation, filtered."""
    view = ViewFilters.from_query(request.query_params)
    context = activity_context(conn, me, view, path="/ui/activity")
    return render(request, "activity/activity.html", {"me": me, "section": "activity", **context})


@router.get("/users/{user_id}/activity")
def user_activity(request: Request, me: ConsoleDep, conn: ReadConnDep, user_id: str) -> Response:
    """A person's Activity tab: what they did. ``user_id`` is an account's id (with its
    Profile tab beside) or, for someone who is not an account, their person id."""
    tenant_id = me.principal.tenant_id
    key = uuid_or_404(user_id, what="user")
    account = find_user(conn, tenant_id=tenant_id, user_id=key)
    person: PersonDetail | None = None
    if account is None:
        person = get_person(conn, tenant_id=tenant_id, person_id=key, now=utcnow())
        if person["account"] is not None:  # a person's id, for an account: its own page
            return RedirectResponse(f"/ui/users/{person['account']['id']}/activity", 303)
    actor = actor_for(conn, tenant_id=tenant_id, key=str(key))
    view = ViewFilters.from_query(request.query_params)
    path = f"/ui/users/{key}/activity"
    context = activity_context(conn, me, view, path=path, person=str(key), actor=actor)
    return render(
        request,
        "users/activity.html",
        {
            "me": me,
            "section": "users",
            "user": account,
            "person": person,
            "tab": "activity",
            **context,
        },
    )
