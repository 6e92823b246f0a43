"""What a notification channel is: its name, the message it is given, and the protocol it keeps.

A channel is delivered one of two ways. An *outbox* channel (email, Slack) renders the alert
into a payload that is stored in the outbox in the alert's own transaction; the deliverer
sends it later and retries until it goes, so nothing is lost while the far end is down. An
*immediate* channel (in-app) has nothing to send: it writes its rows in the alert's
transaction, and they commit with the alert or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, TypedDict

import httpx
from sqlalchemy import Connection

from vigil.detections.tables import AlertRow
from vigil.settings import Settings


class ChannelName(StrEnum):
    """Where notifications go; a rule may name the ones it uses."""

    EMAIL = "email"
    SLACK = "slack"
    IN_APP = "in_app"


class Delivery(StrEnum):
    """How a channel's notifications leave the alert's transaction."""

    OUTBOX = "outbox"  # a payload stored now, sent by the deliverer, retried with backoff
    IMMEDIATE = "immediate"  # rows written now, nothing left to send


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """Where a tenant's alerts go (the Slack URL in clear, only in memory)."""

    email_enabled: bool = False
    email_recipients: tuple[str, ...] = ()
    slack_enabled: bool = False
    slack_webhook_url: str | None = field(default=None, repr=False)  # a credential
    in_app_enabled: bool = True


class SampleAlert(TypedDict):
    """What a test message says it is about: no alert, so no id."""

    id: None
    rule: str
    severity: str
    subject: str
    summary: str
    count: int


@dataclass(frozen=True, slots=True)
class Message:
    """An alert told to people: a title, lines, and where to look."""

    alert_id: uuid.UUID | None  # None for a test message
    title: str
    severity: str
    rule: str
    subject: str
    count: int
    summary: str
    link: str

    @classmethod
    def of(cls, alert: AlertRow | SampleAlert, link: str) -> Message:
        """The message for an alert (or for the sample a test sends)."""
        # One line: event data in a summary may hold line breaks, which no mail header takes.
        title = " ".join(f"[{alert['severity']}] {alert['rule']}: {alert['summary']}".split())
        return cls(
            alert_id=alert["id"],
            title=title,
            severity=alert["severity"],
            rule=alert["rule"],
            subject=alert["subject"],
            count=alert["count"],
            summary=alert["summary"],
            link=link,
        )


@dataclass(frozen=True, slots=True)
class SendContext:
    """What an outbox channel may use to send a payload."""

    settings: Settings  # the server's own (SMTP)
    http: httpx.Client  # shared by every send of the deliverer; follows no redirects
    chosen: ChannelSettings  # the tenant's, read when the payload is sent


class DeliveryFailed(Exception):
    """A channel refused or could not be reached; the message says why, without secrets."""


class Channel(Protocol):
    """What every channel declares."""

    @property
    def name(self) -> ChannelName:
        """The channel's name, which is also its key in the registry."""
        ...

    @property
    def delivery(self) -> Delivery:
        """Through the outbox, or written at once."""
        ...

    def is_on(self, chosen: ChannelSettings) -> bool:
        """Whether the tenant's settings turn the channel on (and make it usable)."""
        ...


class OutboxChannel(Channel, Protocol):
    """A channel whose payload is stored in the outbox and sent by the deliverer."""

    @property
    def delivery(self) -> Literal[Delivery.OUTBOX]:
        """Through the outbox."""
        ...

    def render(self, message: Message, chosen: ChannelSettings) -> dict[str, Any]:
        """The payload to store: JSON, and no secrets (the outbox is not sealed)."""
        ...

    def send(self, payload: dict[str, Any], context: SendContext) -> None:
        """Send a stored payload now; raises ``DeliveryFailed`` saying why not."""
        ...


class ImmediateChannel(Channel, Protocol):
    """A channel written in the alert's transaction, with nothing to send afterwards."""

    @property
    def delivery(self) -> Literal[Delivery.IMMEDIATE]:
        """Written at once."""
        ...

    def write(
        self, conn: Connection, *, tenant_id: uuid.UUID, message: Message, now: datetime
    ) -> None:
        """Write the message in the caller's transaction."""
        ...


AnyChannel = OutboxChannel | ImmediateChannel


def describe(error: BaseException) -> str:
    """An exception as a line for ``last_error``: its type, and its text when it has one."""
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text
