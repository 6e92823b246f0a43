"""HTTP for events: ingest, list, read one, per-user activity, export."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from vigil.accounts.access import rule_for
from vigil.accounts.deps import Caller, admit_request
from vigil.core.clock import utcnow
from vigil.core.deps import ReadConnDep, SettingsDep
from vigil.core.http import FastJSONResponse, client_ip, errors, read_body, uuid_or_404
from vigil.core.pagination import PageRequest
from vigil.events import service
from vigil.events.decode import decode_batch, decode_event
from vigil.events.deps import ExportSlotsDep, Ingest, IngestDep
from vigil.events.export import MEDIA_TYPES, ExportFormat, RunningExport
from vigil.events.export_response import ExportResponse
from vigil.events.filters import EventFilters
from vigil.events.params import ActivityListQuery, EventListQuery, ExportQuery
from vigil.events.schemas import (
    BatchResult,
    EventBatchIn,
    EventIn,
    EventOut,
    EventPage,
)
from vigil.events.wire import event_json
from vigil.people.service import actor_for

router = APIRouter(tags=["audit logs"])
# What an export's download holds, by `format`: each event as `EventOut` describes it.
EXPORT_CONTENT: dict[str, Any] = {
    MEDIA_TYPES[ExportFormat.CSV].split(";")[0]: {
        "schema": {"type": "string", "description": "RFC 4180 CSV, a header row first"}
    },
    MEDIA_TYPES[ExportFormat.JSON]: {
        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/EventOut"}}
    },
    MEDIA_TYPES[ExportFormat.NDJSON]: {
        "schema": {"type": "string", "description": "One event as JSON per line"}
    },
}
RECORD_EVENT = rule_for("POST", "/audit-logs/")
RECORD_BATCH = rule_for("POST", "/audit-logs/batch")


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    # Bodies are parsed by hand (straight from bytes, for speed); document them anyway,
    # with nested models inlined so the schema stands on its own.
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


# The two ingest routes take the request alone: they are the hot path, served ahead of
# FastAPI's router by ``events.fast_path`` (same functions, same rules) and declared here
# for the API's documentation and for apps built without it.
@router.post(
    "/audit-logs/",
    status_code=201,
    response_model=EventOut,
    openapi_extra=_body_schema(EventIn),
    responses={
        200: {"description": "Already stored with this id and content"},
        **errors(409, 413, 503),
    },
    summary="Record one event",
)
async def record_event(request: Request) -> Response:
    """Store one event; a repeated producer ``id`` with the same content answers 200."""
    principal = await admit_request(request, RECORD_EVENT)
    ingest: Ingest = request.app.state.ingest
    prepared = decode_event(await read_body(request), now=utcnow(), geo=ingest.geo)
    outcome = await ingest.writer.submit(
        service.PendingBatch(tenant_id=principal.tenant_id, events=[prepared])
    )
    if outcome.conflict is not None:
        raise outcome.conflict
    status = 201 if outcome.created[0] else 200
    return FastJSONResponse(event_json(outcome.rows[0]), status_code=status)


@router.post(
    "/audit-logs/batch",
    status_code=201,
    response_model=BatchResult,
    openapi_extra=_body_schema(EventBatchIn),
    responses=errors(409, 413, 503),
    summary="Record up to 1000 events at once",
)
async def record_batch(request: Request) -> Response:
    """Store every event or none: any invalid event fails the batch, naming its index."""
    principal = await admit_request(request, RECORD_BATCH)
    ingest: Ingest = request.app.state.ingest
    prepared = decode_batch(await read_body(request), now=utcnow(), geo=ingest.geo)
    outcome = await ingest.writer.submit(
        service.PendingBatch(tenant_id=principal.tenant_id, events=prepared)
    )
    if outcome.conflict is not None:
        raise outcome.conflict
    created = sum(outcome.created)
    result = {
        "ingested": created,
        "duplicates": len(outcome.created) - created,
        "ids": [row["id"] for row in outcome.rows],
    }
    return FastJSONResponse(result, status_code=201)


@router.get("/audit-logs/", response_model=EventPage, summary="List events, newest first")
def list_audit_logs(
    principal: Caller, conn: ReadConnDep, query: Annotated[EventListQuery, Query()]
) -> Response:
    """Filter, page by offset or by cursor, and count."""
    return _page_response(conn, principal.tenant_id, query.filters(), query.page())


def _page_response(
    conn: Connection, tenant_id: uuid.UUID, filters: EventFilters, page: PageRequest
) -> Response:
    result = service.list_events(conn, tenant_id=tenant_id, filters=filters, page=page)
    return FastJSONResponse(
        {
            "items": [event_json(row) for row in result.rows],
            "total": result.total,
            "total_exact": result.total_exact,
            "limit": page.limit,
            "offset": page.offset,
            "next_cursor": result.next_cursor.encode() if result.next_cursor else None,
        }
    )


@router.get(
    "/audit-logs/export",
    summary="Download matching events as CSV, JSON or NDJSON",
    responses={200: {"content": EXPORT_CONTENT}, **errors(404, 429)},
)
def export_audit_logs(
    request: Request,
    principal: Caller,
    slots: ExportSlotsDep,
    ingest: IngestDep,
    settings: SettingsDep,
    conn: ReadConnDep,
    query: Annotated[ExportQuery, Query()],
) -> Response:
    """Stream every matching event; the export itself is recorded as an EXPORT event.

    The export's database connection is taken before the 200: when every export slot is
    busy the answer is 429 with ``Retry-After``.
    """
    filters = query.filters()
    if query.person is not None:
        actor = actor_for(conn, tenant_id=principal.tenant_id, key=query.person)
        filters = dataclasses.replace(filters, actor=actor)
    export_format = query.format
    filename = f"vigil-audit-logs-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{export_format.value}"
    export = RunningExport(
        slots=slots,
        writer=ingest.writer,
        geo=ingest.geo,
        principal=principal,
        filters=filters,
        export_format=export_format,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return ExportResponse(
        export,
        stall_seconds=settings.export_stall_seconds,
        media_type=MEDIA_TYPES[export_format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/audit-logs/{event_id}", response_model=EventOut, summary="One event")
def get_audit_log(principal: Caller, conn: ReadConnDep, event_id: str) -> Response:
    """One event of the caller's tenant; anything else is 404."""
    row = service.get_event(
        conn, tenant_id=principal.tenant_id, event_id=uuid_or_404(event_id, what="event")
    )
    return FastJSONResponse(event_json(row))


@router.get(
    "/users/{user_id}/activity", response_model=EventPage, summary="One user's activity as actor"
)
def user_activity(
    principal: Caller,
    conn: ReadConnDep,
    user_id: str,
    query: Annotated[ActivityListQuery, Query()],
) -> Response:
    """The filters, for one person's events: ``user_id`` is a Vigil account's id, a
    person's id or a ``user_id`` producers send (``people.service.actor_for``); 404 when it
    is none of these in the tenant."""
    filters = query.filters_of(actor_for(conn, tenant_id=principal.tenant_id, key=user_id))
    return _page_response(conn, principal.tenant_id, filters, query.page())
