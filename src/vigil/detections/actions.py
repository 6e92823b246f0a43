"""Changes people make to alerts and rules, each in one transaction with its record.

Shared by the API and the console.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from vigil.accounts.caller_audit import CallerAudit
from vigil.core.clock import utcnow
from vigil.core.errors import Conflict, InvalidInput
from vigil.core.validation import InvalidBody, describe_errors
from vigil.db.engine import write_transaction
from vigil.detections import service
from vigil.detections.rules import BUILTIN_RULES, Kind, Rule
from vigil.detections.tables import AlertRow
from vigil.events.schemas import Action, ResourceType

# What a change may touch: everything but the name, the kind and whether it is built in.
EDITABLE = frozenset(Rule.model_fields) - {"name", "kind", "builtin"}
# Every rule runs on every pass over new events, so their number bounds that work.
MAX_OWN_RULES = 100


def update_alert(
    engine: Engine,
    audit: CallerAudit,
    *,
    alert_id: uuid.UUID,
    status: str | None,
    note: str | None,
) -> AlertRow:
    """Acknowledge, resolve or annotate an alert; recorded as UPDATE on ALERT."""
    if status is None and note is None:
        raise InvalidInput("status", "give a status, a note, or both")
    tenant_id = audit.principal.tenant_id
    with write_transaction(engine) as conn:
        alert = service.get_alert(conn, tenant_id=tenant_id, alert_id=alert_id, lock=True)
        changed = service.change_alert(conn, alert=alert, status=status, note=note, now=utcnow())
        details: dict[str, Any] = {"rule": alert["rule"], "subject": alert["subject"]}
        if status is not None and status != alert["status"]:
            details.update(changed_fields=["status"], old_value=alert["status"], new_value=status)
        if note is not None:
            details["note"] = note
        audit.record(
            conn,
            action=Action.UPDATE,
            resource_type=ResourceType.ALERT,
            resource_id=str(alert["id"]),
            details=details,
        )
    return changed


def create_rule(engine: Engine, audit: CallerAudit, rule: Rule) -> Rule:
    """A threshold rule of the tenant's own; recorded as CREATE on ALERT_RULE. ``Conflict``
    when the name is taken or the tenant already has ``MAX_OWN_RULES`` of its own."""
    if rule.name in BUILTIN_RULES:
        raise Conflict(f"{rule.name} is a built-in rule: change it instead")
    if rule.kind is not Kind.THRESHOLD:
        raise InvalidInput("kind", "rules of your own are threshold rules")
    rule = rule.model_copy(update={"builtin": False})
    tenant_id = audit.principal.tenant_id
    with write_transaction(engine) as conn:
        existing = service.tenant_rules(conn, tenant_id=tenant_id)
        if rule.name in {r.name for r in existing}:
            raise Conflict(f"a rule named {rule.name} already exists")
        if sum(not r.builtin for r in existing) >= MAX_OWN_RULES:
            raise Conflict(f"at most {MAX_OWN_RULES} rules of your own; delete one first")
        service.save_rule(conn, tenant_id=tenant_id, rule=rule, now=utcnow())
        audit.record(
            conn,
            action=Action.CREATE,
            resource_type=ResourceType.ALERT_RULE,
            resource_id=rule.name,
            details=rule.model_dump(mode="json"),
        )
    return rule


def change_rule(engine: Engine, audit: CallerAudit, name: str, changes: dict[str, Any]) -> Rule:
    """Change some settings of a rule (built-in ones too); recorded as UPDATE with what changed."""
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise InvalidInput(unknown[0], "cannot be changed (or is not a rule setting)")
    tenant_id = audit.principal.tenant_id
    with write_transaction(engine) as conn:
        before = service.get_rule(conn, tenant_id=tenant_id, name=name)
        try:
            after = Rule.model_validate({**before.model_dump(mode="json"), **changes})
        except ValidationError as error:
            raise InvalidBody(describe_errors(error.errors())) from None
        old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
        changed = sorted(field for field in new if old[field] != new[field])
        if changed:
            service.save_rule(conn, tenant_id=tenant_id, rule=after, now=utcnow())
            audit.record(
                conn,
                action=Action.UPDATE,
                resource_type=ResourceType.ALERT_RULE,
                resource_id=after.name,
                details={
                    "changed_fields": changed,
                    "changes": {field: {"old": old[field], "new": new[field]} for field in changed},
                },
            )
    return after


def delete_rule(engine: Engine, audit: CallerAudit, name: str) -> Rule:
    """Remove a rule of the tenant's own; recorded as DELETE on ALERT_RULE."""
    with write_transaction(engine) as conn:
        rule = service.delete_rule(conn, tenant_id=audit.principal.tenant_id, name=name)
        audit.record(
            conn,
            action=Action.DELETE,
            resource_type=ResourceType.ALERT_RULE,
            resource_id=rule.name,
            details={"name": rule.name},
        )
    return rule
