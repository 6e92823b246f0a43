"""Ingest bodies decoded fast, with the pydantic models as the authority.

``EventIn`` and ``EventBatchIn`` define what an event is, document it and word every error.
Validating through them costs about 10 µs per event, most of the ingest path's CPU; this
module takes the common case, well-formed events in canonical form, in about a tenth of
that: msgspec decodes the body into typed structs (enums, lengths, unknown fields refused,
in C), and the checks pydantic runs in Python follow here. Whenever this path meets
anything it is not sure of (an error, a timestamp in another form, a number msgspec
cannot hold), it hands the whole body to pydantic, which then accepts it or answers with
its usual error naming the field. So this path can only be faster, never more lenient:
``tests/unit/test_decode.py`` checks it against pydantic on generated bodies.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

from vigil.core.validation import parse_body
from vigil.events.geo import Geolocator
from vigil.events.prepare import PreparedEvent, prepare_event, prepared
from vigil.events.redaction import sanitise_details
from vigil.events.schemas import (
    MAX_BATCH_EVENTS,
    MAX_DETAILS_BYTES,
    MAX_FUTURE_SKEW,
    Action,
    EventBatchIn,
    EventIn,
    ResourceType,
    Status,
    dump_details,
    normalise_email,
    normalise_ip,
)

_Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class _WireEvent(msgspec.Struct, forbid_unknown_fields=True):
    # Plain strings checked against the enums below: cheaper than enum members.
    action: str
    resource_type: str
    id: uuid.UUID | None = None
    resource_id: _Identifier | None = None
    user_id: _Identifier | None = None
    user_email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    timestamp: str | None = None  # parsed below: only the canonical form is taken here
    ip_address: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    details: dict[str, Any] | None = None
    status: str | None = None


class _WireBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[_WireEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH_EVENTS)]


_ACTIONS = frozenset(action.value for action in Action)
_RESOURCE_TYPES = frozenset(kind.value for kind in ResourceType)
_STATUSES = frozenset(status.value for status in Status)
_SUCCESS, _LOGIN_FAILED = Status.SUCCESS.value, Action.LOGIN_FAILED.value
_EVENT = msgspec.json.Decoder(_WireEvent)
_BATCH = msgspec.json.Decoder(_WireBatch)
# RFC 3339 as producers write it: 'T', seconds, up to 6 fractional digits, 'Z' or ±HH:MM.
# Other forms pydantic accepts (lower-case, a space, more digits, which it truncates where
# Python would round) go to pydantic.
_CANONICAL_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)",
    re.ASCII,  # \d is 0-9 only: other scripts' digits are pydantic's to judge
)


class _Unsure(Exception):
    """This path cannot decide; pydantic will."""


def decode_event(body: bytes, *, now: datetime, geo: Geolocator) -> PreparedEvent:
    """One event from a ``POST /audit-logs/`` body, prepared for storage.

    Raises ``InvalidBody`` (422, naming the field) or ``MalformedJSON`` (400) as
    ``parse_body(EventIn, …)`` does.
    """
    try:
        return _prepare(_EVENT.decode(body), now, geo)
    except (msgspec.MsgspecError, _Unsure):
        return prepare_event(parse_body(EventIn, body), now=now, geo=geo)


def decode_batch(body: bytes, *, now: datetime, geo: Geolocator) -> list[PreparedEvent]:
    """The events of a ``POST /audit-logs/batch`` body, prepared, all or none.

    Raises ``InvalidBody`` (422, naming ``events[i].field``) or ``MalformedJSON`` (400) as
    ``parse_body(EventBatchIn, …)`` does.
    """
    try:
        return [_prepare(event, now, geo) for event in _BATCH.decode(body).events]
    except (msgspec.MsgspecError, _Unsure):
        batch = parse_body(EventBatchIn, body)
        return [prepare_event(event, now=now, geo=geo) for event in batch.events]


def _prepare(event: _WireEvent, now: datetime, geo: Geolocator) -> PreparedEvent:
    """The checks ``EventIn`` runs in Python, then the row; ``_Unsure`` at any doubt."""
    if (
        event.action not in _ACTIONS
        or event.resource_type not in _RESOURCE_TYPES
        or (event.status is not None and event.status not in _STATUSES)
        or (event.status == _SUCCESS and event.action == _LOGIN_FAILED)
    ):
        raise _Unsure
    try:
        for text in (event.resource_id, event.user_id, event.user_agent):
            if text is not None and "\x00" in text:
                raise _Unsure
        email = None if event.user_email is None else normalise_email(event.user_email)
        address = None if event.ip_address is None else normalise_ip(event.ip_address)
        details = None if event.details is None else _details_text(event.details)
    except ValueError:
        raise _Unsure from None
    return prepared(
        id=event.id,
        timestamp=None if event.timestamp is None else _timestamp(event.timestamp, now),
        action=event.action,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        user_id=event.user_id,
        user_email=email,
        ip_address=address,
        user_agent=event.user_agent,
        details=details,
        status=event.status,
        now=now,
        geo=geo,
    )


def _timestamp(text: str, now: datetime) -> datetime:
    if not _CANONICAL_TIME.fullmatch(text):
        raise _Unsure
    try:
        moment = datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Unsure from None
    if moment - now > MAX_FUTURE_SKEW:
        raise _Unsure
    return moment


def _details_text(details: dict[str, Any]) -> str:
    sanitise_details(details)  # ValueError: too deep, or not a finite number
    text = dump_details(details)
    if len(text) * 4 > MAX_DETAILS_BYTES and len(text.encode()) > MAX_DETAILS_BYTES:
        raise _Unsure
    return text
