"""Who is calling, and what they may do: resolved once per request from the credential."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from vigil.accounts.access import rule_for
from vigil.accounts.service import Principal, authenticate_api_key, hash_api_key
from vigil.core.deps import EngineDep
from vigil.core.errors import Forbidden, Unauthenticated


class _RecentKeys:
    """Keys seen valid in the last few seconds, so busy producers skip a lookup per request.

    Only successes are kept, for ``TTL_SECONDS``: a revoked key stops working everywhere
    within that time, and made-up keys cannot fill the cache.
    """

    TTL_SECONDS = 5.0
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, fingerprint: str) -> Principal | None:
        found = self._entries.get(fingerprint)
        if found is None:
            return None
        if found[0] < time.monotonic():
            self._entries.pop(fingerprint, None)
            return None
        return found[1]

    def forget(self, fingerprint: str) -> None:
        self._entries.pop(fingerprint, None)

    def put(self, fingerprint: str, principal: Principal) -> None:
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[fingerprint] = (time.monotonic() + self.TTL_SECONDS, principal)


# Single dict operations are atomic, and a stale read costs at most one extra lookup.
_recent_keys = _RecentKeys()


def forget_api_keys(fingerprints: list[str]) -> None:
    """Stop trusting revoked keys on this node at once (other nodes within the TTL)."""
    for fingerprint in fingerprints:
        _recent_keys.forget(fingerprint)


async def get_principal(request: Request, engine: EngineDep) -> Principal:
    """The caller behind ``Authorization: Bearer …``; 401 when missing or invalid."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing credential: send Authorization: Bearer <API key>")

    def lookup() -> Principal | None:
        with engine.connect() as conn:
            return authenticate_api_key(conn, secret=token.strip())

    fingerprint = hash_api_key(token)  # the cache never holds the key itself
    principal = _recent_keys.get(fingerprint)
    if principal is None:
        principal = await run_in_threadpool(lookup)
        if principal is None:
            raise Unauthenticated("invalid or revoked credential")
        _recent_keys.put(fingerprint, principal)
    request.state.principal = principal
    return principal


async def authorize(request: Request, engine: EngineDep) -> Principal:
    """The caller, admitted only with a permission the route's rule in access.toml names."""
    route = request.scope["route"]
    rule = rule_for(request.method, route.path)
    principal = await get_principal(request, engine)
    if not rule.public and not principal.permissions & rule.any_of:
        raise Forbidden(f"this needs the {rule.describe()} permission")
    return principal


Caller = Annotated[Principal, Depends(authorize)]
