"""Sending email through the configured SMTP server."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from vigil.settings import Settings

log = logging.getLogger(__name__)


class EmailNotConfigured(RuntimeError):
    """VIGIL_SMTP_HOST is not set."""


def send_email(settings: Settings, *, to: str, subject: str, body: str) -> None:
    """Send a plain-text email; raises on failure (the caller decides what that means)."""
    if not settings.email_configured:
        raise EmailNotConfigured("email is not configured: set VIGIL_SMTP_HOST")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)
    log.info("sent %r to %s", subject, to)
