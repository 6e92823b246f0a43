"""Events as clients see them: JSON objects with UTC ``Z`` times and details as stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from vigil.events.tables import EventRow

# The order of fields in every JSON answer and export.
PUBLIC_FIELDS = (
    "id",
    "timestamp",
    "action",
    "status",
    "resource_type",
    "resource_id",
    "user_id",
    "user_email",
    "ip_address",
    "user_agent",
    "country",
    "details",
    "received_at",
)


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z``: ``2025-01-15T14:30:00.000000Z``."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def event_json(row: EventRow) -> dict[str, Any]:
    """A stored row as the API returns it (tenant never shown; details not re-parsed)."""
    details = row["details"]
    return {
        "id": row["id"],
        "timestamp": format_time(row["timestamp"]),
        "action": row["action"],
        "status": row["status"],
        "resource_type": row["resource_type"],
        "resource_id": row["resource_id"],
        "user_id": row["user_id"],
        "user_email": row["user_email"],
        "ip_address": row["ip_address"],
        "user_agent": row["user_agent"],
        "country": row["country"],
        "details": None if details is None else orjson.Fragment(details),
        "received_at": format_time(row["received_at"]),
    }
