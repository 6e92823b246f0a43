"""HTTP for user management: create, list, read, change, disable."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request
from pydantic import Field

from vigil.accounts import management, password_reset
from vigil.accounts import users as users_service
from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller, recent_credentials
from vigil.accounts.schemas import UserCreate, UserOut, UserPage, UserUpdate
from vigil.accounts.tables import NewUserRow
from vigil.core.deps import EngineDep, ReadConnDep, SettingsDep
from vigil.core.http import FastJSONResponse, errors, uuid_or_404
from vigil.core.pagination import PageQuery
from vigil.core.permissions import Role
from vigil.events.wire import format_time

router = APIRouter(tags=["users"])


class UserListQuery(PageQuery):
    """``GET /users``."""

    q: str | None = Field(default=None, max_length=200, description="Part of a name or email")
    role: Role | None = None
    status: Literal["ACTIVE", "DISABLED"] | None = None
    sort: Literal["email", "last_login_at", "last_active_at"] = "email"


def user_json(row: NewUserRow) -> dict[str, Any]:
    """A user as the API shows it (never the password hash)."""
    optional_times: Final = ("last_login_at", "last_active_at")
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "permissions": sorted(p.value for p in users_service.effective_permissions(row)),
        "status": row["status"],
        "created_at": format_time(row["created_at"]),
        **{k: format_time(at) if (at := row[k]) else None for k in optional_times},
        "two_factor_enabled": bool(row.get("totp_enabled", False)),
    }


@router.post(
    "/users",
    status_code=201,
    response_model=UserOut,
    summary="Create a user",
    responses=errors(409),
)
def create_user(
    principal: Caller, audit: CallerAuditDep, engine: EngineDep, body: UserCreate
) -> FastJSONResponse:
    """Create a user of the caller's tenant; recorded as CREATE on USER."""
    return FastJSONResponse(user_json(management.create_user(engine, audit, body)), 201)


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


@router.patch(
    "/users/{user_id}", response_model=UserOut, summary="Change a user", responses=errors(409)
)
def update_user(
    request: Request,
    principal: Caller,
    audit: CallerAuditDep,
    engine: EngineDep,
    user_id: str,
    body: UserUpdate,
) -> FastJSONResponse:
    """Change name, email, role or granted permissions; recorded as UPDATE with what changed."""
    target = uuid_or_404(user_id, what="user")
    recent = recent_credentials(request)
    return FastJSONResponse(
        user_json(management.update_user(engine, audit, target, body, recent=recent))
    )


@router.delete(
    "/users/{user_id}", response_model=UserOut, summary="Disable a user", responses=errors(409)
)
def delete_user(
    request: Request, principal: Caller, audit: CallerAuditDep, engine: EngineDep, user_id: str
) -> FastJSONResponse:
    """Disable the account and revoke its keys; its events stay as they were written."""
    target = uuid_or_404(user_id, what="user")
    recent = recent_credentials(request)
    return FastJSONResponse(
        user_json(management.disable_user(engine, audit, target, recent=recent))
    )


@router.post(
    "/users/{user_id}/password-reset",
    status_code=202,
    summary="Email a user a reset link",
    responses=errors(409),
)
def send_password_reset(
    principal: Caller,
    engine: EngineDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    user_id: str,
) -> FastJSONResponse:
    """Email the user a single-use link to choose a new password."""
    target = uuid_or_404(user_id, what="user")
    mail = management.issue_password_reset(engine, principal, settings, target)
    background.add_task(password_reset.send_reset_mail, settings, mail)
    return FastJSONResponse({"detail": f"a reset link is on its way to {mail.to}"}, 202)
