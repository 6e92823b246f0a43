"""HTTP for security monitoring: alerts and the rules that raise them."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.http import FastJSONResponse, errors, uuid_or_404
from vigil.core.pagination import PageQuery
from vigil.detections import actions, service
from vigil.detections.rules import Rule, Severity
from vigil.detections.wire import alert_json
from vigil.events import service as events
from vigil.events.filters import parse_filters
from vigil.events.wire import event_json, format_time
from vigil.notifications.service import deliveries_of

router = APIRouter(prefix="/security", tags=["security"])

MAX_EVIDENCE_SHOWN = 100


class AlertListQuery(PageQuery):
    """``GET /security/alerts``."""

    status: Literal["OPEN", "ACKNOWLEDGED", "RESOLVED"] | None = None
    severity: Severity | None = None
    rule: str | None = Field(default=None, max_length=64)
    start_date: str | None = Field(default=None, description="Alerts seen since (ISO 8601)")
    end_date: str | None = Field(default=None, description="Alerts first seen before")


@router.get("/alerts", summary="Alerts, open ones first")
def list_alerts(
    principal: Caller, conn: ReadConnDep, query: Annotated[AlertListQuery, Query()]
) -> FastJSONResponse:
    """Filter by status, severity, rule and date range; open and severe first."""
    bounds = parse_filters(start_date=query.start_date, end_date=query.end_date)
    rows, total = service.list_alerts(
        conn,
        tenant_id=principal.tenant_id,
        filters=service.AlertFilters(
            status=query.status,
            severity=query.severity,
            rule=query.rule,
            start=bounds.start,
            end=bounds.end,
        ),
        limit=query.limit,
        offset=query.offset,
    )
    return FastJSONResponse(
        {
            "items": [alert_json(r) for r in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@router.get("/alerts/{alert_id}", summary="One alert, with its evidence and deliveries")
def get_alert(principal: Caller, conn: ReadConnDep, alert_id: str) -> FastJSONResponse:
    """The alert, the events that matched (newest first), and how its notifications fared."""
    alert = service.get_alert(
        conn, tenant_id=principal.tenant_id, alert_id=uuid_or_404(alert_id, what="alert")
    )
    ids = [uuid.UUID(i) for i in json.loads(alert["evidence"])[:MAX_EVIDENCE_SHOWN]]
    found = events.get_events(conn, tenant_id=principal.tenant_id, event_ids=ids)
    deliveries = [
        {
            "id": row["id"],
            "channel": row["channel"],
            "status": row["status"],
            "attempts": row["attempts"],
            "last_error": row["last_error"],
            "next_attempt_at": format_time(row["next_attempt_at"]),
            "sent_at": format_time(row["sent_at"]) if row["sent_at"] else None,
        }
        for row in deliveries_of(conn, tenant_id=principal.tenant_id, alert_id=alert["id"])
    ]
    return FastJSONResponse(
        {
            **alert_json(alert),
            "evidence": [event_json(row) for row in found],
            "deliveries": deliveries,
        }
    )


class AlertChange(BaseModel):
    """Acknowledge or resolve an alert, with a note."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["OPEN", "ACKNOWLEDGED", "RESOLVED"] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


@router.patch(
    "/alerts/{alert_id}", summary="Acknowledge or resolve an alert", responses=errors(409)
)
def change_alert(
    principal: Caller, audit: CallerAuditDep, engine: EngineDep, alert_id: str, body: AlertChange
) -> FastJSONResponse:
    """Recorded as UPDATE on ALERT with what changed."""
    changed = actions.update_alert(
        engine,
        audit,
        alert_id=uuid_or_404(alert_id, what="alert"),
        status=body.status,
        note=body.note,
    )
    return FastJSONResponse(alert_json(changed))


# --- rules ---


def rule_json(rule: Rule) -> dict[str, Any]:
    """A rule as the API shows it."""
    return rule.model_dump(mode="json")


@router.get("/rules", summary="Detection rules: the built-in presets, then your own")
def list_rules(principal: Caller, conn: ReadConnDep) -> FastJSONResponse:
    """Every rule with its settings."""
    rules = service.tenant_rules(conn, tenant_id=principal.tenant_id)
    return FastJSONResponse({"items": [rule_json(rule) for rule in rules]})


@router.post("/rules", status_code=201, summary="Add a rule of your own", responses=errors(409))
def create_rule(
    principal: Caller, audit: CallerAuditDep, engine: EngineDep, body: Rule
) -> FastJSONResponse:
    """A threshold rule: a filter, a count, a window, a grouping, a severity and channels."""
    return FastJSONResponse(rule_json(actions.create_rule(engine, audit, body)), 201)


@router.patch(
    "/rules/{rule_name}", summary="Change a rule (built-in ones too)", responses=errors(409)
)
def change_rule(
    principal: Caller,
    audit: CallerAuditDep,
    engine: EngineDep,
    rule_name: str,
    body: dict[str, Any],
) -> FastJSONResponse:
    """A partial rule; recorded as UPDATE on ALERT_RULE with what changed."""
    return FastJSONResponse(rule_json(actions.change_rule(engine, audit, rule_name, body)))


@router.delete("/rules/{rule_name}", summary="Delete a rule of your own", responses=errors(409))
def delete_rule(
    principal: Caller, audit: CallerAuditDep, engine: EngineDep, rule_name: str
) -> FastJSONResponse:
    """Built-in rules cannot be deleted, only turned off."""
    return FastJSONResponse(rule_json(actions.delete_rule(engine, audit, rule_name)))
