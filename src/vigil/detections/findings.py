"""What a rule finds, and the small pieces every rule uses to describe it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vigil.detections.rules import Rule, Severity
from vigil.events.tables import EventRow

EVIDENCE_LIMIT = 100


@dataclass(slots=True)
class Finding:
    """Something a rule found: the makings of an alert (or of an update to an open one)."""

    rule: Rule
    subject: str  # what the alert is about: an address, a user, an account
    dedup: str  # with the rule, what keeps one open alert per thing
    severity: Severity
    first_seen: datetime
    last_seen: datetime
    count: int
    evidence: list[uuid.UUID]  # newest first
    summary: str
    # True when ``count`` adds to an open alert's count; False when it is the whole count.
    cumulative: bool = False
    # How many evidence events the alert keeps: a day of someone's off-hours work is
    # shown by its first events, not by every one.
    evidence_limit: int = EVIDENCE_LIMIT
    extra: dict[str, Any] = field(default_factory=dict)


def actor(event: EventRow) -> str | None:
    """Who did it: the user id, else the email."""
    who = event["user_id"] or event["user_email"]
    return str(who) if who else None


def span(first: datetime, last: datetime) -> str:
    """``in 4 minutes``, ``in under a minute``, ``in 2 hours``."""
    seconds = (last - first).total_seconds()
    if seconds < 60:
        return "in under a minute"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    return f"in {round(minutes / 60)} hours"


def details_of(event: Mapping[str, Any]) -> Any:
    raw = event.get("details")
    if not raw:
        return {}
    try:
        return json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError:
        return {}
