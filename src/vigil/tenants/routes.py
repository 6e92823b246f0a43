"""HTTP for a tenant's settings."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller, forget_tenant_credentials
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import InvalidInput
from vigil.core.http import FastJSONResponse
from vigil.tenants import actions
from vigil.tenants import service as tenants
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
    for name in body.model_fields_set:
        if getattr(body, name) is None:
            raise InvalidInput(name, "must not be null")
    change = actions.change_settings(engine, audit, body)
    if change.changed.keys() & actions.ADMISSION_SETTINGS:
        forget_tenant_credentials(request, principal.tenant_id)
    return FastJSONResponse(change.settings.model_dump())
