"""HTTP for a tenant's settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update

from vigil.accounts import service as accounts
from vigil.accounts.audit import AuditDep
from vigil.accounts.deps import Caller
from vigil.accounts.routes import change_details
from vigil.accounts.tables import tenants
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import InvalidInput
from vigil.core.http import FastJSONResponse
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType

router = APIRouter(prefix="/settings", tags=["settings"])


class TenantSettings(BaseModel):
    """A tenant's settings."""

    retention_days: int = Field(
        ge=0, le=36_500, description="Days events are kept; 0 keeps them forever"
    )


class TenantSettingsPatch(BaseModel):
    """Some of a tenant's settings; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(default=None, ge=0, le=36_500)


def settings_json(tenant: dict[str, Any]) -> dict[str, Any]:
    """The settings part of a tenant row."""
    return {"retention_days": tenant["retention_days"]}


@router.get("", response_model=TenantSettings, summary="The tenant's settings")
def read_settings(principal: Caller, conn: ReadConnDep) -> FastJSONResponse:
    """The settings of the caller's tenant."""
    return FastJSONResponse(settings_json(accounts.get_tenant(conn, tenant_id=principal.tenant_id)))


@router.patch("", response_model=TenantSettings, summary="Change some settings")
def change_settings(
    principal: Caller, audit: AuditDep, engine: EngineDep, body: TenantSettingsPatch
) -> FastJSONResponse:
    """Change the settings named in the body; recorded as UPDATE on SETTINGS."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name, value in changes.items():
        if value is None:
            raise InvalidInput(name, "must not be null")
    with write_transaction(engine) as conn:
        before = accounts.get_tenant(conn, tenant_id=principal.tenant_id)
        changed = {k: (before[k], v) for k, v in changes.items() if before[k] != v}
        if changed:
            conn.execute(
                update(tenants)
                .where(tenants.c.id == principal.tenant_id)
                .values({k: new for k, (_old, new) in changed.items()})
            )
            audit.record(
                conn,
                action=Action.UPDATE,
                resource_type=ResourceType.SETTINGS,
                resource_id=str(principal.tenant_id),
                details=change_details(changed),
            )
        after = {**before, **{k: new for k, (_old, new) in changed.items()}}
    return FastJSONResponse(settings_json(after))
