"""Validated events made into rows: id, UTC timestamp, default status, country."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from vigil.core.clock import new_id
from vigil.events.geo import Geolocator
from vigil.events.ip_ranges import ip_key_of
from vigil.events.schemas import Action, EventIn, Status, dump_details
from vigil.events.search_text import event_search_text
from vigil.events.tables import PreparedEventRow

# Plain strings: an enum member's .value is a Python-level property, on the hot path.
_LOGIN_FAILED, _FAILED, _SUCCESS = (
    Action.LOGIN_FAILED.value,
    Status.FAILED.value,
    Status.SUCCESS.value,
)


@dataclass(slots=True)
class PreparedEvent:
    """A validated, enriched event ready to insert (tenant and received_at come at store)."""

    row: PreparedEventRow
    producer_id: bool
    timestamp_given: bool


def prepared(
    *,
    id: uuid.UUID | None,
    timestamp: datetime | None,
    action: str,
    resource_type: str,
    resource_id: str | None,
    user_id: str | None,
    user_email: str | None,
    ip_address: str | None,
    user_agent: str | None,
    details: str | None,
    status: str | None,
    now: datetime,
    geo: Geolocator,
) -> PreparedEvent:
    """The row of an event whose fields are validated and normalised (``action``,
    ``resource_type`` and ``status`` as the enums' values, ``timestamp`` in UTC, ``details``
    as its stored JSON text): an id unless the producer chose one, ``now`` for a missing
    timestamp, the status (a ``LOGIN_FAILED`` is ``FAILED``), the country, the text
    free-text search looks in."""
    if status is None:
        status = _FAILED if action == _LOGIN_FAILED else _SUCCESS
    row: PreparedEventRow = {
        "id": id or new_id(),
        "timestamp": timestamp or now,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "user_id": user_id,
        "user_email": user_email,
        "ip_address": ip_address,
        "ip_key": ip_key_of(ip_address) if ip_address else None,
        "user_agent": user_agent,
        "details": details,
        "status": status,
        "country": geo.country_of(ip_address) if ip_address else None,
        "search_text": event_search_text(
            user_email=user_email,
            user_id=user_id,
            resource_id=resource_id,
            user_agent=user_agent,
            details=details,
        ),
    }
    return PreparedEvent(row=row, producer_id=id is not None, timestamp_given=timestamp is not None)


def prepare_event(
    event: EventIn, *, now: datetime, geo: Geolocator, details_text: str | None = None
) -> PreparedEvent:
    """The row of an event ``EventIn`` validated (its timestamp already in UTC);
    ``details_text``, when given, is stored instead of the JSON text of ``event.details``
    (``events.decode`` gives the details as the producer wrote them)."""
    if details_text is None and event.details is not None:
        details_text = dump_details(event.details)
    return prepared(
        id=event.id,
        timestamp=event.timestamp,
        action=event.action.value,
        resource_type=event.resource_type.value,
        resource_id=event.resource_id,
        user_id=event.user_id,
        user_email=event.user_email,
        ip_address=event.ip_address,
        user_agent=event.user_agent,
        details=details_text,
        status=None if event.status is None else event.status.value,
        now=now,
        geo=geo,
    )
