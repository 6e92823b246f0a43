"""HTTP for the activity summaries: the whole tenant's, and one user's as actor."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import Connection

from vigil.accounts.deps import Caller
from vigil.analytics.buckets import Bucket, Unit
from vigil.analytics.schemas import ActivitySummaryQuery, EventSummary, SummaryQuery
from vigil.analytics.summary import summarize
from vigil.core.clock import utcnow
from vigil.core.deps import ReadConnDep
from vigil.core.http import FastJSONResponse
from vigil.events.filters import EventFilters
from vigil.people.service import actor_for

# Tagged with the event routes they summarise, so the API reference shows them together.
router = APIRouter(tags=["audit logs"])


@router.get(
    "/audit-logs/summary",
    response_model=EventSummary,
    summary="Counts by action, resource and status, top resources and a timeline",
)
def summarize_audit_logs(
    principal: Caller, conn: ReadConnDep, query: Annotated[SummaryQuery, Query()]
) -> Response:
    """What the list filters select, summarised for the activity dashboard."""
    return _summary_response(conn, principal.tenant_id, query.filters(), query.bucket)


@router.get(
    "/users/{user_id}/activity/summary",
    response_model=EventSummary,
    summary="One user's activity as actor, summarised",
)
def user_activity_summary(
    principal: Caller,
    conn: ReadConnDep,
    user_id: str,
    query: Annotated[ActivitySummaryQuery, Query()],
) -> Response:
    """The filters, for one person's events: ``user_id`` is a Vigil account's id, a
    person's id or a ``user_id`` producers send (``people.service.actor_for``); 404 when it
    is none of these in the tenant."""
    filters = query.filters_of(actor_for(conn, tenant_id=principal.tenant_id, key=user_id))
    return _summary_response(conn, principal.tenant_id, filters, query.bucket)


def _summary_response(
    conn: Connection, tenant_id: uuid.UUID, filters: EventFilters, bucket: str | None
) -> Response:
    summary = summarize(
        conn,
        tenant_id=tenant_id,
        filters=filters,
        now=utcnow(),
        bucket=Bucket(Unit(bucket)) if bucket else None,
    )
    return FastJSONResponse(summary.as_json())
