"""A user's role raised, or USER_MANAGE granted: HIGH, and CRITICAL when self-granted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from vigil.core.permissions import ROLE_RANK, Role
from vigil.detections.findings import Finding, actor, details_of
from vigil.detections.rules import Rule, Severity
from vigil.events.schemas import Action, ResourceType
from vigil.events.tables import EventRow
from vigil.tenants.tables import TenantRow


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


def privilege_escalation(
    conn: Connection, *, tenant: TenantRow, rule: Rule, live: list[EventRow]
) -> list[Finding]:
    """Fires when an UPDATE on a USER raises the user's role (by rank) or grants USER_MANAGE:
    CRITICAL when the actor changed themselves, else the rule's severity.

    Reads the ``details`` of the new UPDATE events on USER resources (``changed_fields``,
    with ``changes`` or ``old_value`` and ``new_value``); no stored events.
    """
    found = []
    for event in live:
        if event["action"] != Action.UPDATE or event["resource_type"] != ResourceType.USER:
            continue
        details = details_of(event)
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
