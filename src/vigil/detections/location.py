"""A sign-in from a country the user has not signed in from lately, or a change of country
faster than anyone travels."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection

from vigil.detections.findings import Finding
from vigil.detections.rules import Rule, Severity
from vigil.events.schemas import Action, Status
from vigil.events.tables import EventRow
from vigil.events.windows import recent_sign_ins
from vigil.tenants.tables import TenantRow

LOCATION_HISTORY = timedelta(days=90)
FAST_TRAVEL = timedelta(hours=1)


def unexpected_location(
    conn: Connection, *, tenant: TenantRow, rule: Rule, live: list[EventRow]
) -> list[Finding]:
    """Fires on a successful sign-in from a country the user has not signed in from in the
    90 days before it, or from another country within an hour of their previous sign-in (then
    HIGH at least: faster than anyone travels).

    Reads the new successful LOGIN events that name a user id and a country; for each, from
    the stored events, that user's successful sign-ins with a country in the 90 days before
    it (the newest 1,000). A user with no such history raises nothing.
    """
    tenant_id = tenant["id"]
    found = []
    for event in live:
        if not (
            event["action"] == Action.LOGIN
            and event["status"] == Status.SUCCESS
            and event["user_id"]
            and event["country"]
        ):
            continue
        history = recent_sign_ins(
            conn,
            tenant_id=tenant_id,
            user_id=event["user_id"],
            since=event["timestamp"] - LOCATION_HISTORY,
            before=event["timestamp"],
        )
        if not history:
            continue  # no history, nothing to compare with
        countries = {country for country, _when in history}
        previous_country, previous_at = history[0]
        who = event["user_email"] or event["user_id"]
        here = event["country"]
        if previous_country != here and event["timestamp"] - previous_at <= FAST_TRAVEL:
            minutes = max(1, round((event["timestamp"] - previous_at).total_seconds() / 60))
            severity = max(rule.severity, Severity.HIGH, key=lambda s: s.rank)
            summary = (
                f"Sign-in by {who} from {here} {minutes} minutes after one from {previous_country}"
            )
        elif here not in countries:
            severity = rule.severity
            usual = ", ".join(sorted(countries))
            summary = f"Sign-in by {who} from {here}, not seen in 90 days (usually {usual})"
        else:
            continue
        found.append(
            Finding(
                rule=rule,
                subject=who,
                dedup=event["user_id"],
                severity=severity,
                first_seen=event["timestamp"],
                last_seen=event["timestamp"],
                count=1,
                evidence=[event["id"]],
                summary=summary,
                cumulative=True,
            )
        )
    return found
