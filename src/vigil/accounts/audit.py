"""Recording what a caller did to accounts, with the request's address and user agent."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import Connection

from vigil.accounts.service import Principal
from vigil.core.http import client_ip
from vigil.events import service as events
from vigil.events.schemas import Action, EventIn, ResourceType
from vigil.settings import Settings


def record_account_change(
    conn: Connection,
    *,
    request: Request,
    settings: Settings,
    principal: Principal,
    action: Action,
    resource_type: ResourceType,
    resource_id: str,
    details: dict[str, Any],
) -> None:
    """Record, in the caller's transaction, a change the principal made through the API."""
    event = EventIn(
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        user_id=principal.actor_id,
        user_email=principal.user_email,
        ip_address=client_ip(request, settings.trusted_networks),
        user_agent=(request.headers.get("user-agent") or "")[:1024] or None,
        details=details,
    )
    events.record(conn, tenant_id=principal.tenant_id, event=event)
