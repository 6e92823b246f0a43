"""HTTP for a tenant's settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller, forget_tenant_credentials
from vigil.accounts.management import change_details
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import InvalidInput
from vigil.core.http import FastJSONResponse
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.tenants import service as tenants
from vigil.tenants.allowlist import parse_allowlist
from vigil.tenants.schemas import TenantSettings, TenantSettingsPatch

router = APIRouter(prefix="/settings", tags=["settings"])


@router.get("", response_model=TenantSettings, summary="The tenant's settings")
def read_settings(principal: Caller, conn: ReadConnDep) -> FastJSONResponse:
    """The settings of the caller's tenant."""
    settings = tenants.get_tenant_settings(conn, tenant_id=principal.tenant_id)
    return FastJSONResponse(settings.model_dump())


@router.patch("", response_model=TenantSettings, summary="Change some settings")
def change_settings(
    request: Request,
    principal: Caller,
    audit: CallerAuditDep,
    engine: EngineDep,
    body: TenantSettingsPatch,
) -> FastJSONResponse:
    """Change the settings named in the body; recorded as UPDATE on SETTINGS."""
    given: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set}
    for name, value in given.items():
        if value is None:
            raise InvalidInput(name, "must not be null")
    if "ip_allowlist" in given:
        given["ip_allowlist"] = parse_allowlist(given["ip_allowlist"])
    with write_transaction(engine) as conn:
        change = tenants.change_tenant_settings(conn, tenant_id=principal.tenant_id, **given)
        if change.changed:
            audit.record(
                conn,
                action=Action.UPDATE,
                resource_type=ResourceType.SETTINGS,
                resource_id=str(principal.tenant_id),
                details=change_details(change.changed),
            )
    if change.changed.keys() & {"ip_allowlist", "require_2fa_for_admins"}:  # both shape sessions
        forget_tenant_credentials(request, principal.tenant_id)
    return FastJSONResponse(change.settings.model_dump())
