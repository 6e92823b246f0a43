"""Who is calling, and what they may do: resolved once per request from the credential."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from vigil.accounts.service import Principal, authenticate_api_key
from vigil.core.deps import EngineDep
from vigil.core.errors import Forbidden, Unauthenticated
from vigil.core.permissions import READ_ACTIVITY, Permission


async def get_principal(request: Request, engine: EngineDep) -> Principal:
    """The caller behind ``Authorization: Bearer …``; 401 when missing or invalid."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing credential: send Authorization: Bearer <API key>")

    def lookup() -> Principal | None:
        with engine.connect() as conn:
            return authenticate_api_key(conn, secret=token.strip())

    principal = await run_in_threadpool(lookup)
    if principal is None:
        raise Unauthenticated("invalid or revoked credential")
    request.state.principal = principal
    return principal


def require_any(*needed: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers that hold at least one of ``needed``."""
    wanted = frozenset(needed)
    names = " or ".join(sorted(p.value for p in needed))

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.permissions & wanted:
            raise Forbidden(f"this needs the {names} permission")
        return principal

    return check


ActivityReader = Annotated[Principal, Depends(require_any(*READ_ACTIVITY))]
EventsWriter = Annotated[Principal, Depends(require_any(Permission.EVENTS_WRITE))]
