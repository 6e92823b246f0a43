"""Activity outside the organisation's working hours: at most one open alert per person and
day, in the tenant's own time zone."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from vigil.detections.findings import Finding, actor
from vigil.detections.rules import Rule
from vigil.events.tables import EventRow
from vigil.tenants.tables import TenantRow

# A day of someone's off-hours work is shown by its first events, not by every one.
OFF_HOURS_EVIDENCE = 20


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """When the organisation works, in its own time zone."""

    zone: ZoneInfo
    days: frozenset[int]  # Monday = 0
    start_minute: int
    end_minute: int

    @classmethod
    def of_tenant(cls, tenant: TenantRow) -> WorkingHours:
        """From the tenant's ``timezone`` and ``working_hours`` settings."""
        hours = json.loads(tenant["working_hours"])
        return cls(
            zone=ZoneInfo(tenant["timezone"]),
            days=frozenset(hours["days"]),
            start_minute=_minutes(hours["start"]),
            end_minute=_minutes(hours["end"]),
        )

    def includes(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in working hours."""
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start_minute <= minute < self.end_minute


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def off_hours(
    conn: Connection, *, tenant: TenantRow, rule: Rule, live: list[EventRow]
) -> list[Finding]:
    """Fires once per person and local day on activity outside the tenant's working hours,
    in its own time zone; the day's later events add to that alert.

    Reads every new event that names an actor, and the tenant's ``working_hours`` and
    ``timezone``; no stored events.
    """
    hours = WorkingHours.of_tenant(tenant)
    outside: dict[tuple[str, str], list[EventRow]] = defaultdict(list)
    for event in live:
        who = actor(event)
        if who and not hours.includes(event["timestamp"]):
            day = event["timestamp"].astimezone(hours.zone).date().isoformat()
            outside[(who, day)].append(event)
    found = []
    for (who, day), happened in outside.items():
        label = next((e["user_email"] for e in happened if e["user_email"]), who)
        first, last = happened[0]["timestamp"], happened[-1]["timestamp"]
        local = first.astimezone(hours.zone).strftime("%a %H:%M")
        found.append(
            Finding(
                rule=rule,
                subject=label,
                dedup=f"{who}|{day}",
                severity=rule.severity,
                first_seen=first,
                last_seen=last,
                count=len(happened),
                evidence=[e["id"] for e in reversed(happened)],
                summary=f"{label} active outside working hours on {day} (from {local}, "
                f"{hours.zone.key})",
                cumulative=True,
                evidence_limit=OFF_HOURS_EVIDENCE,
            )
        )
    return found
