"""The event's vocabulary and the shapes it takes on the wire (DESIGN §1)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from vigil.core.clock import utcnow
from vigil.events.redaction import sanitise_details


def dump_details(details: dict[str, Any]) -> str:
    """Compact JSON text of ``details``, keys in the order the producer sent them, number
    tokens (``orjson.Fragment``) as written; raises ``ValueError`` for an integer of more
    than 4300 digits (Python's limit on converting one to text)."""
    try:
        return orjson.dumps(details).decode()
    except TypeError:  # integers beyond 64 bits: slower, but stored exactly
        return orjson.dumps(_big_integers_as_tokens(details)).decode()


def details_text(details: dict[str, Any]) -> str:
    """``dump_details``, refusing (``ValueError``) a text over 64 KiB in UTF-8."""
    text = dump_details(details)
    # A character is at most 4 bytes in UTF-8: only long texts need encoding to measure.
    if len(text) * 4 > MAX_DETAILS_BYTES and len(text.encode()) > MAX_DETAILS_BYTES:
        raise ValueError("larger than 64 KiB once serialised")
    return text


def _big_integers_as_tokens(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _big_integers_as_tokens(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_big_integers_as_tokens(value) for value in node]
    if type(node) is int and not -(2**63) <= node < 2**64:
        return orjson.Fragment(str(node))
    return node


class Action(StrEnum):
    """What was done."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    LOGIN = "LOGIN"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGOUT = "LOGOUT"
    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105 (an action name, not a password)
    EXPORT = "EXPORT"


class ResourceType(StrEnum):
    """What it was done to."""

    USER = "USER"
    PROJECT = "PROJECT"
    MODEL = "MODEL"
    ENDPOINT = "ENDPOINT"
    CLUSTER = "CLUSTER"
    BENCHMARK = "BENCHMARK"
    SETTINGS = "SETTINGS"
    API_KEY = "API_KEY"
    AUDIT_LOG = "AUDIT_LOG"
    ALERT = "ALERT"
    ALERT_RULE = "ALERT_RULE"


class Status(StrEnum):
    """Whether it worked."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_BATCH_EVENTS = 1000
MAX_DETAILS_BYTES = 64 * 1024
# Validation context key: the caller reads ``details`` exactly itself (``events.decode``).
EXACT_DETAILS = "exact_details"
# Printable, no spaces: control characters (NUL above all) never reach storage.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,255}")


@lru_cache(maxsize=65536)
def normalise_email(value: str) -> str:
    """The email with surrounding whitespace trimmed, lower-cased: the one rule for ingest,
    list filters, sign-in and accounts; rejects anything without exactly one ``@`` between
    two parts, or with whitespace or control characters inside."""
    value = value.strip()
    if not _EMAIL.fullmatch(value):
        raise ValueError("not a valid email address")
    return value.lower()


@lru_cache(maxsize=65536)  # producers send the same few addresses again and again
def normalise_ip(value: str) -> str:
    """The canonical text of an IPv4 or IPv6 address; IPv4-mapped IPv6 becomes IPv4."""
    if "%" in value:  # an IPv6 zone ("fe80::1%eth0") names a local interface, not a host
        raise ValueError("not a valid IPv4 or IPv6 address (zone ids are not accepted)")
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError("not a valid IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def utc_not_in_future(value: datetime) -> datetime:
    """The instant in UTC; refuses one more than five minutes ahead of the server's clock."""
    try:
        # Converted once here: pydantic's own tzinfo makes every later datetime sum slow.
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if value - utcnow() > MAX_FUTURE_SKEW:
        raise ValueError("is more than 5 minutes in the future")
    return value


def no_nul(value: str) -> str:
    """Refuse NUL characters, which PostgreSQL cannot store in text."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Identifier = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(no_nul)]
Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(normalise_email)]
IPAddress = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(normalise_ip),
    WithJsonSchema(
        {"type": "string", "maxLength": 64, "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
    ),
]


class EventIn(BaseModel):
    """One event as a producer sends it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "action": "CREATE",
                "resource_type": "PROJECT",
                "resource_id": "project-abc-123",
                "user_id": "user-def-456",
                "user_email": "alice@company.com",
                "timestamp": "2025-01-15T14:30:00Z",
                "ip_address": "192.168.1.100",
                "details": {"project_name": "My AI Project"},
            }
        },
    )

    id: uuid.UUID | None = Field(
        default=None, description="Producer-chosen id, making retries idempotent."
    )
    action: Action
    resource_type: ResourceType
    resource_id: Identifier | None = None
    user_id: Identifier | None = Field(default=None, description="The actor; null for the system.")
    user_email: Email | None = None
    timestamp: Annotated[AwareDatetime, Strict(), AfterValidator(utc_not_in_future)] | None = Field(
        default=None, description="When it happened, with a UTC offset; defaults to now."
    )
    ip_address: IPAddress | None = None
    user_agent: (
        Annotated[str, StringConstraints(max_length=1024), AfterValidator(no_nul)] | None
    ) = None
    details: dict[str, Any] | None = None
    status: Status | None = None

    @field_validator("details")
    @classmethod
    def _check_details(
        cls, value: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        if value is None:
            return value
        if info.context and info.context.get(EXACT_DETAILS):
            # Numbers here are binary floats: the caller redacts and measures the exact
            # details it read itself (``events.decode``); depth and finiteness are the same.
            sanitise_details(value, scan_values=False)
        else:
            sanitise_details(value)
            details_text(value)
        return value

    @field_validator("status")
    @classmethod
    def _check_status(cls, value: Status | None, info: ValidationInfo) -> Status | None:
        if value is Status.SUCCESS and info.data.get("action") is Action.LOGIN_FAILED:
            raise ValueError("a LOGIN_FAILED event is always FAILED")
        return value


class EventBatchIn(BaseModel):
    """Up to 1000 events, stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)


class EventOut(BaseModel):
    """An event as Vigil stored it."""

    id: uuid.UUID
    action: Action
    resource_type: ResourceType
    resource_id: str | None
    user_id: str | None
    user_email: str | None
    timestamp: datetime
    ip_address: str | None
    user_agent: str | None
    details: dict[str, Any] | None
    status: Status
    received_at: datetime
    country: str | None = Field(description="ISO country code of ip_address, when known.")


class EventPage(BaseModel):
    """A page of events, newest first."""

    items: list[EventOut]
    total: int | None = Field(
        description=(
            "How many events match; null with include_total=false. Exact at any size when "
            "the search index answers every filter; otherwise a search (`q`) counts up to "
            "10,000: above that, `total` is 10000 and `total_exact` false."
        )
    )
    total_exact: bool = Field(
        description="false when `total` is a lower bound: at least that many events match"
    )
    limit: int
    offset: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class BatchResult(BaseModel):
    """What a batch ingest did."""

    ingested: int
    duplicates: int
    ids: list[uuid.UUID]
