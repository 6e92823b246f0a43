"""HTTP for a tenant's settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import update

from vigil.accounts import service as accounts
from vigil.accounts.allowlist import parse_allowlist, stored_form
from vigil.accounts.audit import AuditDep
from vigil.accounts.deps import Caller, forget_tenant_credentials
from vigil.accounts.management import change_details
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
    ip_allowlist: list[str] = Field(
        description="CIDR ranges the API may be called from; empty lets everyone in"
    )
    require_2fa_for_admins: bool = Field(
        description="ADMIN and SUPER_ADMIN users must turn two-factor authentication on "
        "before their sessions can do anything else"
    )


class TenantSettingsPatch(BaseModel):
    """Some of a tenant's settings; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(default=None, ge=0, le=36_500)
    ip_allowlist: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, max_length=1000
    )
    require_2fa_for_admins: bool | None = None

    @field_validator("ip_allowlist")
    @classmethod
    def _normalise(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else stored_form(parse_allowlist(value)).split(",")


def settings_json(tenant: dict[str, Any]) -> dict[str, Any]:
    """The settings part of a tenant row."""
    allowlist = [part for part in tenant["ip_allowlist"].split(",") if part]
    return {
        "retention_days": tenant["retention_days"],
        "ip_allowlist": allowlist,
        "require_2fa_for_admins": tenant["require_2fa_for_admins"],
    }


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
    if "ip_allowlist" in changes:  # stored as text, shown and compared as a list
        changes["ip_allowlist"] = ",".join(part for part in changes["ip_allowlist"] if part)
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
    if changed.keys() & {"ip_allowlist", "require_2fa_for_admins"}:  # both shape sessions
        forget_tenant_credentials(principal.tenant_id)
    return FastJSONResponse(settings_json(after))
