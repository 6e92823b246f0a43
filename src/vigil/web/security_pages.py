"""The Security page: alerts, open ones first, and an alert's page to act on it."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from vigil.accounts.service import api_key_names
from vigil.accounts.users import emails_of
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import VigilError
from vigil.core.http import uuid_or_404
from vigil.detections import actions, service
from vigil.detections.rules import BUILTIN_RULES, Severity
from vigil.detections.tables import AlertRow
from vigil.events import service as events
from vigil.events.wire import event_json
from vigil.notifications.service import deliveries_of
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.forms import audit_of, notice_for, see_other
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

ALERTS_PAGE_SIZE = 50


@router.get("/security")
def security(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Alerts: open and severe first, filtered by status, severity and rule."""
    params = request.query_params
    status = params.get("status", "")
    severity = params.get("severity", "")
    rule = params.get("rule", "")
    page_text = params.get("page", "1")
    page = max(1, min(int(page_text) if (page_text.isascii() and page_text.isdigit()) else 1, 1000))
    rows, total = service.list_alerts(
        conn,
        tenant_id=me.principal.tenant_id,
        filters=service.AlertFilters(
            status=status if status in service.STATUSES else None,
            severity=Severity(severity) if severity in Severity.__members__ else None,
            rule=rule[:64] or None,
        ),
        limit=ALERTS_PAGE_SIZE,
        offset=(page - 1) * ALERTS_PAGE_SIZE,
    )
    rule_names = [r.name for r in service.tenant_rules(conn, tenant_id=me.principal.tenant_id)]
    chosen = {"status": status, "severity": severity, "rule": rule}
    return render(
        request,
        "security/alerts.html",
        {
            "me": me,
            "section": "security",
            "alerts": rows,
            "total": total,
            "page": page,
            "has_next": page * ALERTS_PAGE_SIZE < total,
            "chosen": chosen,
            "page_query": urlencode({k: v for k, v in chosen.items() if v}),
            "statuses": service.STATUSES,
            "severities": [s.value for s in Severity],
            "rule_names": rule_names,
        },
    )


def _alert_context(
    request: Request, me: ConsoleUser, conn: Any, alert_id: uuid.UUID, **extra: Any
) -> dict[str, Any]:
    tenant_id = me.principal.tenant_id
    alert = service.get_alert(conn, tenant_id=tenant_id, alert_id=alert_id)
    ids = [uuid.UUID(i) for i in json.loads(alert["evidence"])]
    found = events.get_events(conn, tenant_id=tenant_id, event_ids=ids)
    evidence = [{**event_json(row), "details": row["details"]} for row in found]
    labels = emails_of(
        conn,
        tenant_id=tenant_id,
        ids=[
            e["resource_id"] for e in evidence if e["resource_type"] == "USER" and e["resource_id"]
        ],
    )
    return {
        "me": me,
        "section": "security",
        "alert": alert,
        "rule": BUILTIN_RULES.get(alert["rule"]),
        "evidence": evidence,
        "resource_labels": labels,
        "key_names": api_key_names(
            conn, tenant_id=tenant_id, actor_ids=[e["user_id"] for e in evidence if e["user_id"]]
        ),
        "deliveries": deliveries_of(conn, tenant_id=tenant_id, alert_id=alert["id"]),
        "activity_link": _activity_link(alert, evidence),
        "notice": notice_for(request),
        **extra,
    }


def _activity_link(alert: AlertRow, evidence: list[dict[str, Any]]) -> str:
    """The Activity page over what the alert is about, from its first to its last event."""
    query = {
        "from": alert["first_seen"].date().isoformat(),
        "to": alert["last_seen"].date().isoformat(),
    }
    subject = alert["subject"]
    if any(e["ip_address"] == subject for e in evidence):
        query["ip"] = subject
    elif "@" in subject or any(e["user_id"] == subject for e in evidence):
        query["user"] = subject
    return "/ui/activity?" + urlencode(query)


@router.get("/security/alerts/{alert_id}")
def alert_page(request: Request, me: ConsoleDep, conn: ReadConnDep, alert_id: str) -> Response:
    """One alert: what happened, the events behind it, who was told, and what to do."""
    context = _alert_context(request, me, conn, uuid_or_404(alert_id, what="alert"))
    return render(request, "security/alert.html", context)


@router.post("/security/alerts/{alert_id}")
async def alert_change(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep, alert_id: str
) -> Response:
    """Acknowledge or resolve, with a note."""
    target = uuid_or_404(alert_id, what="alert")
    form = await request.form()
    status = str(form.get("status", "")) or None
    note = str(form.get("note", "")).strip()[:2000] or None
    try:
        await run_in_threadpool(
            actions.update_alert,
            engine,
            audit_of(request, me),
            alert_id=target,
            status=status if status in service.STATUSES else None,
            note=note,
        )
    except VigilError as error:
        context = _alert_context(request, me, conn, target, error=error.message)
        return render(request, "security/alert.html", context, status_code=error.status_code)
    notice = {"ACKNOWLEDGED": "acknowledged", "RESOLVED": "resolved"}.get(status or "", "noted")
    return see_other(f"/ui/security/alerts/{target}", notice)
