"""My notifications: the alerts the console tells me about, read and unread."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.http import uuid_or_404
from vigil.db.engine import write_transaction
from vigil.notifications import service
from vigil.web.access import ConsoleDep
from vigil.web.forms import see_other
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/notifications")
def inbox(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Newest first; unread ones stand out."""
    assert me.principal.user_id is not None
    rows, unread = service.list_inbox(
        conn, tenant_id=me.principal.tenant_id, user_id=me.principal.user_id, limit=100, offset=0
    )
    return render(
        request,
        "inbox.html",
        {"me": me, "section": "notifications", "items": rows, "unread": unread},
    )


@router.post("/notifications/{notification_id}/read")
def read_one(me: ConsoleDep, engine: EngineDep, notification_id: str) -> Response:
    """Mark one read, and open its alert when it has one."""
    assert me.principal.user_id is not None
    target = uuid_or_404(notification_id, what="notification")
    with write_transaction(engine) as conn:
        service.mark_read(
            conn,
            tenant_id=me.principal.tenant_id,
            user_id=me.principal.user_id,
            notification_id=target,
            now=utcnow(),
        )
        alert_id = service.alert_of(conn, tenant_id=me.principal.tenant_id, notification_id=target)
    if alert_id is not None and me.can_view:
        return see_other(f"/ui/security/alerts/{alert_id}")
    return see_other("/ui/notifications")


@router.post("/notifications/read-all")
def read_all(me: ConsoleDep, engine: EngineDep) -> Response:
    """Mark everything read."""
    assert me.principal.user_id is not None
    with write_transaction(engine) as conn:
        service.mark_read(
            conn,
            tenant_id=me.principal.tenant_id,
            user_id=me.principal.user_id,
            notification_id=None,
            now=utcnow(),
        )
    return see_other("/ui/notifications")
