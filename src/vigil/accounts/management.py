"""Managing users on a caller's behalf: the rules and records shared by the API and console.

Each operation checks what the caller may do (nobody raises anyone above their own rank or
grants permissions they lack), runs in one transaction with its event, and stops trusting
cached credentials that the change made stale.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import Connection, Engine

from vigil.accounts import password_reset
from vigil.accounts import users as users_service
from vigil.accounts.caller_audit import CallerAudit
from vigil.accounts.credentials import RecentCredentials
from vigil.accounts.passwords import check_password_rules
from vigil.accounts.schemas import UserCreate, UserUpdate
from vigil.accounts.sessions import live_fingerprints, revoke_user_sessions
from vigil.accounts.tables import NewUserRow, UserRow
from vigil.core.clock import utcnow
from vigil.core.errors import Conflict, Forbidden, InvalidInput
from vigil.core.permissions import ROLE_RANK, Permission, Role
from vigil.core.principal import Principal
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.settings import Settings


def create_user(engine: Engine, audit: CallerAudit, body: UserCreate) -> NewUserRow:
    """A new user of the caller's tenant; recorded as CREATE on USER."""
    principal = audit.principal
    _check_can_grant(principal, Role(body.role), frozenset(body.permissions))
    if body.password is not None:
        try:
            check_password_rules(body.password, email=body.email)
        except ValueError as error:
            raise InvalidInput("password", str(error)) from None
    with write_transaction(engine) as conn:
        user = users_service.create_user(
            conn,
            tenant_id=principal.tenant_id,
            email=body.email,
            name=body.name,
            role=body.role,
            password=body.password,
            permissions=frozenset(body.permissions),
        )
        _record_user(audit, conn, Action.CREATE, user, _identity(user))
    return user


def update_user(
    engine: Engine,
    audit: CallerAudit,
    user_id: uuid.UUID,
    body: UserUpdate,
    *,
    recent: RecentCredentials,
) -> UserRow:
    """Change name, email, role or granted permissions; recorded as UPDATE with what changed."""
    principal = audit.principal
    changes = _column_changes(body)
    with write_transaction(engine) as conn:
        target = users_service.get_user(conn, tenant_id=principal.tenant_id, user_id=user_id)
        _check_can_manage(principal, target)
        role = Role(changes.get("role", target["role"]))
        added = frozenset(body.permissions or ()) - users_service.granted(target)
        _check_can_grant(principal, role, added)
        user, changed = users_service.update_user(
            conn, tenant_id=principal.tenant_id, user_id=target["id"], changes=changes
        )
        if changed:
            _record_user(audit, conn, Action.UPDATE, user, change_details(changed))
        stale = live_fingerprints(conn, tenant_id=principal.tenant_id, user_id=target["id"])
    # What the user may do changed: their sessions are looked up afresh on their next call.
    recent.forget_all(stale)
    return user


def disable_user(
    engine: Engine, audit: CallerAudit, user_id: uuid.UUID, *, recent: RecentCredentials
) -> UserRow:
    """Disable the account, end its sessions and revoke its keys; its events stay."""
    principal = audit.principal
    with write_transaction(engine) as conn:
        target = users_service.get_user(conn, tenant_id=principal.tenant_id, user_id=user_id)
        _check_can_manage(principal, target)
        if principal.user_id == target["id"]:
            raise Conflict("you cannot disable your own account")
        if target["status"] == users_service.DISABLED:
            return target
        user, revoked = users_service.disable_user(
            conn, tenant_id=principal.tenant_id, user_id=target["id"]
        )
        revoked += revoke_user_sessions(
            conn, tenant_id=principal.tenant_id, user_id=target["id"], now=utcnow()
        )
        _record_user(audit, conn, Action.DELETE, user, _identity(user))
    recent.forget_all(revoked)
    return user


def issue_password_reset(
    engine: Engine, principal: Principal, settings: Settings, user_id: uuid.UUID
) -> password_reset.ResetMail:
    """A reset email for one of the caller's users, ready to send."""
    if not settings.email_configured:
        raise Conflict("email is not configured; print a link with `vigil user reset-link`")
    with write_transaction(engine) as conn:
        target = users_service.get_user(conn, tenant_id=principal.tenant_id, user_id=user_id)
        _check_can_manage(principal, target)
        if target["status"] != users_service.ACTIVE:
            raise Conflict("the account is disabled")
        link = password_reset.issue_link(conn, user=target, settings=settings, now=utcnow())
    return password_reset.ResetMail(to=target["email"], link=link)


def change_details(changed: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """What an UPDATE changed, in the platform's form: old/new for one field, else per field."""
    fields = sorted(changed)
    shown = {name: tuple(_shown(name, v) for v in pair) for name, pair in changed.items()}
    if len(fields) == 1:
        old, new = shown[fields[0]]
        return {"changed_fields": fields, "old_value": old, "new_value": new}
    return {
        "changed_fields": fields,
        "changes": {name: {"old": shown[name][0], "new": shown[name][1]} for name in fields},
    }


def can_change(principal: Principal, target: UserRow) -> bool:
    """Whether the caller may change this user at all (their rank is not above the caller's)."""
    return ROLE_RANK[Role(target["role"])] <= principal.rank


def grantable_roles(principal: Principal) -> list[Role]:
    """The roles the caller may give."""
    return [role for role in Role if ROLE_RANK[role] <= principal.rank]


def _shown(field: str, value: Any) -> Any:
    if field in ("permissions", "ip_allowlist"):  # kept comma-separated, shown as lists
        return [p for p in str(value).split(",") if p]
    if field == "working_hours":  # kept as JSON text
        return json.loads(value)
    return value


def _column_changes(body: UserUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is None:
            raise InvalidInput(field, "must not be null")
        if field == "role":
            value = value.value
        elif field == "permissions":
            value = ",".join(sorted({p.value for p in value}))
        changes[field] = value
    return changes


def _check_can_grant(principal: Principal, role: Role, permissions: frozenset[Permission]) -> None:
    if ROLE_RANK[role] > principal.rank:
        raise Forbidden(f"you cannot give the {role.value} role, which is above your own")
    beyond = permissions - principal.permissions
    if beyond:
        names = ", ".join(sorted(p.value for p in beyond))
        raise Forbidden(f"you cannot grant permissions you do not hold: {names}")


def _check_can_manage(principal: Principal, target: UserRow) -> None:
    if not can_change(principal, target):
        raise Forbidden("you cannot change a user whose role is above your own")


def _identity(user: NewUserRow) -> dict[str, Any]:
    return {"email": user["email"], "name": user["name"], "role": user["role"]}


def _record_user(
    audit: CallerAudit,
    conn: Connection,
    action: Action,
    user: NewUserRow,
    details: dict[str, Any],
) -> None:
    audit.record(
        conn,
        action=action,
        resource_type=ResourceType.USER,
        resource_id=str(user["id"]),
        details=details,
    )
