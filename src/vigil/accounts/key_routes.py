"""HTTP for API keys: issue (shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vigil.accounts import key_actions
from vigil.accounts import service as accounts
from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import Caller, forget_credentials
from vigil.accounts.tables import ApiKeyRow
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.http import FastJSONResponse, uuid_or_404
from vigil.core.pagination import PageQuery
from vigil.core.permissions import Permission
from vigil.events.schemas import no_nul
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
    secret, row = key_actions.issue_key(
        engine, audit, name=body.name, scopes=frozenset(body.scopes)
    )
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
    row = key_actions.revoke_key(engine, audit, key_id=uuid_or_404(key_id, what="API key"))
    forget_credentials(request, [row["key_hash"]])
    return FastJSONResponse(key_json(row))
