"""The audit of the request's caller: what they did (to users, keys, settings, alerts, …)
recorded as events, with the request's address, user agent and id (``request_id`` in the
details, as the request's log line and ``X-Request-ID`` give it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Connection

from vigil.accounts.deps import Caller
from vigil.core.http import client_ip
from vigil.core.principal import Principal
from vigil.events import service as events
from vigil.events.geo import Geolocator
from vigil.events.schemas import Action, EventIn, ResourceType
from vigil.ops.request_ids import with_request_id


@dataclass(frozen=True, slots=True)
class CallerAudit:
    """Records what the request's caller does, as events from the request's address."""

    principal: Principal
    ip_address: str | None
    user_agent: str | None
    geo: Geolocator

    @classmethod
    def of(cls, request: Request, principal: Principal) -> CallerAudit:
        """The audit of ``principal`` acting through ``request`` (API or console)."""
        state = request.app.state
        return cls(
            principal=principal,
            ip_address=client_ip(request),
            user_agent=(request.headers.get("user-agent") or "")[:1024] or None,
            geo=state.geo,
        )

    def record(
        self,
        conn: Connection,
        *,
        action: Action,
        resource_type: ResourceType,
        resource_id: str,
        details: dict[str, Any],
    ) -> None:
        """Record one change in the caller's transaction, so it stands or falls with it."""
        event = EventIn(
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            user_id=self.principal.actor_id,
            user_email=self.principal.user_email,
            ip_address=self.ip_address,
            user_agent=self.user_agent,
            details=with_request_id(details),
        )
        events.record(conn, tenant_id=self.principal.tenant_id, event=event, geo=self.geo)


async def get_caller_audit(request: Request, principal: Caller) -> CallerAudit:
    """The audit of the request's caller."""
    return CallerAudit.of(request, principal)


CallerAuditDep = Annotated[CallerAudit, Depends(get_caller_audit)]
