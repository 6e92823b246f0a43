"""Alerts by email, through the server's SMTP settings (``VIGIL_SMTP_*``)."""

from __future__ import annotations

from typing import Any, Final

from vigil.notifications.channel import (
    ChannelName,
    ChannelSettings,
    Delivery,
    DeliveryFailed,
    Message,
    SendContext,
    describe,
)
from vigil.notifications.mailer import send_email

name: Final = ChannelName.EMAIL
delivery: Final = Delivery.OUTBOX


def is_on(chosen: ChannelSettings) -> bool:
    """On when enabled with at least one recipient."""
    return chosen.email_enabled and bool(chosen.email_recipients)


def render(message: Message, chosen: ChannelSettings) -> dict[str, Any]:
    """An email's fields, addressed to the recipients set when the alert was raised."""
    body = (
        f"{message.summary}\n\n"
        f"Severity: {message.severity}\nRule: {message.rule}\nSubject: {message.subject}\n"
        f"Events: {message.count}\n\nOpen the alert: {message.link}\n\n-- Vigil\n"
    )
    return {
        "to": list(chosen.email_recipients),
        "subject": f"Vigil alert: {message.title}",
        "body": body,
    }


def send(payload: dict[str, Any], context: SendContext) -> None:
    """Hand the email to the SMTP server."""
    try:
        send_email(
            context.settings,
            to=", ".join(payload["to"]),
            subject=payload["subject"],
            body=payload["body"],
        )
    except Exception as error:
        raise DeliveryFailed(f"email: {describe(error)}") from error
