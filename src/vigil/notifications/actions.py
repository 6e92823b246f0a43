"""Changes to where alerts go, and test messages: shared by the API and the console."""

from __future__ import annotations

from sqlalchemy import Engine

from vigil.accounts.caller_audit import CallerAudit
from vigil.core.clock import utcnow
from vigil.core.errors import InvalidInput
from vigil.core.principal import Principal
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.notifications import service
from vigil.notifications.channel import (
    ChannelSettings,
    Delivery,
    DeliveryFailed,
    Message,
    SampleAlert,
)
from vigil.notifications.channels import CHANNELS, enabled_channels, slack
from vigil.notifications.delivery import Deliverer
from vigil.notifications.schemas import NotificationSettings, settings_json
from vigil.settings import Settings


def save_channels(
    engine: Engine, audit: CallerAudit, settings: Settings, body: NotificationSettings
) -> ChannelSettings:
    """Replace the tenant's channels; recorded as UPDATE on SETTINGS, naming what changed
    (never the webhook URL itself: it is a credential)."""
    if body.email.enabled and not body.email.recipients:
        raise InvalidInput("email.recipients", "give at least one address to enable email")
    if body.email.enabled and not settings.email_configured:
        raise InvalidInput("email.enabled", "email is not configured: set VIGIL_SMTP_HOST")
    tenant_id = audit.principal.tenant_id
    with write_transaction(engine) as conn:
        before = service.read_settings(conn, tenant_id=tenant_id, secret_key=settings.secret_key)
        if body.slack.webhook_url is not None:
            slack.check_webhook_host(body.slack.webhook_url.host, settings)
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
            conn, tenant_id=tenant_id, chosen=chosen, secret_key=settings.secret_key, now=utcnow()
        )
        old, new = settings_json(before), settings_json(chosen)
        changed = {
            f"{channel}.{name}"
            for channel in new
            for name in new[channel]
            if new[channel][name] != old[channel][name] and name != "webhook_url"
        }
        if url != before.slack_webhook_url:
            changed.add("slack.webhook_url")
        if changed:
            audit.record(
                conn,
                action=Action.UPDATE,
                resource_type=ResourceType.SETTINGS,
                resource_id="notifications",
                details={"changed_fields": sorted(changed)},
            )
    return chosen


def send_tests(
    engine: Engine, principal: Principal, settings: Settings, deliverer: Deliverer
) -> dict[str, str]:
    """A test message through every enabled channel, now: ``{channel: "sent" | "failed: …"}``."""
    with engine.connect() as conn:
        chosen = service.read_settings(
            conn, tenant_id=principal.tenant_id, secret_key=settings.secret_key
        )
    test: SampleAlert = {
        "id": None,
        "rule": "test",
        "severity": "LOW",
        "subject": principal.label(),
        "summary": f"Test message from Vigil, sent by {principal.label()}",
        "count": 0,
    }
    message = Message.of(test, f"{settings.base_url}/ui/security")
    results: dict[str, str] = {}
    for name in enabled_channels(chosen):
        channel = CHANNELS[name]
        try:
            if channel.delivery is Delivery.OUTBOX:  # sent now, not queued: the answer says how
                deliverer.send(principal.tenant_id, name, channel.render(message, chosen))
            else:
                with write_transaction(engine) as conn:
                    channel.write(
                        conn, tenant_id=principal.tenant_id, message=message, now=utcnow()
                    )
            results[name.value] = "sent"
        except DeliveryFailed as error:
            results[name.value] = f"failed: {error}"
    return results
