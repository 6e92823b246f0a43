"""HTTP for user management: create, list, read, change, disable."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from vigil.accounts import password_reset
from vigil.accounts import users as users_service
from vigil.accounts.audit import AccountAudit, AuditDep
from vigil.accounts.deps import Caller, forget_credentials
from vigil.accounts.passwords import check_password_rules
from vigil.accounts.schemas import UserCreate, UserOut, UserPage, UserUpdate
from vigil.accounts.service import Principal
from vigil.accounts.sessions import live_fingerprints, revoke_user_sessions
from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep, ReadConnDep, SettingsDep
from vigil.core.errors import Conflict, Forbidden, InvalidInput
from vigil.core.http import FastJSONResponse, uuid_or_404
from vigil.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from vigil.core.permissions import ROLE_RANK, Permission, Role
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.events.wire import format_time

router = APIRouter(tags=["users"])


class UserListQuery(BaseModel):
    """``GET /users``."""

    q: str | None = Field(default=None, max_length=200, description="Part of a name or email")
    role: Role | None = None
    status: Literal["ACTIVE", "DISABLED"] | None = None
    sort: Literal["email", "last_login_at", "last_active_at"] = "email"
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """A user as the API shows it (never the password hash)."""
    optional_times = ("last_login_at", "last_active_at")
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "permissions": sorted(p.value for p in users_service.effective_permissions(row)),
        "status": row["status"],
        "created_at": format_time(row["created_at"]),
        **{k: format_time(row[k]) if row[k] else None for k in optional_times},
        "two_factor_enabled": bool(row.get("totp_enabled", False)),
    }


@router.post("/users", status_code=201, response_model=UserOut, summary="Create a user")
def create_user(
    principal: Caller, audit: AuditDep, engine: EngineDep, body: UserCreate
) -> FastJSONResponse:
    """Create a user of the caller's tenant; recorded as CREATE on USER."""
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
    return FastJSONResponse(user_json(user), status_code=201)


@router.get("/users", response_model=UserPage, summary="List and search users")
def list_users(
    principal: Caller, conn: ReadConnDep, query: Annotated[UserListQuery, Query()]
) -> FastJSONResponse:
    """Search by name or email, filter by role and status, sort, page."""
    filters = users_service.UserFilters(
        text=(query.q or "").strip() or None, role=query.role, status=query.status
    )
    rows, total = users_service.list_users(
        conn,
        tenant_id=principal.tenant_id,
        filters=filters,
        sort=query.sort,
        limit=query.limit,
        offset=query.offset,
    )
    return FastJSONResponse(
        {
            "items": [user_json(r) for r in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@router.get("/users/{user_id}", response_model=UserOut, summary="One user")
def get_user(principal: Caller, conn: ReadConnDep, user_id: str) -> FastJSONResponse:
    """One user of the caller's tenant."""
    row = users_service.get_user(
        conn, tenant_id=principal.tenant_id, user_id=uuid_or_404(user_id, what="user")
    )
    return FastJSONResponse(user_json(row))


@router.patch("/users/{user_id}", response_model=UserOut, summary="Change a user")
def update_user(
    principal: Caller, audit: AuditDep, engine: EngineDep, user_id: str, body: UserUpdate
) -> FastJSONResponse:
    """Change name, email, role or granted permissions; recorded as UPDATE with what changed."""
    changes = _column_changes(body)
    with write_transaction(engine) as conn:
        target = users_service.get_user(
            conn, tenant_id=principal.tenant_id, user_id=uuid_or_404(user_id, what="user")
        )
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
    forget_credentials(stale)
    return FastJSONResponse(user_json(user))


@router.delete("/users/{user_id}", response_model=UserOut, summary="Disable a user")
def delete_user(
    principal: Caller, audit: AuditDep, engine: EngineDep, user_id: str
) -> FastJSONResponse:
    """Disable the account and revoke its keys; its events stay as they were written."""
    with write_transaction(engine) as conn:
        target = users_service.get_user(
            conn, tenant_id=principal.tenant_id, user_id=uuid_or_404(user_id, what="user")
        )
        _check_can_manage(principal, target)
        if principal.user_id == target["id"]:
            raise Conflict("you cannot disable your own account")
        if target["status"] == users_service.DISABLED:
            return FastJSONResponse(user_json(target))
        user, revoked = users_service.disable_user(
            conn, tenant_id=principal.tenant_id, user_id=target["id"]
        )
        revoked += revoke_user_sessions(
            conn, tenant_id=principal.tenant_id, user_id=target["id"], now=utcnow()
        )
        _record_user(audit, conn, Action.DELETE, user, _identity(user))
    forget_credentials(revoked)
    return FastJSONResponse(user_json(user))


@router.post(
    "/users/{user_id}/password-reset", status_code=202, summary="Email a user a reset link"
)
def send_password_reset(
    principal: Caller,
    engine: EngineDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    user_id: str,
) -> FastJSONResponse:
    """Email the user a single-use link to choose a new password."""
    if not settings.email_configured:
        raise Conflict("email is not configured; print a link with `vigil user reset-link`")
    with write_transaction(engine) as conn:
        target = users_service.get_user(
            conn, tenant_id=principal.tenant_id, user_id=uuid_or_404(user_id, what="user")
        )
        _check_can_manage(principal, target)
        if target["status"] != users_service.ACTIVE:
            raise Conflict("the account is disabled")
        link = password_reset.issue_link(conn, user=target, settings=settings, now=utcnow())
    mail = password_reset.ResetMail(to=target["email"], link=link)
    background.add_task(password_reset.send_reset_mail, settings, mail)
    return FastJSONResponse({"detail": f"a reset link is on its way to {target['email']}"}, 202)


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


def _shown(field: str, value: Any) -> Any:
    if field in ("permissions", "ip_allowlist"):  # kept comma-separated, shown as lists
        return [p for p in str(value).split(",") if p]
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


def _check_can_manage(principal: Principal, target: dict[str, Any]) -> None:
    if ROLE_RANK[Role(target["role"])] > principal.rank:
        raise Forbidden("you cannot change a user whose role is above your own")


def _identity(user: dict[str, Any]) -> dict[str, Any]:
    return {"email": user["email"], "name": user["name"], "role": user["role"]}


def _record_user(
    audit: AccountAudit,
    conn: Connection,
    action: Action,
    user: dict[str, Any],
    details: dict[str, Any],
) -> None:
    audit.record(
        conn,
        action=action,
        resource_type=ResourceType.USER,
        resource_id=str(user["id"]),
        details=details,
    )
