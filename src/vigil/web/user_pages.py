"""User Management: the list, a user's Profile tab, and the changes admins make there."""

from __future__ import annotations

import uuid
from typing import Any, get_args

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from vigil.accounts import management, password_reset
from vigil.accounts import users as users_service
from vigil.accounts.deps import recent_credentials
from vigil.accounts.schemas import UserCreate, UserUpdate
from vigil.accounts.tables import UserRow
from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep, ReadConnDep, SettingsDep
from vigil.core.errors import VigilError
from vigil.core.http import uuid_or_404
from vigil.core.permissions import ROLE_PERMISSIONS, Permission, Role
from vigil.people import service as people_service
from vigil.people.service import PeopleSort
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.forms import audit_of, notice_for, see_other, validation_message
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

USERS_PAGE_SIZE = 50


SHOW = {"": None, "accounts": True, "others": False}
SORTS: dict[str, PeopleSort] = {sort: sort for sort in get_args(PeopleSort)}


def _list_context(request: Request, me: ConsoleUser, conn: Any) -> dict[str, Any]:
    params = request.query_params
    text = (params.get("q") or "").strip()[:200]
    role_text = (params.get("role") or "").upper()
    role = Role(role_text) if role_text in Role.__members__ else None
    show = params.get("show") or ""
    show = show if show in SHOW else ""
    sort = SORTS.get(params.get("sort") or "", "last_active")
    page_text = params.get("page") or "1"
    page = max(1, min(int(page_text) if (page_text.isascii() and page_text.isdigit()) else 1, 1000))
    rows, total = people_service.list_people(
        conn,
        tenant_id=me.principal.tenant_id,
        filters=people_service.PeopleFilters(
            text=text or None,
            has_account=True if role else SHOW[show],
            role=role.value if role else None,
        ),
        sort=sort,
        limit=USERS_PAGE_SIZE,
        offset=(page - 1) * USERS_PAGE_SIZE,
        now=utcnow(),
    )
    new_email = (params.get("new_email") or "").strip()[:320]
    query = {"q": text, "role": role.value if role else "", "show": show, "sort": sort}
    return {
        "me": me,
        "section": "users",
        "people": rows,
        "total": total,
        "q": text,
        "role": role.value if role else "",
        "show": show,
        "sort": sort,
        "query": query,
        "page": page,
        "has_next": page * USERS_PAGE_SIZE < total,
        "roles": [r.value for r in Role],
        "grantable_roles": [r.value for r in management.grantable_roles(me.principal)],
        "notice": notice_for(request),
        **({"draft": {"email": new_email, "name": "", "role": ""}} if new_email else {}),
    }


