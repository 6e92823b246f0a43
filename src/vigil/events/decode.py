"""Ingest bodies decoded fast, with the pydantic models as the authority.

``EventIn`` and ``EventBatchIn`` define what an event is, document it and word every error.
Validating through them costs about 10 µs per event, most of the ingest path's CPU; this
module takes the common case, well-formed events in canonical form, in about a tenth of
that: msgspec decodes the body into typed structs (enums, lengths, unknown fields refused,
in C), and the checks pydantic runs in Python follow here. Whenever this path meets
anything it is not sure of (an error, a timestamp in another form, a number msgspec
cannot hold, a key that may be repeated), it hands the whole body to the exact path:
pydantic, which accepts it or answers with its usual error naming the field, and
``events.exact``, which refuses a repeated key and keeps ``details``' number tokens as
written. So this path can only be faster, never more lenient: ``tests/unit/test_decode.py``
checks it against the exact path on generated bodies.

Keeping numbers exact costs this path nothing: msgspec hands each float token to
``number_token`` as text. Repeated keys it cannot see (msgspec keeps the last value), so it
counts: every member of every object in the body has one ``:`` after its key, and every
other ``:`` sits inside a string. When the body's colons are exactly the members decoded
plus the colons inside the decoded strings, no member was lost to a repeat; when they are
not (a repeat, or just a redacted value that held one), the exact path decides. (A ``:``
written as ``\u003a`` would upset the count, so such a body goes there too.)
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from vigil.core.validation import InvalidBody, parse_body
from vigil.events.exact import load_exact, number_token
from vigil.events.geo import Geolocator
from vigil.events.prepare import PreparedEvent, prepare_event, prepared
from vigil.events.redaction import SECRET_HINT, sanitise_details
from vigil.events.schemas import (
    EXACT_DETAILS,
    MAX_BATCH_EVENTS,
    MAX_FUTURE_SKEW,
    Action,
    EventBatchIn,
    EventIn,
    ResourceType,
    Status,
    details_text,
    normalise_email,
    normalise_ip,
)

_Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class _WireEvent(msgspec.Struct, forbid_unknown_fields=True):
    # Plain strings checked against the enums below: cheaper than enum members. UNSET
    # tells an absent field from a null one, whose key the colon count must include.
    action: str
    resource_type: str
    id: uuid.UUID | UnsetType | None = UNSET
    resource_id: _Identifier | UnsetType | None = UNSET
    user_id: _Identifier | UnsetType | None = UNSET
    user_email: Annotated[str, msgspec.Meta(max_length=320)] | UnsetType | None = UNSET
    timestamp: str | UnsetType | None = UNSET  # only the canonical form is taken here
    ip_address: Annotated[str, msgspec.Meta(max_length=64)] | UnsetType | None = UNSET
    user_agent: Annotated[str, msgspec.Meta(max_length=1024)] | UnsetType | None = UNSET
    details: dict[str, Any] | UnsetType | None = UNSET
    status: str | UnsetType | None = UNSET


class _WireBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[_WireEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH_EVENTS)]


_ACTIONS = frozenset(action.value for action in Action)
_RESOURCE_TYPES = frozenset(kind.value for kind in ResourceType)
_STATUSES = frozenset(status.value for status in Status)
_SUCCESS, _LOGIN_FAILED = Status.SUCCESS.value, Action.LOGIN_FAILED.value
_EVENT = msgspec.json.Decoder(_WireEvent, float_hook=number_token)
_BATCH = msgspec.json.Decoder(_WireBatch, float_hook=number_token)
_FIELDS = len(_WireEvent.__struct_fields__)
# msgspec reads the integer -0 as 0, which would be written back as 0. As a JSON value it
# ends where a value ends; a date's or a UUID's "-0" is followed by a digit or a letter.
_NEGATIVE_ZERO = re.compile(rb"-0[\s,\]}]")
_EXACT = {EXACT_DETAILS: True}
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

    Raises ``InvalidBody`` (422, naming the field or the repeated key) or ``MalformedJSON``
    (400) as ``parse_body(EventIn, …)`` does.
    """
    try:
        return _fast(body, [_EVENT.decode(body)], now, geo, wrapper_keys=0)[0]
    except (msgspec.MsgspecError, _Unsure):
        return decode_event_exactly(body, now=now, geo=geo)


def decode_batch(body: bytes, *, now: datetime, geo: Geolocator) -> list[PreparedEvent]:
    """The events of a ``POST /audit-logs/batch`` body, prepared, all or none.

    Raises ``InvalidBody`` (422, naming ``events[i].field`` or the repeated key) or
    ``MalformedJSON`` (400) as ``parse_body(EventBatchIn, …)`` does.
    """
    try:
        return _fast(body, _BATCH.decode(body).events, now, geo, wrapper_keys=1)
    except (msgspec.MsgspecError, _Unsure):
        return decode_batch_exactly(body, now=now, geo=geo)


