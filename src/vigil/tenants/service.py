"""Every query about tenants: creating and finding them, reading and changing their settings.

Functions take the connection and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, func, select, update

from vigil.core.clock import new_id, utcnow
from vigil.core.errors import Conflict, NotFound
from vigil.settings import IPNetwork
from vigil.tenants.allowlist import stored_form
from vigil.tenants.schemas import TenantSettings, WorkingHoursSetting
from vigil.tenants.tables import DEFAULT_WORKING_HOURS, TenantRow, tenant_row, tenants


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What changing settings did: the settings now, and the old and new stored value of
    each column that changed (none when every value was already as asked)."""

    settings: TenantSettings
    changed: dict[str, tuple[Any, Any]]


def create_tenant(conn: Connection, *, name: str, retention_days: int) -> TenantRow:
    """A new tenant with default settings; the name must be unused."""
    name = name.strip()
    if not name:
        raise ValueError("tenant name must not be empty")
    if get_tenant_by_name(conn, name=name, required=False) is not None:
        raise Conflict(f"tenant {name!r} already exists")
    row: TenantRow = {
        "id": new_id(),
        "name": name,
        "retention_days": retention_days,
        "created_at": utcnow(),
        "ip_allowlist": "",
        "require_2fa_for_admins": False,
        "timezone": "UTC",
        "working_hours": DEFAULT_WORKING_HOURS,
    }
    conn.execute(tenants.insert(), row)
    return row


def get_tenant(conn: Connection, *, tenant_id: uuid.UUID) -> TenantRow:
    """The tenant with this id."""
    found = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).mappings().first()
    if found is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return tenant_row(found)


def get_tenant_by_name(conn: Connection, *, name: str, required: bool = True) -> TenantRow | None:
    """The tenant called ``name``; None when there is none and it is not ``required``."""
    found = conn.execute(select(tenants).where(tenants.c.name == name.strip())).mappings().first()
    if found is None and required:
        raise NotFound(f"tenant {name!r} not found")
    return tenant_row(found) if found is not None else None


def only_tenant(conn: Connection) -> TenantRow | None:
    """The installation's tenant when it has exactly one; None otherwise."""
    found = conn.execute(select(tenants).limit(2)).mappings().all()
    return tenant_row(found[0]) if len(found) == 1 else None


def list_tenants(conn: Connection) -> list[TenantRow]:
    """Every tenant of the installation."""
    return [tenant_row(row) for row in conn.execute(select(tenants)).mappings()]


def count_tenants(conn: Connection) -> int:
    """How many tenants exist."""
    return int(conn.execute(select(func.count()).select_from(tenants)).scalar_one())


def get_tenant_settings(conn: Connection, *, tenant_id: uuid.UUID) -> TenantSettings:
    """The tenant's settings."""
    return settings_of(get_tenant(conn, tenant_id=tenant_id))


def settings_of(tenant: TenantRow) -> TenantSettings:
    """The settings held in a tenant's row, decoded from their stored form."""
    return TenantSettings(
        retention_days=tenant["retention_days"],
        ip_allowlist=[part for part in tenant["ip_allowlist"].split(",") if part],
        require_2fa_for_admins=tenant["require_2fa_for_admins"],
        timezone=tenant["timezone"],
        working_hours=WorkingHoursSetting(**json.loads(tenant["working_hours"])),
    )


def change_tenant_settings(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    retention_days: int | None = None,
    ip_allowlist: Sequence[IPNetwork] | None = None,
    require_2fa_for_admins: bool | None = None,
    timezone: str | None = None,
    working_hours: WorkingHoursSetting | None = None,
) -> SettingsChange:
    """Set the settings given (None leaves one as it is); only values that differ are
    written. The caller records the change, as its actor."""
    wanted: dict[str, Any] = {
        "retention_days": retention_days,
        "require_2fa_for_admins": require_2fa_for_admins,
        "timezone": timezone,
    }
    if ip_allowlist is not None:  # stored as comma-separated text
        wanted["ip_allowlist"] = stored_form(ip_allowlist)
    if working_hours is not None:  # stored as JSON text, each day once, in order
        wanted["working_hours"] = json.dumps(
            {
                "days": sorted(set(working_hours.days)),
                "start": working_hours.start,
                "end": working_hours.end,
            }
        )
    before = get_tenant(conn, tenant_id=tenant_id)
    stored: Mapping[str, Any] = before  # read by the column names in ``wanted``
    changed = {
        name: (stored[name], value)
        for name, value in wanted.items()
        if value is not None and stored[name] != value
    }
    new_values = {name: new for name, (_old, new) in changed.items()}
    if new_values:
        conn.execute(update(tenants).where(tenants.c.id == tenant_id).values(new_values))
    # Safe: ``new_values`` only holds columns of ``tenants``, each in its stored form.
    after = cast(TenantRow, {**before, **new_values})
    return SettingsChange(settings=settings_of(after), changed=changed)
