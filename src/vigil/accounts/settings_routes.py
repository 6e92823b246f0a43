"""HTTP for a tenant's settings."""

from __future__ import annotations

import json
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import update

from vigil.accounts import service as accounts
from vigil.accounts.allowlist import parse_allowlist, stored_form
from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller, forget_tenant_credentials
from vigil.accounts.management import change_details
from vigil.accounts.tables import tenants
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import InvalidInput
from vigil.core.http import FastJSONResponse
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType

router = APIRouter(prefix="/settings", tags=["settings"])


class WorkingHoursSetting(BaseModel):
    """When the organisation works: activity outside is flagged by the off_hours rule."""

    model_config = ConfigDict(extra="forbid")

    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        max_length=7, description="Monday = 0 … Sunday = 6"
    )
    start: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    end: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHoursSetting:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


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
    timezone: str = Field(description="IANA time zone of the working hours, e.g. Europe/Paris")
    working_hours: WorkingHoursSetting


class TenantSettingsPatch(BaseModel):
    """Some of a tenant's settings; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(default=None, ge=0, le=36_500)
    ip_allowlist: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, max_length=1000
    )
    require_2fa_for_admins: bool | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    working_hours: WorkingHoursSetting | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/Paris"
            ) from None
        return value

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
        "timezone": tenant["timezone"],
        "working_hours": json.loads(tenant["working_hours"]),
    }


@router.get("", response_model=TenantSettings, summary="The tenant's settings")
def read_settings(principal: Caller, conn: ReadConnDep) -> FastJSONResponse:
    """The settings of the caller's tenant."""
    return FastJSONResponse(settings_json(accounts.get_tenant(conn, tenant_id=principal.tenant_id)))


@router.patch("", response_model=TenantSettings, summary="Change some settings")
def change_settings(
    principal: Caller, audit: CallerAuditDep, engine: EngineDep, body: TenantSettingsPatch
) -> FastJSONResponse:
    """Change the settings named in the body; recorded as UPDATE on SETTINGS."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name, value in changes.items():
        if value is None:
            raise InvalidInput(name, "must not be null")
    if "ip_allowlist" in changes:  # stored as text, shown and compared as a list
        changes["ip_allowlist"] = ",".join(part for part in changes["ip_allowlist"] if part)
    if "working_hours" in changes:  # stored as JSON text
        hours = body.working_hours
        assert hours is not None
        changes["working_hours"] = json.dumps(
            {"days": sorted(set(hours.days)), "start": hours.start, "end": hours.end}
        )
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
