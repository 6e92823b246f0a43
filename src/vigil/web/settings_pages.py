"""Settings → Notifications: where alerts go, a test message, and the detection rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import FormData

from vigil.core.deps import EngineDep, ReadConnDep, SettingsDep
from vigil.core.errors import VigilError
from vigil.detections import actions as rule_actions
from vigil.detections import service as detections
from vigil.detections.rules import Rule, Severity
from vigil.events.schemas import Action, ResourceType
from vigil.notifications import actions as channel_actions
from vigil.notifications import service as notifications
from vigil.notifications.channel import ChannelName
from vigil.notifications.schemas import NotificationSettings, settings_json
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.forms import audit_of, notice_for, see_other, validation_message
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

PAGE = "/ui/settings/notifications"


def _context(request: Request, me: ConsoleUser, conn: Any, **extra: Any) -> dict[str, Any]:
    settings = request.app.state.settings
    channels = notifications.read_settings(
        conn, tenant_id=me.principal.tenant_id, secret_key=settings.secret_key
    )
    return {
        "me": me,
        "section": "settings",
        "channels": settings_json(channels),
        "email_configured": settings.email_configured,
        "rules": detections.tenant_rules(conn, tenant_id=me.principal.tenant_id),
        "severities": [s.value for s in Severity],
        "all_channels": [c.value for c in ChannelName],
        "actions": [a.value for a in Action],
        "resource_types": [r.value for r in ResourceType],
        "notice": notice_for(request),
        **extra,
    }


@router.get("/settings/notifications")
def notifications_page(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """The channels, a test button, and every rule with its thresholds and channels."""
    return render(request, "settings/notifications.html", _context(request, me, conn))


def _checked(form: FormData, name: str) -> bool:
    return form.get(name) == "on"


@router.post("/settings/notifications")
async def save_channels(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep, settings: SettingsDep
) -> Response:
    """Save the channels."""
    form = await request.form()
    recipients = [r.strip() for r in str(form.get("recipients", "")).replace(",", "\n").split()]
    webhook = str(form.get("webhook_url", "")).strip()
    try:
        body = NotificationSettings.model_validate(
            {
                "email": {"enabled": _checked(form, "email_enabled"), "recipients": recipients},
                "slack": {
                    "enabled": _checked(form, "slack_enabled"),
                    "webhook_url": webhook or None,
                },
                "in_app": {"enabled": _checked(form, "in_app_enabled")},
            }
        )
        await run_in_threadpool(
            channel_actions.save_channels, engine, audit_of(request, me), settings, body
        )
    except (ValidationError, VigilError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        context = _context(request, me, conn, channels_error=message)
        return render(request, "settings/notifications.html", context, status_code=422)
    return see_other(PAGE, "channels-saved")


@router.post("/settings/notifications/test")
async def send_test(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep, settings: SettingsDep
) -> Response:
    """Send a test message through every enabled channel and say how each went."""
    results = await run_in_threadpool(
        channel_actions.send_tests, engine, me.principal, settings, request.app.state.deliverer
    )
    context = _context(request, me, conn, test_results=results)
    return render(request, "settings/notifications.html", context)


def _rule_fields(form: FormData) -> dict[str, Any]:
    """A rule's settings as a form sends them."""
    fields: dict[str, Any] = {
        "enabled": _checked(form, "enabled"),
        "severity": str(form.get("severity", "MEDIUM")),
        "min_severity": str(form.get("min_severity", "MEDIUM")),
        "channels": [str(c) for c in form.getlist("channels")],
    }
    for name in ("threshold", "window_minutes"):
        if name in form:
            fields[name] = str(form.get(name, "")).strip()
    if "group_by" in form:
        fields["group_by"] = str(form.get("group_by"))
    return fields


@router.post("/settings/rules")
async def add_rule(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep
) -> Response:
    """Add a threshold rule of one's own."""
    form = await request.form()
    action, resource, status = (str(form.get(k, "")) for k in ("action", "resource", "status"))
    fields = {
        **_rule_fields(form),
        "name": str(form.get("name", "")).strip(),
        "description": str(form.get("description", "")).strip(),
        "filter": {
            "action": [action] if action else [],
            "resource_type": [resource] if resource else [],
            "status": status or None,
            "query": str(form.get("query", "")) or None,
        },
    }
    try:
        rule = Rule.model_validate(fields)
        await run_in_threadpool(rule_actions.create_rule, engine, audit_of(request, me), rule)
    except (ValidationError, VigilError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        context = _context(request, me, conn, rule_error=message, draft=fields)
        return render(request, "settings/notifications.html", context, status_code=422)
    return see_other(PAGE, "rule-added")


@router.post("/settings/rules/{rule_name}")
async def edit_rule(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep, rule_name: str
) -> Response:
    """Change a rule's thresholds, severity and channels, or turn it on or off."""
    form = await request.form()
    try:
        await run_in_threadpool(
            rule_actions.change_rule, engine, audit_of(request, me), rule_name, _rule_fields(form)
        )
    except VigilError as error:
        context = _context(request, me, conn, rule_error=f"{rule_name}: {error.message}")
        return render(
            request, "settings/notifications.html", context, status_code=error.status_code
        )
    return see_other(PAGE, "rule-saved")


def _rule_refused(
    request: Request, me: ConsoleUser, conn: Any, rule_name: str, error: VigilError
) -> Response:
    context = _context(request, me, conn, rule_error=f"{rule_name}: {error.message}")
    return render(request, "settings/notifications.html", context, status_code=error.status_code)


@router.post("/settings/rules/{rule_name}/delete")
async def remove_rule(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep, rule_name: str
) -> Response:
    """Delete a rule of one's own."""
    try:
        await run_in_threadpool(rule_actions.delete_rule, engine, audit_of(request, me), rule_name)
    except VigilError as error:
        context = _context(request, me, conn, rule_error=f"{rule_name}: {error.message}")
        return render(
            request, "settings/notifications.html", context, status_code=error.status_code
        )
    return see_other(PAGE, "rule-deleted")
