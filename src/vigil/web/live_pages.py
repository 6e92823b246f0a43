"""The console's live feed: the Live page, and the stream the console's script reads.

The console reads its own stream (``GET /ui/live/stream``) rather than the API's: it takes
the Activity page's filters as the page's URL carries them, and sends each event as the
row the Activity page would show (the same template, so the same escaping, labels and
invisible characters written out), so the browser only places rows it is given. Besides
the Live page, the Dashboard's Recent Actions and, on both pages, the header's unread
count are kept up to date by it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, Engine

from vigil.accounts.service import api_key_names
from vigil.accounts.users import emails_of
from vigil.core.clock import utcnow
from vigil.core.deps import ReadConnDep
from vigil.core.errors import InvalidInput, InvalidQuery
from vigil.core.pagination import PageRequest
from vigil.events import service as events
from vigil.events.wire import event_json
from vigil.live.routes import OpenStream, event_stream, subscribe
from vigil.live.stream import Frame
from vigil.spine.service import last_seq
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.formatting import API_KEY_ACTOR
from vigil.web.rendering import render, templates
from vigil.web.view_filters import (
    ACTIONS,
    PAGE_SIZE,
    RESOURCE_TYPES,
    STATUSES,
    ViewFilters,
    split_at_token,
)

router = APIRouter(prefix="/ui", include_in_schema=False)

STREAM_PATH = "/ui/live/stream"
KEEP_ROWS = 200  # rows the Live page keeps; older ones are on the Activity page


def stream_url(view: ViewFilters, *, after: int) -> str:
    """The console stream of ``view``'s filters (its dates aside: a live feed is from now
    on), after the tenant's event ``after``."""
    query = view.url("", quick="all", start="", end="", page=1).lstrip("?")
    return f"{STREAM_PATH}?{query + '&' if query else ''}{urlencode({'after': after})}"


@router.get("/live")
def live(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Every matching action as it happens, newest at the top."""
    view = replace(ViewFilters.from_query(request.query_params), quick="all", start="", end="")
    context: dict[str, Any] = {
        "me": me,
        "section": "live",
        "view": view,
        "path": "/ui/live",
        "actions": ACTIONS,
        "resource_types": RESOURCE_TYPES,
        "statuses": STATUSES,
        "live": True,
        "keep_rows": KEEP_ROWS,
    }
    tenant_id = me.principal.tenant_id
    # Read before the rows: the stream goes on after it, and the page drops a row it shows
    # already (one committed in between).
    head = last_seq(conn, tenant_id=tenant_id)
    try:
        filters = view.event_filters(utcnow())
    except InvalidQuery as error:
        at = split_at_token(view.q, error.position)
        failed = {"filter_error": error.reason, "query_error": error, "query_at": at}
        return _render(request, {**context, **failed})
    except InvalidInput as error:
        return _render(request, {**context, "filter_error": f"{error.field}: {error.reason}"})
    page = events.list_events(
        conn, tenant_id=tenant_id, filters=filters, page=PageRequest(limit=PAGE_SIZE)
    )
    rows = [{**event_json(row), "details": row["details"]} for row in page.rows]
    labels = _Labels()
    labels.learn(conn, tenant_id, rows)
    context.update(
        events=rows,
        resource_labels=labels.resources,
        key_names=labels.keys,
        live_stream=stream_url(view, after=head),
    )
    return _render(request, context)


def _render(request: Request, context: dict[str, Any]) -> Response:
    return render(request, "live/live.html", context)


async def open_console_stream(request: Request, me: ConsoleDep) -> OpenStream:
    """Subscribe before the 200 is sent (a bad filter is an error page, a stream past the
    limits a 429)."""
    params = request.query_params
    view = replace(ViewFilters.from_query(params), quick="all", start="", end="")
    return await subscribe(
        request,
        me.principal,
        view.event_filters(utcnow()),
        cursor=request.headers.get("last-event-id") or params.get("after"),
    )


@router.get(STREAM_PATH.removeprefix("/ui"), response_class=Response)
async def live_stream(
    request: Request, me: ConsoleDep, opened: Annotated[OpenStream, Depends(open_console_stream)]
) -> Response:
    """Server-Sent Events for the console: ``activity`` (the event's row as HTML, its
    ``id:`` the resume cursor), ``alert`` and ``notification`` (JSON, as the API's stream
    sends them) and ``reset``. Query: the Activity page's filters (dates ignored),
    ``after`` (an event seq)."""
    rows = _rows(request.app.state.engine, me, opened.batches(request))
    return event_stream(request, opened, rows)


async def _rows(
    engine: Engine, me: ConsoleUser, batches: AsyncIterator[list[Frame]]
) -> AsyncIterator[list[Frame]]:
    """``batches`` with each event's JSON replaced by its row, rendered from the stored
    row as the Activity page renders it (details as stored, so numbers as written)."""
    labels = _Labels()
    async for batch in batches:
        shown = [
            (frame, {**event_json(frame.row), "details": frame.row["details"]})
            for frame in batch
            if frame.row is not None
        ]
        if any(labels.missing(event) for _, event in shown):
            await run_in_threadpool(labels.look_up, engine, me, [e for _, e in shown])
        rows = {id(frame): labels.row_html(event) for frame, event in shown}
        yield [
            frame._replace(data=rows[id(frame)], encoded=None) if id(frame) in rows else frame
            for frame in batch
        ]


@dataclass(slots=True)
class _Labels:
    """What a row shows in place of ids: a USER resource's email, an API key's name; kept
    for the stream's life, so only an id not seen before is looked up."""

    resources: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)

    def _wanted(self, event: dict[str, Any]) -> list[str]:
        wanted = []
        if event["resource_type"] == "USER" and event["resource_id"]:
            wanted.append(event["resource_id"])
        if (event["user_id"] or "").startswith(API_KEY_ACTOR):
            wanted.append(event["user_id"])
        return wanted

    def missing(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` names an id not looked up yet."""
        return any(text not in self.asked for text in self._wanted(event))

    def learn(self, conn: Connection, tenant_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        """Look up the ids ``rows`` name."""
        wanted = sorted({text for row in rows for text in self._wanted(row)} - self.asked)
        if not wanted:
            return
        self.resources.update(emails_of(conn, tenant_id=tenant_id, ids=wanted))
        self.keys.update(api_key_names(conn, tenant_id=tenant_id, actor_ids=wanted))
        self.asked.update(wanted)

    def look_up(self, engine: Engine, me: ConsoleUser, rows: list[dict[str, Any]]) -> None:
        """``learn`` on a connection of its own (in a worker thread)."""
        with engine.connect() as conn:
            self.learn(conn, me.principal.tenant_id, rows)

    def row_html(self, event: dict[str, Any]) -> str:
        """The Activity page's row for ``event`` (the API's JSON of it)."""
        macro = templates.env.get_template("activity/_event.html").module.event_row  # type: ignore[attr-defined]
        return str(macro(event, self.resources, self.keys))
