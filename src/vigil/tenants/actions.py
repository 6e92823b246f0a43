"""Changing a tenant's settings as a caller, recorded as theirs: what the console's Settings
pages and the API's ``PATCH /settings`` both call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from vigil.accounts.caller_audit import CallerAudit
from vigil.accounts.management import change_details
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.tenants import service
from vigil.tenants.allowlist import parse_allowlist
from vigil.tenants.schemas import TenantSettingsPatch
from vigil.tenants.service import SettingsChange

# Settings that decide whether a credential is let in: after they change, credentials the
# app trusted a moment ago are looked up afresh.
ADMISSION_SETTINGS = frozenset({"ip_allowlist", "require_2fa_for_admins"})


def change_settings(
    engine: Engine, audit: CallerAudit, patch: TenantSettingsPatch
) -> SettingsChange:
    """Apply the settings ``patch`` names to the caller's tenant in one transaction; when any
    value changed, record UPDATE on SETTINGS with the old and new values, as the caller."""
    given: dict[str, Any] = {name: getattr(patch, name) for name in patch.model_fields_set}
    given = {name: value for name, value in given.items() if value is not None}
    if "ip_allowlist" in given:
        given["ip_allowlist"] = parse_allowlist(given["ip_allowlist"])
    tenant_id = audit.principal.tenant_id
    with write_transaction(engine) as conn:
        change = service.change_tenant_settings(conn, tenant_id=tenant_id, **given)
        if change.changed:
            audit.record(
                conn,
                action=Action.UPDATE,
                resource_type=ResourceType.SETTINGS,
                resource_id=str(tenant_id),
                details=change_details(change.changed),
            )
    return change
