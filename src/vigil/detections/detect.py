"""Runs a tenant's rules over newly committed events.

Each kind of rule is a function in a module of its own (threshold, location, working_hours,
escalation), found through ``RULE_FUNCTIONS``: one function for each ``Kind``, checked when
this module is imported. Adding a kind is its function, its ``Kind``, and a line here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from vigil.core.registry import one_each
from vigil.detections.escalation import privilege_escalation
from vigil.detections.findings import Finding
from vigil.detections.location import unexpected_location
from vigil.detections.rules import Kind, Rule
from vigil.detections.threshold import distributed_brute_force, threshold
from vigil.detections.working_hours import off_hours
from vigil.events.tables import EventRow
from vigil.tenants.tables import TenantRow

log = logging.getLogger(__name__)

# Events this much older than their arrival are history being loaded, not activity
# happening now: they are stored and searchable, but raise no alert. Measured against
# when Vigil received them, not against the time of the pass, so a consumer catching up
# after a restart judges each event as it would have at once.
LIVE_WINDOW = timedelta(hours=24)


class RuleFunction(Protocol):
    """What every kind of rule is: the findings of ``rule`` among ``live``, the tenant's new
    events (oldest first), on a connection that only reads."""

    def __call__(
        self, conn: Connection, *, tenant: TenantRow, rule: Rule, live: list[EventRow]
    ) -> list[Finding]: ...


RULE_FUNCTIONS: dict[Kind, RuleFunction] = one_each(
    Kind,
    [
        (Kind.THRESHOLD, threshold),
        (Kind.DISTRIBUTED_BRUTE_FORCE, distributed_brute_force),
        (Kind.UNEXPECTED_LOCATION, unexpected_location),
        (Kind.OFF_HOURS, off_hours),
        (Kind.PRIVILEGE_ESCALATION, privilege_escalation),
    ],
    what="rule function",
)


def detect(
    conn: Connection,
    *,
    tenant: TenantRow,
    rules: Iterable[Rule],
    new_events: list[EventRow],
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
            findings += RULE_FUNCTIONS[rule.kind](conn, tenant=tenant, rule=rule, live=live)
        except DBAPIError:  # the database, not the data: the pass fails and is tried again
            raise
        except Exception:  # one rule's trouble (odd data, say) must not silence the others
            log.exception("rule %s failed for tenant %s", rule.name, tenant["id"])
    return findings
