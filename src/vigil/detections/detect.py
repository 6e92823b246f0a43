"""Runs a tenant's rules over newly committed events: each kind of rule lives in a module of
its own (threshold, location, working_hours, escalation)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from vigil.detections.escalation import privilege_escalation
from vigil.detections.findings import Event, Finding
from vigil.detections.location import unexpected_location
from vigil.detections.rules import Kind, Rule
from vigil.detections.threshold import distributed, threshold
from vigil.detections.working_hours import WorkingHours, off_hours

log = logging.getLogger(__name__)

# Events this much older than their arrival are history being loaded, not activity
# happening now: they are stored and searchable, but raise no alert. Measured against
# when Vigil received them, not against the time of the pass, so a consumer catching up
# after a restart judges each event as it would have at once.
LIVE_WINDOW = timedelta(hours=24)


def detect(
    conn: Connection,
    *,
    tenant: dict[str, Any],
    rules: Iterable[Rule],
    new_events: list[Event],
) -> list[Finding]:
    """Every finding of the enabled ``rules`` in ``new_events`` (just committed)."""
    live = sorted(
        (e for e in new_events if e["received_at"] - e["timestamp"] <= LIVE_WINDOW),
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
        return threshold(conn, tenant["id"], rule, live)
    if rule.kind is Kind.DISTRIBUTED_BRUTE_FORCE:
        return distributed(conn, tenant["id"], rule, live)
    if rule.kind is Kind.UNEXPECTED_LOCATION:
        return unexpected_location(conn, tenant["id"], rule, live)
    if rule.kind is Kind.OFF_HOURS:
        return off_hours(rule, WorkingHours.of_tenant(tenant), live)
    return privilege_escalation(rule, live)
