"""Notification settings on the wire."""

from __future__ import annotations

from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from vigil.accounts.schemas import Email
from vigil.notifications.channel import ChannelSettings


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
