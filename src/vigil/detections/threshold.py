"""Threshold rules: N matching events in a window, per address, per user or overall, and the
distributed variant: many failures against one account from several addresses.

Windows are read from the database (``vigil.events.windows``), never kept in memory, so
several nodes looking at each other's events agree (DESIGN §6).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from vigil.detections.findings import EVIDENCE_LIMIT, Finding, actor, details_of, span
from vigil.detections.rules import Rule
from vigil.events import windows
from vigil.events.filters import EventFilters
from vigil.events.ip_ranges import parse_network
from vigil.events.schemas import Action
from vigil.events.search_match import query_matches
from vigil.events.search_query import SearchQuery
from vigil.events.tables import EventRow
from vigil.events.windows import SubjectColumn, WindowEvent
from vigil.tenants.tables import TenantRow

log = logging.getLogger(__name__)

# Events of one subject read to find its busiest window among a pass's new events; past
# this, only the window ending at its newest event is judged.
MAX_SCANNED = 100_000


def _matches(rule: Rule, search: SearchQuery, event: EventRow) -> bool:
    wanted = rule.filter
    if wanted.action and event["action"] not in wanted.action:
        return False
    if wanted.resource_type and event["resource_type"] not in wanted.resource_type:
        return False
    if wanted.status is not None and event["status"] != wanted.status:
        return False
    if wanted.user and wanted.user not in (event["user_id"], event["user_email"]):
        return False
    if wanted.ip_address and event["ip_address"] != wanted.ip_address:
        return False
    return query_matches(search, event)


def _subject(rule: Rule, event: EventRow) -> str | None:
    if rule.group_by == "ip":
        return str(event["ip_address"]) if event["ip_address"] else None
    if rule.group_by == "user":
        return actor(event)
    return "everyone"


def _window_filters(
    rule: Rule, search: SearchQuery, subject: str, by_email: bool, start: datetime, end: datetime
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
        # An empty subject is a placeholder for the subjects ``_possible`` counts.
        ip_networks=(parse_network(by_ip),) if by_ip else (),
        user_email=user_email,
        user_id=user_id,
        query=search,
        start=start,
        end=end + timedelta(microseconds=1),  # the newest event itself is in the window
    )


def threshold(
    conn: Connection, *, tenant: TenantRow, rule: Rule, live: list[EventRow]
) -> list[Finding]:
    """Fires when one subject (an address, a user or everyone, by ``group_by``) has at least
    ``threshold`` events matching the rule's ``filter`` in the ``window_minutes`` that end at
    one of its new events (the latest such window is reported).

    Reads the new events that match the filter; then, from the stored events, one grouped
    count per subject column over the span every window lies in (with more than three
    subjects, to rule out those that cannot reach the threshold), an exact count and first
    timestamp in each remaining subject's window, and that window's newest events as evidence.
    """
    tenant_id = tenant["id"]
    search = rule.filter.search
    if search is None:  # a stored query the language no longer takes: it counts nothing
        log.warning("rule %s of tenant %s: its query no longer parses", rule.name, tenant_id)
        return []
    new_times: dict[str, list[datetime]] = {}
    by_email: dict[str, bool] = {}
    for event in live:
        subject = _subject(rule, event) if _matches(rule, search, event) else None
        if subject is not None:
            new_times.setdefault(subject, []).append(event["timestamp"])
            by_email[subject] = not event["user_id"]
    window = timedelta(minutes=rule.window_minutes)
    found = []
    for subject in _possible(conn, tenant_id, rule, search, new_times, by_email, window):
        ends = sorted(new_times[subject])
        span_filters = _window_filters(
            rule, search, subject, by_email[subject], ends[0] - window, ends[-1]
        )
        last = _window_end(conn, tenant_id, span_filters, ends, window, threshold=rule.threshold)
        if last is None:
            continue
        filters = _window_filters(rule, search, subject, by_email[subject], last - window, last)
        counted = windows.count_window(conn, tenant_id=tenant_id, filters=filters)
        count, first = counted.events, counted.first
        if count < rule.threshold or first is None:
            continue
        evidence = _evidence(conn, tenant_id, filters)
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


def _window_end(
    conn: Connection,
    tenant_id: uuid.UUID,
    filters: EventFilters,
    ends: list[datetime],
    window: timedelta,
    *,
    threshold: int,
    min_sources: int = 0,
) -> datetime | None:
    """The end of a subject's window to judge, among its new events' times (``ends``,
    oldest first): the latest whose window holds ``threshold`` events from ``min_sources``
    addresses, or ``None``. ``filters`` select the subject's events from the first window's
    start to the newest end.

    One pass can hold a burst and, minutes later, another event of the same subject (a
    catch-up after downtime, a bulk import, ``vigil demo``): the window ending at the
    newest event alone would miss the burst. The subject's events are read once (at most
    ``MAX_SCANNED``; past that, the newest window is judged) and every window is counted
    from them in one walk, addresses too.
    """
    if len(ends) == 1:
        return ends[0]
    seen = windows.sightings(conn, tenant_id=tenant_id, filters=filters, limit=MAX_SCANNED)
    if len(seen) >= MAX_SCANNED:
        return ends[-1]
    wanted = set(ends)
    sources: Counter[str | None] = Counter()
    chosen: datetime | None = None
    start = 0
    for index, (moment, address) in enumerate(seen):
        sources[address] += 1
        while seen[start][0] < moment - window:  # out of the window ending now
            gone = seen[start][1]
            sources[gone] -= 1
            if not sources[gone]:
                del sources[gone]
            start += 1
        if moment in wanted:
            count = index - start + 1
            if count >= threshold and len(sources.keys() - {None}) >= min_sources:
                chosen = moment
    return chosen


def _failures_against(column: str, value: str, start: datetime, end: datetime) -> EventFilters:
    """Failed sign-ins naming one account (its user id or email) from ``start`` to ``end``
    inclusive."""
    return EventFilters(
        actions=(Action.LOGIN_FAILED,),
        start=start,
        end=end + timedelta(microseconds=1),
        user_id=value if column == "user_id" else None,
        user_email=value if column == "user_email" else None,
    )


def _possible(
    conn: Connection,
    tenant_id: uuid.UUID,
    rule: Rule,
    search: SearchQuery,
    new_times: dict[str, list[datetime]],
    by_email: dict[str, bool],
    window: timedelta,
) -> list[str]:
    """The subjects that may reach the threshold, found with one grouped count per column.

    A subject's window may end at any of its new events (``_window_end``), so every window
    lies inside the span from the earliest new event's window start to the newest new event:
    a subject counting fewer than the threshold there cannot reach it in any of its windows,
    and only the others need an exact count. (Starting the span at the earliest subject's
    *newest* event instead would rule out a burst followed, in the same pass, by a later
    event of its author: a catch-up, or ``vigil demo``.)
    """
    if rule.group_by == "none" or len(new_times) <= 3:
        return list(new_times)
    start = min(min(times) for times in new_times.values()) - window
    end = max(max(times) for times in new_times.values())
    by_column: dict[str, list[SubjectColumn]] = {
        "ip": ["ip_address"],
        "user": ["user_id", "user_email"],
    }
    possible: list[str] = []
    for name in by_column[rule.group_by]:
        wanted = [
            subject
            for subject in new_times
            if rule.group_by == "ip" or by_email[subject] == (name == "user_email")
        ]
        # The subject column holds a placeholder here; the subjects take its place.
        filters = _window_filters(rule, search, "", name == "user_email", start, end)
        possible += windows.subjects_reaching(
            conn,
            tenant_id=tenant_id,
            filters=filters,
            column=name,
            subjects=wanted,
            threshold=rule.threshold,
        )
    return possible


def _evidence(conn: Connection, tenant_id: uuid.UUID, filters: EventFilters) -> list[WindowEvent]:
    return windows.newest_in_window(
        conn, tenant_id=tenant_id, filters=filters, limit=EVIDENCE_LIMIT
    )


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


def _threshold_summary(
    rule: Rule,
    subject: str,
    count: int,
    first: datetime,
    last: datetime,
    evidence: list[WindowEvent],
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


def _target_account(event: Mapping[str, Any]) -> str | None:
    """The account a failed sign-in tried: the user it names, or the email typed."""
    if event.get("user_id") or event.get("user_email"):
        return str(event.get("user_email") or event.get("user_id")).lower()
    details = details_of(event)
    attempted = details.get("attempted_email") if isinstance(details, dict) else None
    return str(attempted).lower() if attempted else None


def distributed_brute_force(
    conn: Connection, *, tenant: TenantRow, rule: Rule, live: list[EventRow]
) -> list[Finding]:
    """Fires when one account has at least ``threshold`` failed sign-ins from at least
    ``min_sources`` addresses in ``window_minutes`` ending at one of its new failures (the
    latest such window).

    Reads the new LOGIN_FAILED events (whatever the rule's filter), each keyed by the account
    it names: the user id, else the email; then, from the stored events, the count of that
    account's failures in the window, how many addresses they came from, and the newest as
    evidence.
    """
    tenant_id = tenant["id"]
    new_times: dict[tuple[str, str], list[datetime]] = {}
    for event in live:
        if event["action"] != Action.LOGIN_FAILED:
            continue
        column, value = (
            ("user_id", event["user_id"])
            if event["user_id"]
            else ("user_email", event["user_email"])
        )
        if value:
            new_times.setdefault((column, value), []).append(event["timestamp"])
    found = []
    window = timedelta(minutes=rule.window_minutes)
    for (column, value), times in new_times.items():
        ends = sorted(times)
        last = _window_end(
            conn, tenant_id, _failures_against(column, value, ends[0] - window, ends[-1]), ends,
            window, threshold=rule.threshold, min_sources=rule.min_sources,
        )  # fmt: skip
        if last is None:
            continue
        filters = _failures_against(column, value, last - window, last)
        counted = windows.count_window_sources(conn, tenant_id=tenant_id, filters=filters)
        count, sources, first = counted.events, counted.sources, counted.first
        if count < rule.threshold or sources < rule.min_sources or first is None:
            continue
        evidence = _evidence(conn, tenant_id, filters)
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