def decode_event_exactly(body: bytes, *, now: datetime, geo: Geolocator) -> PreparedEvent:
    """``decode_event`` by the exact path alone: pydantic's ``EventIn`` judges the body,
    ``load_exact`` refuses a repeated key and gives the details as written."""
    event = parse_body(EventIn, body, context=_EXACT)
    tree = _exact_tree(body)
    return _exact_prepared(event, tree.get("details"), "details", now, geo)


def decode_batch_exactly(body: bytes, *, now: datetime, geo: Geolocator) -> list[PreparedEvent]:
    """``decode_batch`` by the exact path alone (see ``decode_event_exactly``)."""
    batch = parse_body(EventBatchIn, body, context=_EXACT)
    exact = _exact_tree(body)["events"]
    return [
        _exact_prepared(event, exact[i].get("details"), f"events[{i}].details", now, geo)
        for i, event in enumerate(batch.events)
    ]


def _fast(
    body: bytes, events: list[_WireEvent], now: datetime, geo: Geolocator, *, wrapper_keys: int
) -> list[PreparedEvent]:
    if b"\\" in body and (b"\\u003a" in body or b"\\u003A" in body):  # memchr first
        raise _Unsure
    if _NEGATIVE_ZERO.search(body):
        raise _Unsure
    rows = []
    colons = wrapper_keys
    for event in events:
        row, event_colons = _prepare(event, now, geo)
        rows.append(row)
        colons += event_colons
    if body.count(b":") != colons:
        raise _Unsure
    return rows


def _exact_tree(body: bytes) -> dict[str, Any]:
    """The body read by ``load_exact`` once pydantic has accepted it."""
    tree = load_exact(body)
    if not isinstance(tree, dict):  # pydantic read what Python's parser cannot: refuse it
        raise InvalidBody([{"field": "body", "message": "is not JSON that can be read exactly"}])
    return tree


def _exact_prepared(
    event: EventIn, details: dict[str, Any] | None, field: str, now: datetime, geo: Geolocator
) -> PreparedEvent:
    """The row of ``event`` with its details as ``load_exact`` read them (so as written)."""
    text = None
    if details is not None:
        try:
            text = details_text(sanitise_details(details))
        except ValueError as error:
            raise InvalidBody([{"field": field, "message": str(error)}]) from None
    return prepare_event(event, now=now, geo=geo, details_text=text)


def _prepare(event: _WireEvent, now: datetime, geo: Geolocator) -> tuple[PreparedEvent, int]:
    """The checks ``EventIn`` runs in Python, then the row and the colons it accounts
    for (its members, and those inside its strings); ``_Unsure`` at any doubt."""
    action, resource_type = event.action, event.resource_type
    id_, resource_id, user_id = event.id, event.resource_id, event.user_id
    user_email, timestamp, ip_address = event.user_email, event.timestamp, event.ip_address
    user_agent, details, status = event.user_agent, event.details, event.status
    # Members: every field given, null or not (identity tests: cheaper than tuple.count).
    colons = _FIELDS - (
        (id_ is UNSET) + (resource_id is UNSET) + (user_id is UNSET) + (user_email is UNSET)
        + (timestamp is UNSET) + (ip_address is UNSET) + (user_agent is UNSET)
        + (details is UNSET) + (status is UNSET)
    )  # fmt: skip
    id_ = None if id_ is UNSET else id_
    resource_id = None if resource_id is UNSET else resource_id
    user_id = None if user_id is UNSET else user_id
    user_email = None if user_email is UNSET else user_email
    timestamp = None if timestamp is UNSET else timestamp
    ip_address = None if ip_address is UNSET else ip_address
    user_agent = None if user_agent is UNSET else user_agent
    details = None if details is UNSET else details
    status = None if status is UNSET else status
    if (
        action not in _ACTIONS
        or resource_type not in _RESOURCE_TYPES
        or (status is not None and status not in _STATUSES)
        or (status == _SUCCESS and action == _LOGIN_FAILED)
    ):
        raise _Unsure
    # One count over the strings side by side (None has no colon): cheaper than six.
    colons += f"{resource_id}{user_id}{user_agent}{user_email}{ip_address}{timestamp}".count(":")
    try:
        for text in (resource_id, user_id, user_agent):
            if text is not None and "\x00" in text:
                raise _Unsure
        email = None if user_email is None else normalise_email(user_email)
        address = None if ip_address is None else normalise_ip(ip_address)
        text = None
        if details is not None:
            text = _details_text(details)
            colons += text.count(":")
    except ValueError:
        raise _Unsure from None
    moment = None if timestamp is None else _timestamp(timestamp, now)
    row = prepared(
        id=id_,
        timestamp=moment,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        user_id=user_id,
        user_email=email,
        ip_address=address,
        user_agent=user_agent,
        details=text,
        status=status,
        now=now,
        geo=geo,
    )
    return row, colons


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
    """Key names redacted; values scanned only when the text holds a ``SECRET_HINT``.
    ``ValueError``: too deep, a number not finite, too large once serialised."""
    sanitise_details(details, scan_values=False)
    text = details_text(details)
    if SECRET_HINT.search(text):
        text = details_text(sanitise_details(details))
    return text
