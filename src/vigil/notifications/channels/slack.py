"""Alerts to a Slack channel, through the incoming webhook the tenant set.

The webhook's URL is a credential: it is stored sealed (see ``service``), never put in the
outbox, shown masked, and kept out of error messages and logs.
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from vigil.core.errors import InvalidInput
from vigil.notifications.channel import (
    ChannelName,
    ChannelSettings,
    Delivery,
    DeliveryFailed,
    Message,
    SendContext,
    describe,
)
from vigil.settings import Settings

name: Final = ChannelName.SLACK
delivery: Final = Delivery.OUTBOX


def is_on(chosen: ChannelSettings) -> bool:
    """On when enabled with a webhook that could be opened."""
    return chosen.slack_enabled and bool(chosen.slack_webhook_url)


def render(message: Message, chosen: ChannelSettings) -> dict[str, Any]:
    """What a Slack incoming webhook accepts: text, and blocks to lay it out."""
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{message.severity}"},
        {"type": "mrkdwn", "text": f"*Rule*\n{message.rule}"},
        {"type": "mrkdwn", "text": f"*Subject*\n{_escape(message.subject)}"},
        {"type": "mrkdwn", "text": f"*Events*\n{message.count}"},
    ]
    return {
        "text": f"Vigil alert: {_escape(message.title)}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{_escape(message.summary)}*"},
            },
            {"type": "section", "fields": fields},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Vigil"},
                        "url": message.link,
                    }
                ],
            },
        ],
    }


def _escape(text: str) -> str:
    # Slack's mrkdwn gives &, < and > meaning; event data must not form links or mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send(payload: dict[str, Any], context: SendContext) -> None:
    """Post the payload to the tenant's webhook (read when sending: it may have changed)."""
    url = context.chosen.slack_webhook_url
    if not url:
        raise DeliveryFailed("slack: no webhook URL is configured")
    try:
        answer = context.http.post(url, json=payload)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"slack: {describe(error).replace(url, '<webhook>')}") from error
    if not answer.is_success:
        raise DeliveryFailed(f"slack answered {answer.status_code}: {answer.text[:200]}")


def check_webhook_host(host: str | None, settings: Settings) -> None:
    """Refuse a webhook on a host ``VIGIL_SLACK_WEBHOOK_HOSTS`` does not list."""
    allowed = [h.strip().lower() for h in settings.slack_webhook_hosts.split(",") if h.strip()]
    if (host or "").lower() not in allowed:
        raise InvalidInput(
            "slack.webhook_url",
            f"must be a Slack incoming webhook on {', '.join(allowed)} "
            "(VIGIL_SLACK_WEBHOOK_HOSTS lists the hosts allowed)",
        )
