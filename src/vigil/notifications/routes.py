"""HTTP for notifications: where alerts go, a test message, and each user's in-app inbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller
from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep, ReadConnDep, SettingsDep
from vigil.core.errors import InvalidInput
from vigil.core.http import FastJSONResponse, uuid_or_404
from vigil.core.pagination import PageQuery
from vigil.core.principal import Principal
from vigil.db.engine import write_transaction
from vigil.events.wire import format_time
from vigil.notifications import actions, service
from vigil.notifications.schemas import NotificationSettings, settings_json
from vigil.notifications.tables import InboxRow

router = APIRouter(tags=["notifications"])


@router.get("/settings/notifications", summary="Where alerts go")
def read_notification_settings(
    principal: Caller, conn: ReadConnDep, settings: SettingsDep
) -> FastJSONResponse:
    """Email, Slack and in-app channels."""
    chosen = service.read_settings(
        conn, tenant_id=principal.tenant_id, secret_key=settings.secret_key
    )
    return FastJSONResponse(settings_json(chosen))


@router.put("/settings/notifications", summary="Choose where alerts go")
def write_notification_settings(
    principal: Caller,
    audit: CallerAuditDep,
    engine: EngineDep,
    settings: SettingsDep,
    body: NotificationSettings,
) -> FastJSONResponse:
    """Replace the channels; recorded as UPDATE on SETTINGS (never with the webhook URL)."""
    return FastJSONResponse(settings_json(actions.save_channels(engine, audit, settings, body)))


@router.post("/settings/notifications/test", summary="Send a test message to each channel")
async def test_notifications(
    request: Request, principal: Caller, engine: EngineDep, settings: SettingsDep
) -> FastJSONResponse:
    """A test message through every enabled channel, now; the answer says how each went."""
    results = await run_in_threadpool(
        actions.send_tests, engine, principal, settings, request.app.state.deliverer
    )
    return FastJSONResponse({"results": results})


# --- the signed-in user's inbox ---


def _user_of(principal: Principal) -> Any:
    if principal.user_id is None:
        raise InvalidInput("authorization", "notifications belong to signed-in users")
    return principal.user_id


def notification_json(row: InboxRow) -> dict[str, Any]:
    """One in-app notification."""
    return {
        "id": row["id"],
        "alert_id": row["alert_id"],
        "severity": row["severity"],
        "title": row["title"],
        "created_at": format_time(row["created_at"]),
        "read": row["read_at"] is not None,
    }


class InboxQuery(PageQuery):
    """``GET /notifications``."""


@router.get("/notifications", summary="My notifications, with the unread count")
def list_notifications(
    principal: Caller, conn: ReadConnDep, query: Annotated[InboxQuery, Query()]
) -> FastJSONResponse:
    """Newest first."""
    rows, unread = service.list_inbox(
        conn,
        tenant_id=principal.tenant_id,
        user_id=_user_of(principal),
        limit=query.limit,
        offset=query.offset,
    )
    return FastJSONResponse({"items": [notification_json(r) for r in rows], "unread": unread})


@router.post("/notifications/{notification_id}/read", summary="Mark one notification read")
def read_notification(
    principal: Caller, engine: EngineDep, notification_id: str
) -> FastJSONResponse:
    """Read it."""
    with write_transaction(engine) as conn:
        service.mark_read(
            conn,
            tenant_id=principal.tenant_id,
            user_id=_user_of(principal),
            notification_id=uuid_or_404(notification_id, what="notification"),
            now=utcnow(),
        )
        unread = service.unread_count(
            conn, tenant_id=principal.tenant_id, user_id=_user_of(principal)
        )
    return FastJSONResponse({"unread": unread})


@router.post("/notifications/read-all", summary="Mark all my notifications read")
def read_all_notifications(principal: Caller, engine: EngineDep) -> FastJSONResponse:
    """Read them all."""
    with write_transaction(engine) as conn:
        service.mark_read(
            conn,
            tenant_id=principal.tenant_id,
            user_id=_user_of(principal),
            notification_id=None,
            now=utcnow(),
        )
    return FastJSONResponse({"unread": 0})
