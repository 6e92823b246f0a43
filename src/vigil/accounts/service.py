"""API keys, a new tenant with its first admin, and operators' commands recorded as
system actions. Callers own the transaction."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from vigil.accounts.tables import ApiKeyRow, NewUserRow, api_key_row, api_keys
from vigil.accounts.users import create_user
from vigil.core.clock import new_id, utcnow
from vigil.core.errors import NotFound
from vigil.core.permissions import Permission, Role
from vigil.core.principal import Principal
from vigil.core.tokens import fingerprint
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.schemas import Action, EventIn, ResourceType
from vigil.events.service import record as record_event
from vigil.tenants import service as tenants_service
from vigil.tenants.allowlist import from_stored
from vigil.tenants.tables import TenantRow, tenants

API_KEY_PREFIX = "vk_"


def create_tenant_with_admin(
    conn: Connection,
    *,
    tenant_name: str,
    admin_email: str,
    admin_password: str,
    retention_days: int,
) -> tuple[TenantRow, NewUserRow]:
    """A tenant and its first ADMIN, the creation recorded as a USER event in the tenant."""
    tenant_row = tenants_service.create_tenant(
        conn, name=tenant_name, retention_days=retention_days
    )
    admin = create_user(
        conn,
        tenant_id=tenant_row["id"],
        email=admin_email,
        name="Administrator",
        role=Role.ADMIN,
        password=admin_password,
    )
    record_system_action(
        conn,
        tenant_id=tenant_row["id"],
        resource_type=ResourceType.USER,
        resource_id=str(admin["id"]),
        details={"email": admin["email"], "name": admin["name"], "role": admin["role"]},
    )
    return tenant_row, admin


def record_system_action(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    resource_type: ResourceType,
    resource_id: str,
    details: dict[str, Any],
    action: Action = Action.CREATE,
) -> None:
    """Record a change made by an operator's command, a system action with no actor."""
    event = EventIn(
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details={**details, "via": "cli"},
    )
    # A command has no client address, so there is no country to look up.
    record_event(conn, tenant_id=tenant_id, event=event, geo=NO_GEOLOCATION)


def create_api_key(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    name: str,
    scopes: frozenset[Permission],
    user_id: uuid.UUID | None = None,
) -> tuple[str, ApiKeyRow]:
    """A new key: its secret text (shown once, never stored) and its stored row."""
    name = name.strip()
    if not name:
        raise ValueError("an API key needs a name")
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row: ApiKeyRow = {
        "tenant_id": tenant_id,
        "id": new_id(),
        "name": name,
        "key_prefix": secret[:10],
        "key_hash": fingerprint(secret),
        "scopes": ",".join(sorted(p.value for p in scopes)),
        "created_at": utcnow(),
        "last_used_at": None,
        "revoked_at": None,
        "user_id": user_id,
    }
    conn.execute(api_keys.insert(), row)
    return secret, row


def authenticate_api_key(conn: Connection, *, secret: str) -> Principal | None:
    """The principal a key stands for, or None if it is unknown or revoked."""
    if not secret.startswith(API_KEY_PREFIX):
        return None
    query = (
        select(api_keys, tenants.c.ip_allowlist)
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .where(api_keys.c.key_hash == fingerprint(secret), api_keys.c.revoked_at.is_(None))
    )
    found = conn.execute(query).mappings().first()
    if found is None:
        return None
    scopes = frozenset(Permission(s) for s in found["scopes"].split(",") if s)
    return Principal(
        tenant_id=found["tenant_id"],
        permissions=scopes,
        api_key_id=found["id"],
        api_key_name=found["name"],
        allowed_networks=from_stored(found["ip_allowlist"]),
    )


def list_api_keys(
    conn: Connection, *, tenant_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[ApiKeyRow], int]:
    """A page of the tenant's keys, newest first, revoked ones included; and how many
    there are in all."""
    mine = api_keys.c.tenant_id == tenant_id
    query = (
        select(api_keys)
        .where(mine)
        .order_by(api_keys.c.created_at.desc(), api_keys.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = [api_key_row(m) for m in conn.execute(query).mappings()]
    total = conn.execute(select(func.count()).select_from(api_keys).where(mine)).scalar_one()
    return rows, int(total)


def api_key_names(
    conn: Connection, *, tenant_id: uuid.UUID, actor_ids: list[str]
) -> dict[str, str]:
    """The names of the tenant's keys among ``actor_ids``, the ``apikey:<id>`` actor ids of
    what keys did (others skipped), keyed by that actor id; revoked keys keep their name."""
    wanted = set()
    for text in actor_ids:
        prefix, _, key_id = text.partition(":")
        try:
            if prefix == "apikey":
                wanted.add(uuid.UUID(key_id))
        except ValueError:
            continue
    if not wanted:
        return {}
    query = select(api_keys.c.id, api_keys.c.name).where(
        api_keys.c.tenant_id == tenant_id, api_keys.c.id.in_(wanted)
    )
    return {f"apikey:{key_id}": name for key_id, name in conn.execute(query)}


def revoke_api_key(
    conn: Connection, *, tenant_id: uuid.UUID, key_id: uuid.UUID, now: datetime
) -> tuple[ApiKeyRow, bool]:
    """Revoke a key: the key and whether this call revoked it (False if it already was)."""
    where = (api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
    found = conn.execute(select(api_keys).where(*where)).mappings().first()
    if found is None:
        raise NotFound(f"API key {key_id} not found")
    if found["revoked_at"] is not None:
        return api_key_row(found), False
    conn.execute(update(api_keys).where(*where).values(revoked_at=now))
    return {**api_key_row(found), "revoked_at": now}, True
