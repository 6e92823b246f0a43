"""What the rules find in newly committed events.

Windows and histories are read from the database, never kept in memory, so several nodes
looking at each other's events agree (DESIGN §6).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, distinct, func, select

from vigil.core.clock import from_micros
from vigil.core.permissions import ROLE_RANK, Role
from vigil.detections.rules import Kind, Rule, Severity
from vigil.events.filters import EventFilters
from vigil.events.schemas import Action, ResourceType, Status
from vigil.events.service import match
from vigil.events.tables import events

log = logging.getLogger(__name__)

EVIDENCE_LIMIT = 100
# Events this much older than their arrival are history being loaded, not activity
# happening now: they are stored and searchable, but raise no alert.
LIVE_WINDOW = timedelta(hours=24)
OFF_HOURS_EVIDENCE = 20
LOCATION_HISTORY = timedelta(days=90)
FAST_TRAVEL = timedelta(hours=1)

Event = dict[str, Any]


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


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """When the organisation works, in its own time zone."""

    zone: ZoneInfo
    days: frozenset[int]  # Monday = 0
    start_minute: int
    end_minute: int

    @classmethod
    def of_tenant(cls, tenant: dict[str, Any]) -> WorkingHours:
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


def detect(
    conn: Connection,
    *,
    tenant: dict[str, Any],
    rules: Iterable[Rule],
    new_events: list[Event],
    now: datetime,
) -> list[Finding]:
    """Every finding of the enabled ``rules`` in ``new_events`` (just committed)."""
    live = sorted(
        (e for e in new_events if e["timestamp"] >= now - LIVE_WINDOW),
        key=lambda e: (e["timestamp"], e["id"]),
    )
    if not live:
        return []
    findings: list[Finding] = []
    for rule in rules:
        if not rule.enabled:
            continue
        try:
            findings += _apply(conn, tenant, rule, live)
        except Exception:  # one rule's trouble (odd data, say) must not silence the others
            log.exception("rule %s failed for tenant %s", rule.name, tenant["id"])
    return findings


def _apply(
    conn: Connection, tenant: dict[str, Any], rule: Rule, live: list[Event]
) -> list[Finding]:
    if rule.kind is Kind.THRESHOLD:
        return _threshold(conn, tenant["id"], rule, live)
    if rule.kind is Kind.DISTRIBUTED_BRUTE_FORCE:
        return _distributed(conn, tenant["id"], rule, live)
    if rule.kind is Kind.UNEXPECTED_LOCATION:
        return _unexpected_location(conn, tenant["id"], rule, live)
    if rule.kind is Kind.OFF_HOURS:
        return _off_hours(rule, WorkingHours.of_tenant(tenant), live)
    return _privilege_escalation(rule, live)


# --- threshold rules: N matching events in a window, per address, per user, or overall ---


def _matches(rule: Rule, event: Event) -> bool:
    wanted = rule.filter
    if wanted.action and event["action"] not in wanted.action:
        return False
    if wanted.resource_type and event["resource_type"] not in wanted.resource_type:
        return False
    if wanted.status is not None and event["status"] != wanted.status:
        return False
    if wanted.user and wanted.user not in (event["user_id"], event["user_email"]):
        return False
    return not (wanted.ip_address and event["ip_address"] != wanted.ip_address)


def actor(event: Event) -> str | None:
    """Who did it: the user id, else the email."""
    who = event["user_id"] or event["user_email"]
    return str(who) if who else None


def _subject(rule: Rule, event: Event) -> str | None:
    if rule.group_by == "ip":
        return str(event["ip_address"]) if event["ip_address"] else None
    if rule.group_by == "user":
        return actor(event)
    return "everyone"


def _window_filters(
    rule: Rule, subject: str, by_email: bool, start: datetime, end: datetime
) -> EventFilters:
    """``by_email``: a user subject is an email (the events named no user id)."""
    wanted = rule.filter
    by_ip = subject if rule.group_by == "ip" else wanted.ip_address
    user_id = subject if rule.group_by == "user" and not by_email else None
    user_email = subject if rule.group_by == "user" and by_email else None
    if rule.group_by != "user" and wanted.user:  # the filter's own user, id or email
        user_id, user_email = (None, wanted.user) if "@" in wanted.user else (wanted.user, None)
    return EventFilters(
        actions=tuple(wanted.action),
        resource_types=tuple(wanted.resource_type),
        status=wanted.status,
        ip_address=by_ip,
        user_email=user_email,
        user_id=user_id,
        start=start,
        end=end + timedelta(microseconds=1),  # the newest event itself is in the window
    )


def _threshold(
    conn: Connection, tenant_id: uuid.UUID, rule: Rule, live: list[Event]
) -> list[Finding]:
    newest: dict[str, datetime] = {}
    by_email: dict[str, bool] = {}
    for event in live:
        subject = _subject(rule, event) if _matches(rule, event) else None
        if subject is not None:
            newest[subject] = max(newest.get(subject, event["timestamp"]), event["timestamp"])
            by_email[subject] = not event["user_id"]
    window = timedelta(minutes=rule.window_minutes)
    found = []
    for subject in _possible(conn, tenant_id, rule, newest, by_email, window):
        last = newest[subject]
        where = match(
            conn,
            tenant_id=tenant_id,
            filters=_window_filters(rule, subject, by_email[subject], last - window, last),
        )
        count, first = conn.execute(
            select(func.count(), func.min(events.c.timestamp)).select_from(events).where(*where)
        ).one()
        if count < rule.threshold:
            continue
        first = as_time(first)
        evidence = _evidence(conn, where)
        if rule.group_by == "user":  # people are named by their email where events give it
            subject_label = next((r["user_email"] for r in evidence if r["user_email"]), subject)
        else:
            subject_label = subject
        found.append(
            Finding(
                rule=rule,
                subject=subject_label,
                dedup=subject,
                severity=rule.severity,
                first_seen=first,
                last_seen=last,
                count=count,
                evidence=[row["id"] for row in evidence],
                summary=_threshold_summary(rule, subject_label, count, first, last, evidence),
            )
        )
    return found


def _possible(
    conn: Connection,
    tenant_id: uuid.UUID,
    rule: Rule,
    newest: dict[str, datetime],
    by_email: dict[str, bool],
    window: timedelta,
) -> list[str]:
    """The subjects that may reach the threshold, found with one grouped count per column.

    Each subject's own window lies inside the span from the earliest window start to the
    newest event, so a subject counting fewer than the threshold there cannot reach it in
    its own window: only the others need an exact count.
    """
    if rule.group_by == "none" or len(newest) <= 3:
        return list(newest)
    start, end = min(newest.values()) - window, max(newest.values())
    columns = {"ip": ["ip_address"], "user": ["user_id", "user_email"]}[rule.group_by]
    possible: list[str] = []
    for name in columns:
        wanted = [
            subject
            for subject in newest
            if rule.group_by == "ip" or by_email[subject] == (name == "user_email")
        ]
        column = events.c[name]
        for offset in range(0, len(wanted), 500):
            chunk = wanted[offset : offset + 500]
            # The subject column holds a placeholder here, dropped for the IN below.
            filters = _window_filters(rule, "", name == "user_email", start, end)
            where = [
                clause
                for clause in match(conn, tenant_id=tenant_id, filters=filters)
                if not _mentions(clause, name)
            ]
            counted = conn.execute(
                select(column, func.count())
                .where(*where, column.in_(chunk))
                .group_by(column)
                .having(func.count() >= rule.threshold)
            ).all()
            possible += [str(value) for value, _count in counted]
    return possible


def _mentions(clause: Any, column: str) -> bool:
    """Whether a WHERE clause is on ``column`` (the grouping column, matched by IN instead)."""
    left = getattr(clause, "left", None)
    return getattr(left, "name", None) == column


def as_time(value: Any) -> datetime:
    """A timestamp from an aggregate, which skips the column type (SQLite gives micros)."""
    return value if isinstance(value, datetime) else from_micros(int(value))


def _evidence(conn: Connection, where: list[Any]) -> list[dict[str, Any]]:
    query = (
        select(events.c.id, events.c.user_id, events.c.user_email, events.c.details)
        .where(*where)
        .order_by(events.c.timestamp.desc(), events.c.id.desc())
        .limit(EVIDENCE_LIMIT)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


NOUNS = {
    Action.LOGIN_FAILED: "failed logins",
    Action.LOGIN: "sign-ins",
    Action.LOGOUT: "sign-outs",
    Action.DELETE: "deletions",
    Action.CREATE: "creations",
    Action.UPDATE: "changes",
    Action.EXPORT: "exports",
    Action.PASSWORD_RESET: "password resets",
}


def span(first: datetime, last: datetime) -> str:
    """``in 4 minutes``, ``in under a minute``, ``in 2 hours``."""
    seconds = (last - first).total_seconds()
    if seconds < 60:
        return "in under a minute"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    return f"in {round(minutes / 60)} hours"


def _threshold_summary(
    rule: Rule,
    subject: str,
    count: int,
    first: datetime,
    last: datetime,
    evidence: list[dict[str, Any]],
) -> str:
    actions = rule.filter.action
    what = NOUNS.get(actions[0], "matching actions") if len(actions) == 1 else "matching actions"
    where = {"ip": f" from {subject}", "user": f" by {subject}", "none": ""}[rule.group_by]
    text = f"{count} {what}{where} {span(first, last)}"
    if actions == [Action.LOGIN_FAILED]:
        accounts = {_target_account(row) for row in evidence} - {None}
        if accounts:
            text += f", against {len(accounts)} account{'s' if len(accounts) != 1 else ''}"
    return text


def _target_account(event: dict[str, Any]) -> str | None:
    """The account a failed sign-in tried: the user it names, or the email typed."""
    if event.get("user_id") or event.get("user_email"):
        return str(event.get("user_email") or event.get("user_id")).lower()
    details = _details(event)
    attempted = details.get("attempted_email") if isinstance(details, dict) else None
    return str(attempted).lower() if attempted else None


def _details(event: dict[str, Any]) -> Any:
    raw = event.get("details")
    if not raw:
        return {}
    try:
        return json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError:
        return {}


# --- many failures against one account, from several addresses ---


def _distributed(
    conn: Connection, tenant_id: uuid.UUID, rule: Rule, live: list[Event]
) -> list[Finding]:
    newest: dict[tuple[str, str], datetime] = {}
    for event in live:
        if event["action"] != Action.LOGIN_FAILED:
            continue
        column, value = (
            ("user_id", event["user_id"])
            if event["user_id"]
            else ("user_email", event["user_email"])
        )
        if value:
            key = (column, value)
            newest[key] = max(newest.get(key, event["timestamp"]), event["timestamp"])
    found = []
    window = timedelta(minutes=rule.window_minutes)
    for (column, value), last in newest.items():
        filters = EventFilters(
            actions=(Action.LOGIN_FAILED,),
            start=last - window,
            end=last + timedelta(microseconds=1),
            user_id=value if column == "user_id" else None,
            user_email=value if column == "user_email" else None,
        )
        where = match(conn, tenant_id=tenant_id, filters=filters)
        count, sources, first = conn.execute(
            select(
                func.count(),
                func.count(distinct(events.c.ip_address)),
                func.min(events.c.timestamp),
            )
            .select_from(events)
            .where(*where)
        ).one()
        if count < rule.threshold or sources < rule.min_sources:
            continue
        first = as_time(first)
        evidence = _evidence(conn, where)
        account = next((row["user_email"] for row in evidence if row["user_email"]), value)
        found.append(
            Finding(
                rule=rule,
                subject=account,
                dedup=value,
                severity=rule.severity,
                first_seen=first,
                last_seen=last,
                count=count,
                evidence=[row["id"] for row in evidence],
                summary=f"{count} failed logins against {account} from {sources} addresses "
                f"{span(first, last)}",
            )
        )
    return found


# --- a sign-in from a country the user has not signed in from lately ---


def _unexpected_location(
    conn: Connection, tenant_id: uuid.UUID, rule: Rule, live: list[Event]
) -> list[Finding]:
    found = []
    for event in live:
        if not (
            event["action"] == Action.LOGIN
            and event["status"] == Status.SUCCESS
            and event["user_id"]
            and event["country"]
        ):
            continue
        history = conn.execute(
            select(events.c.country, events.c.timestamp)
            .where(
                events.c.tenant_id == tenant_id,
                events.c.user_id == event["user_id"],
                events.c.action == Action.LOGIN.value,
                events.c.status == Status.SUCCESS.value,
                events.c.country.is_not(None),
                events.c.timestamp >= event["timestamp"] - LOCATION_HISTORY,
                events.c.timestamp < event["timestamp"],
            )
            .order_by(events.c.timestamp.desc())
            .limit(1000)
        ).all()
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


# --- activity outside working hours: at most one open alert per user and day ---


def _off_hours(rule: Rule, hours: WorkingHours, live: list[Event]) -> list[Finding]:
    outside: dict[tuple[str, str], list[Event]] = defaultdict(list)
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


# --- a role raised, or USER_MANAGE granted ---


def role_change(details: Any) -> tuple[Any, Any] | None:
    """(old, new) of a role change in an UPDATE's details, in either of the platform's forms."""
    return _field_change(details, "role")


def _field_change(details: Any, name: str) -> tuple[Any, Any] | None:
    # Details come from producers: anything may be anywhere, so every shape is checked.
    if not isinstance(details, dict):
        return None
    fields = details.get("changed_fields")
    if not isinstance(fields, list) or name not in fields:
        return None
    changes = details.get("changes")
    if isinstance(changes, dict) and isinstance(changes.get(name), dict):
        return changes[name].get("old"), changes[name].get("new")
    if "old_value" in details or "new_value" in details:
        return details.get("old_value"), details.get("new_value")
    return None


def _names(value: Any) -> set[str]:
    """Permission names from a list (or a comma-separated string), ignoring anything else."""
    if isinstance(value, str):
        value = value.split(",")
    return (
        {item.strip() for item in value if isinstance(item, str)}
        if isinstance(value, list)
        else set()
    )


def _rank(role: Any) -> int | None:
    if not isinstance(role, str):
        return None
    try:
        return ROLE_RANK[Role(role.upper())]
    except ValueError:
        return None


def _privilege_escalation(rule: Rule, live: list[Event]) -> list[Finding]:
    found = []
    for event in live:
        if event["action"] != Action.UPDATE or event["resource_type"] != ResourceType.USER:
            continue
        details = _details(event)
        raised = []
        role = role_change(details)
        if role is not None:
            old_rank, new_rank = _rank(role[0]), _rank(role[1])
            if old_rank is not None and new_rank is not None and new_rank > old_rank:
                raised.append(f"role {role[0]} → {role[1]}")
        permissions = _field_change(details, "permissions")
        if permissions is not None:
            before, after = (_names(side) for side in permissions)
            if "USER_MANAGE" in after - before:
                raised.append("USER_MANAGE granted")
        if not raised:
            continue
        target = event["resource_id"] or "unknown user"
        who = actor(event) or "someone"
        themselves = event["user_id"] is not None and event["user_id"] == event["resource_id"]
        severity = Severity.CRITICAL if themselves else rule.severity
        by = "by themselves" if themselves else f"by {event['user_email'] or who}"
        found.append(
            Finding(
                rule=rule,
                subject=target,
                dedup=target,
                severity=severity,
                first_seen=event["timestamp"],
                last_seen=event["timestamp"],
                count=1,
                evidence=[event["id"]],
                summary=f"User {target}: {', '.join(raised)}, {by}",
                cumulative=True,
                extra={"target": target},
            )
        )
    return found