@router.get("/users")
def users_list(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Everyone seen acting in the tenant's events and every account, searchable by name,
    id or email, filtered by account and role, sorted by last activity, actions or name."""
    return render(request, "users/list.html", _list_context(request, me, conn))


@router.post("/users")
async def users_create(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep
) -> Response:
    """Add a user; without a password they choose one through a reset link."""
    form = await request.form()
    body = {
        "email": str(form.get("email", "")).strip(),
        "name": str(form.get("name", "")).strip(),
        "role": str(form.get("role", "")),
        "password": str(form.get("password", "")) or None,
    }
    try:
        user = await run_in_threadpool(
            management.create_user, engine, audit_of(request, me), UserCreate(**body)
        )
    except (ValidationError, VigilError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        context = _list_context(request, me, conn)
        context.update(create_error=message, draft={**body, "password": ""})
        return render(request, "users/list.html", context, status_code=_status(error))
    return see_other(f"/ui/users/{user['id']}", "created")


def _profile_context(
    request: Request, me: ConsoleUser, user: UserRow, **extra: Any
) -> dict[str, Any]:
    return {
        "me": me,
        "section": "users",
        "user": user,
        "tab": "profile",
        "permissions": users_service.effective_permissions(user),
        "granted": users_service.granted(user),
        "role_permissions": ROLE_PERMISSIONS[Role(user["role"])],
        "all_permissions": [p.value for p in Permission],
        "grantable_roles": [r.value for r in management.grantable_roles(me.principal)],
        "may_change": me.can_manage and management.can_change(me.principal, user),
        "email_configured": request.app.state.settings.email_configured,
        "notice": notice_for(request),
        **extra,
    }


@router.get("/users/{user_id}")
def user_profile(request: Request, me: ConsoleDep, conn: ReadConnDep, user_id: str) -> Response:
    """An account's Profile tab; for a person who is not an account, their Activity tab."""
    key = uuid_or_404(user_id, what="user")
    user = users_service.find_user(conn, tenant_id=me.principal.tenant_id, user_id=key)
    if user is None:
        person = people_service.get_person(
            conn, tenant_id=me.principal.tenant_id, person_id=key, now=utcnow()
        )
        account = person["account"]
        if account is not None:  # a person's id, for an account: the account's page
            return RedirectResponse(f"/ui/users/{account['id']}", 303)
        return RedirectResponse(f"/ui/users/{person['id']}/activity", 303)
    seen = people_service.get_person(
        conn, tenant_id=me.principal.tenant_id, person_id=key, now=utcnow()
    )
    context = _profile_context(request, me, user, person=seen)
    return render(request, "users/profile.html", context)


@router.post("/users/{user_id}")
async def user_edit(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep, user_id: str
) -> Response:
    """Change a user's name, role and extra permissions."""
    target = uuid_or_404(user_id, what="user")
    form = await request.form()
    body = {
        "name": str(form.get("name", "")).strip(),
        "role": str(form.get("role", "")),
        "permissions": [str(p) for p in form.getlist("permissions")],
    }
    try:
        await run_in_threadpool(
            management.update_user,
            engine,
            audit_of(request, me),
            target,
            UserUpdate(**body),
            recent=recent_credentials(request),
        )
    except (ValidationError, VigilError) as error:
        return _profile_error(request, me, conn, target, error)
    return see_other(f"/ui/users/{target}", "saved")


@router.post("/users/{user_id}/disable")
async def user_disable(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep, user_id: str
) -> Response:
    """Disable the account: sessions end, keys are revoked, events stay."""
    target = uuid_or_404(user_id, what="user")
    try:
        await run_in_threadpool(
            management.disable_user,
            engine,
            audit_of(request, me),
            target,
            recent=recent_credentials(request),
        )
    except VigilError as error:
        return _profile_error(request, me, conn, target, error)
    return see_other(f"/ui/users/{target}", "disabled")


@router.post("/users/{user_id}/password-reset")
async def user_send_reset(
    request: Request,
    me: ConsoleDep,
    engine: EngineDep,
    conn: ReadConnDep,
    settings: SettingsDep,
    background: BackgroundTasks,
    user_id: str,
) -> Response:
    """Email the user a link to choose a new password."""
    target = uuid_or_404(user_id, what="user")
    try:
        mail = await run_in_threadpool(
            management.issue_password_reset, engine, me.principal, settings, target
        )
    except VigilError as error:
        return _profile_error(request, me, conn, target, error)
    background.add_task(password_reset.send_reset_mail, settings, mail)
    return see_other(f"/ui/users/{target}", "reset-sent")


def _profile_error(
    request: Request,
    me: ConsoleUser,
    conn: Any,
    target: uuid.UUID,
    error: ValidationError | VigilError,
) -> Response:
    user = users_service.get_user(conn, tenant_id=me.principal.tenant_id, user_id=target)
    message = validation_message(error) if isinstance(error, ValidationError) else str(error)
    context = _profile_context(request, me, user, error=message)
    return render(request, "users/profile.html", context, status_code=_status(error))


def _status(error: ValidationError | VigilError) -> int:
    return 422 if isinstance(error, ValidationError) else error.status_code
