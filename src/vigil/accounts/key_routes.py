"""HTTP for API keys: issue (shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Connection

from vigil.accounts import service as accounts
from vigil.accounts.caller_audit import CallerAudit, CallerAuditDep
from vigil.accounts.deps import Caller, forget_credentials
from vigil.accounts.tables import ApiKeyRow
from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import Forbidden
from vigil.core.http import FastJSONResponse, uuid_or_404
from vigil.core.pagination import PageQuery
from vigil.core.permissions import Permission
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType, no_nul
from vigil.events.wire import format_time

router = APIRouter(prefix="/api-keys", tags=["API keys"])


class KeyCreate(BaseModel):
    """A new key."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_nul)]
    scopes: list[Permission] = Field(min_length=1, description="What the key may do")


def key_json(row: ApiKeyRow) -> dict[str, Any]:
    """A key as the API shows it: never the key itself, which only its creator ever sees."""
    times: Final = ("created_at", "last_used_at", "revoked_at")
    return {
        "id": row["id"],
        "name": row["name"],
        "prefix": row["key_prefix"],
        "scopes": [s for s in row["scopes"].split(",") if s],
        "user_id": row["user_id"],
        **{t: format_time(at) if (at := row[t]) else None for t in times},
    }


@router.post("", status_code=201, summary="Issue an API key (shown once)")
def create_key(
    principal: Caller, audit: CallerAuditDep, engine: EngineDep, body: KeyCreate
) -> FastJSONResponse:
    """A new key with the given scopes, none beyond the caller's own; recorded as CREATE."""
    scopes = frozenset(body.scopes)
    beyond = scopes - principal.permissions
    if beyond:
        names = ", ".join(sorted(p.value for p in beyond))
        raise Forbidden(f"a key cannot carry permissions you do not hold: {names}")
    with write_transaction(engine) as conn:
        secret, row = accounts.create_api_key(
            conn,
            tenant_id=principal.tenant_id,
            name=body.name,
            scopes=scopes,
            user_id=principal.user_id,
        )
        _record(audit, conn, Action.CREATE, row)
    return FastJSONResponse({**key_json(row), "key": secret}, status_code=201)


@router.get("", summary="List API keys")
def list_keys(
    principal: Caller, conn: ReadConnDep, query: Annotated[PageQuery, Query()]
) -> FastJSONResponse:
    """The tenant's keys, newest first, revoked ones included, a page at a time."""
    rows, total = accounts.list_api_keys(
        conn, tenant_id=principal.tenant_id, limit=query.limit, offset=query.offset
    )
    return FastJSONResponse(
        {
            "items": [key_json(r) for r in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@router.delete("/{key_id}", summary="Revoke an API key")
def revoke_key(
    request: Request, principal: Caller, audit: CallerAuditDep, engine: EngineDep, key_id: str
) -> FastJSONResponse:
    """Revoke a key at once; recorded as DELETE. Revoking it again changes nothing."""
    with write_transaction(engine) as conn:
        row, revoked = accounts.revoke_api_key(
            conn,
            tenant_id=principal.tenant_id,
            key_id=uuid_or_404(key_id, what="API key"),
            now=utcnow(),
        )
        if revoked:
            _record(audit, conn, Action.DELETE, row)
    forget_credentials(request, [row["key_hash"]])
    return FastJSONResponse(key_json(row))


def _record(audit: CallerAudit, conn: Connection, action: Action, row: ApiKeyRow) -> None:
    audit.record(
        conn,
        action=action,
        resource_type=ResourceType.API_KEY,
        resource_id=str(row["id"]),
        details={"name": row["name"], "scopes": row["scopes"], "prefix": row["key_prefix"]},
    )
