"""HTTP for notifications: where alerts go, a test message, and each user's in-app inbox."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from vigil.accounts.audit import AuditDep
from vigil.accounts.deps import Caller
from vigil.accounts.schemas import Email
from vigil.accounts.service import Principal
from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep, ReadConnDep, SettingsDep
from vigil.core.errors import InvalidInput
from vigil.core.http import FastJSONResponse, uuid_or_404
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.events.wire import format_time
from vigil.notifications import service
from vigil.notifications.delivery import Deliverer, DeliveryFailed
from vigil.notifications.service import ChannelSettings, Message

router = APIRouter(tags=["notifications"])


class EmailChannel(BaseModel):
    """Alerts by email, through the server's SMTP settings."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    recipients: list[Email] = Field(default_factory=list, max_length=50)


class SlackChannel(BaseModel):
    """Alerts to a Slack channel through an incoming webhook."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    webhook_url: AnyHttpUrl | None = Field(
        default=None,
        description="The incoming webhook's URL; shown masked; leave out to keep the one set",
    )


class InAppChannel(BaseModel):
    """Alerts in the console, for everyone who may read activity."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


class NotificationSettings(BaseModel):
    """Where alerts go."""

    model_config = ConfigDict(extra="forbid")

    email: EmailChannel = Field(default_factory=EmailChannel)
    slack: SlackChannel = Field(default_factory=SlackChannel)
    in_app: InAppChannel = Field(default_factory=InAppChannel)


def _masked(url: str | None) -> str | None:
    # Enough to recognise which webhook it is, not enough to post to it.
    return None if url is None else url[: url.find("/", 8) + 1] + "…" + url[-4:]


def settings_json(chosen: ChannelSettings) -> dict[str, Any]:
    """The settings as the API shows them (the webhook masked: it is a credential)."""
    return {
        "email": {"enabled": chosen.email_enabled, "recipients": list(chosen.email_recipients)},
        "slack": {
            "enabled": chosen.slack_enabled,
            "webhook_url": _masked(chosen.slack_webhook_url),
            "webhook_configured": chosen.slack_webhook_url is not None,
        },
        "in_app": {"enabled": chosen.in_app_enabled},
    }


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
    audit: AuditDep,
    engine: EngineDep,
    settings: SettingsDep,
    body: NotificationSettings,
) -> FastJSONResponse:
    """Replace the channels; recorded as UPDATE on SETTINGS (never with the webhook URL)."""
    if body.email.enabled and not body.email.recipients:
        raise InvalidInput("email.recipients", "give at least one address to enable email")
    if body.email.enabled and not settings.email_configured:
        raise InvalidInput("email.enabled", "email is not configured: set VIGIL_SMTP_HOST")
    with write_transaction(engine) as conn:
        before = service.read_settings(
            conn, tenant_id=principal.tenant_id, secret_key=settings.secret_key
        )
        url = str(body.slack.webhook_url) if body.slack.webhook_url else before.slack_webhook_url
        if body.slack.enabled and not url:
            raise InvalidInput("slack.webhook_url", "give the webhook URL to enable Slack")
        chosen = ChannelSettings(
            email_enabled=body.email.enabled,
            email_recipients=tuple(dict.fromkeys(body.email.recipients)),
            slack_enabled=body.slack.enabled,
            slack_webhook_url=url,
            in_app_enabled=body.in_app.enabled,
        )
        service.write_settings(
            conn,
            tenant_id=principal.tenant_id,
            chosen=chosen,
            secret_key=settings.secret_key,
            now=utcnow(),
        )
        old, new = settings_json(before), settings_json(chosen)
        changed = sorted(
            f"{channel}.{name}"
            for channel in new
            for name in new[channel]
            if new[channel][name] != old[channel][name] and name != "webhook_url"
        )
        if url != before.slack_webhook_url:
            changed.append("slack.webhook_url")
        if changed:
            audit.record(
                conn,
                action=Action.UPDATE,
                resource_type=ResourceType.SETTINGS,
                resource_id="notifications",
                details={"changed_fields": sorted(set(changed))},
            )
    return FastJSONResponse(settings_json(chosen))


@router.post("/settings/notifications/test", summary="Send a test message to each channel")
async def test_notifications(
    request: Request, principal: Caller, engine: EngineDep, settings: SettingsDep
) -> FastJSONResponse:
    """A test message through every enabled channel, now; the answer says how each went."""
    results = await run_in_threadpool(_send_tests, request, principal, engine, settings)
    return FastJSONResponse({"results": results})


def _send_tests(
    request: Request, principal: Principal, engine: Any, settings: Any
) -> dict[str, str]:
    with engine.connect() as conn:
        chosen = service.read_settings(
            conn, tenant_id=principal.tenant_id, secret_key=settings.secret_key
        )
    test = {
        "id": None,
        "rule": "test",
        "severity": "LOW",
        "subject": principal.label(),
        "summary": f"Test message from Vigil, sent by {principal.label()}",
        "count": 0,
    }
    message = Message.of(test, f"{settings.base_url}/ui/security")
    deliverer: Deliverer = request.app.state.deliverer
    results: dict[str, str] = {}
    for channel in chosen.enabled():
        try:
            if channel.value == "in_app":
                with write_transaction(engine) as conn:
                    service.to_inboxes(
                        conn,
                        tenant_id=principal.tenant_id,
                        alert=test,
                        title=message.title,
                        now=utcnow(),
                    )
            else:
                payload = (
                    message.email(chosen.email_recipients)
                    if channel.value == "email"
                    else message.slack()
                )
                deliverer.send(principal.tenant_id, channel.value, payload)
            results[channel.value] = "sent"
        except DeliveryFailed as error:
            results[channel.value] = f"failed: {error}"
    return results


# --- the signed-in user's inbox ---


def _user_of(principal: Principal) -> Any:
    if principal.user_id is None:
        raise InvalidInput("authorization", "notifications belong to signed-in users")
    return principal.user_id


def notification_json(row: dict[str, Any]) -> dict[str, Any]:
    """One in-app notification."""
    return {
        "id": row["id"],
        "alert_id": row["alert_id"],
        "severity": row["severity"],
        "title": row["title"],
        "created_at": format_time(row["created_at"]),
        "read": row["read_at"] is not None,
    }


class InboxQuery(BaseModel):
    """``GET /notifications``."""

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=100_000)


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
