"""Settings → API keys: the tenant's keys, a new one (its secret shown once), revoking one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import Connection

from vigil.accounts import key_actions
from vigil.accounts import service as accounts
from vigil.accounts.deps import forget_credentials
from vigil.accounts.key_routes import KeyCreate
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import VigilError
from vigil.core.http import uuid_or_404
from vigil.core.pagination import MAX_LIMIT
from vigil.core.permissions import Permission
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.forms import audit_of, notice_for, see_other, validation_message
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

PAGE = "/ui/settings/api-keys"


def _context(request: Request, me: ConsoleUser, conn: Connection, **extra: Any) -> dict[str, Any]:
    keys, total = accounts.list_api_keys(
        conn, tenant_id=me.principal.tenant_id, limit=MAX_LIMIT, offset=0
    )
    return {
        "me": me,
        "section": "settings",
        "keys": [{**key, "scope_names": key["scopes"].split(",")} for key in keys],
        "more_keys": total - len(keys),
        # A key can carry only what its creator holds.
        "scopes": [p.value for p in Permission if p in me.principal.permissions],
        "notice": notice_for(request),
        **extra,
    }


@router.get("/settings/api-keys")
def api_keys_page(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Every key of the tenant, newest first, revoked ones included; never a secret."""
    return render(request, "settings/api_keys.html", _context(request, me, conn))


@router.post("/settings/api-keys")
async def create_key(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep
) -> Response:
    """Issue a key and show its secret on this answer only (pages are never cached)."""
    form = await request.form()
    draft = {"name": str(form.get("name", "")).strip(), "scopes": form.getlist("scopes")}
    try:
        body = KeyCreate.model_validate(draft)
        secret, row = await run_in_threadpool(
            key_actions.issue_key,
            engine,
            audit_of(request, me),
            name=body.name,
            scopes=frozenset(body.scopes),
        )
    except (ValidationError, VigilError) as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        status = error.status_code if isinstance(error, VigilError) else 422
        context = _context(request, me, conn, error=message, draft=draft)
        return render(request, "settings/api_keys.html", context, status_code=status)
    context = _context(request, me, conn, new_key={"secret": secret, "row": row})
    return render(request, "settings/api_keys.html", context, status_code=201)


@router.post("/settings/api-keys/{key_id}/revoke")
async def revoke_key(request: Request, me: ConsoleDep, engine: EngineDep, key_id: str) -> Response:
    """Revoke a key at once; it stops working on every node within the credential cache's
    lifetime, on this one immediately."""
    target = uuid_or_404(key_id, what="API key")
    row = await run_in_threadpool(
        key_actions.revoke_key, engine, audit_of(request, me), key_id=target
    )
    forget_credentials(request, [row["key_hash"]])
    return see_other(PAGE, "key-revoked")
