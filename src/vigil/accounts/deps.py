"""Who is calling, and what they may do: resolved once per request from the credential."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from vigil.accounts import two_factor
from vigil.accounts.access import AccessRule, rule_for
from vigil.accounts.credentials import RecentCredentials
from vigil.accounts.service import authenticate_api_key
from vigil.accounts.sessions import SESSION_PREFIX, find_session, session_permissions
from vigil.core.clock import utcnow
from vigil.core.deps import EngineDep
from vigil.core.errors import Forbidden, Unauthenticated
from vigil.core.http import client_ip
from vigil.core.principal import Principal
from vigil.core.tokens import fingerprint
from vigil.tenants.allowlist import from_stored, is_allowed


def recent_credentials(request: Request) -> RecentCredentials:
    """The app's cache of credentials seen valid a moment ago."""
    cache: RecentCredentials = request.app.state.credentials
    return cache


def forget_tenant_credentials(request: Request, tenant_id: uuid.UUID) -> None:
    """Look every credential of the tenant up afresh (its settings changed)."""
    recent_credentials(request).forget_tenant(tenant_id)


def forget_credentials(request: Request, token_ids: list[str]) -> None:
    """Stop trusting revoked keys or sessions on this node at once (others within the TTL)."""
    recent_credentials(request).forget_all(token_ids)


SESSION_COOKIE = "vigil_session"
# Browsers send cookies with cross-site form posts, so until a request proves it came from
# Vigil's own pages (the console's CSRF token), a cookie only authenticates safe reads.
COOKIE_METHODS = frozenset({"GET", "HEAD"})


def presented_token(request: Request) -> str | None:
    """The credential of a request: its bearer token, or the console's session cookie."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    if request.method in COOKIE_METHODS:
        return request.cookies.get(SESSION_COOKIE) or None
    return None


def lookup_credential(engine: Engine, token: str) -> Principal | None:
    """Who a credential belongs to, read from the database now (no cache); None when it
    is invalid, expired or revoked."""
    with engine.connect() as conn:
        if token.startswith(SESSION_PREFIX):
            found = find_session(conn, token=token, now=utcnow())
            if found is None:
                return None
            permissions, rank = session_permissions(found)
            return Principal(
                tenant_id=found["tenant_id"],
                permissions=permissions,
                user_id=found["id"],
                user_email=found["email"],
                role_rank=rank,
                session_id=found["session_id"],
                allowed_networks=from_stored(found["ip_allowlist"]),
                two_factor_setup_required=two_factor.setup_required(
                    found, tenant_requires_it=found["require_2fa_for_admins"]
                ),
            )
        return authenticate_api_key(conn, secret=token)


async def principal_for(
    engine: Engine, token: str, *, recent: RecentCredentials
) -> Principal | None:
    """Who a credential belongs to; None when it is invalid, expired or revoked."""
    token_id = fingerprint(token)  # the cache never holds the credential itself
    principal = recent.get(token_id)
    if principal is None:
        principal = await run_in_threadpool(lookup_credential, engine, token)
        if principal is not None:
            recent.put(token_id, principal)
    return principal


async def get_principal(request: Request, engine: EngineDep) -> Principal:
    """The caller behind the request's credential; 401 when missing or invalid."""
    token = presented_token(request)
    if not token:
        raise Unauthenticated("missing credential: send Authorization: Bearer <API key or session>")
    principal = await principal_for(engine, token, recent=recent_credentials(request))
    if principal is None:
        raise Unauthenticated("invalid, expired or revoked credential")
    request.state.principal = principal
    return principal


def set_session_cookie(
    request: Request, response: Response, *, token: str, max_age_seconds: int
) -> None:
    """Hand the browser its session: unreadable to scripts, withheld from cross-site posts."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


SESSION_ONLY = (
    "this is for a signed-in person, not an API key: sign in with POST /auth/login and send "
    "the session token instead"
)


class TwoFactorSetupPending(Forbidden):
    """An admin who must turn two-factor authentication on before anything else."""


def admit(principal: Principal, rule: AccessRule, address: str | None) -> None:
    """Raise ``Forbidden`` unless the route's rule admits the caller from ``address`` (and,
    for a session-only route, with a session rather than an API key): the one check behind
    the API and the console alike."""
    if not is_allowed(address, principal.allowed_networks):
        raise Forbidden("your address is not on this tenant's IP allowlist")
    if principal.two_factor_setup_required and not rule.during_2fa_setup:
        raise TwoFactorSetupPending(
            "this tenant requires two-factor authentication for admins: turn it on with "
            "POST /auth/2fa/setup and POST /auth/2fa/enable first"
        )
    if rule.session_only and principal.session_id is None:
        raise Forbidden(SESSION_ONLY)
    if rule.any_of and not principal.permissions & rule.any_of:
        raise Forbidden(f"this needs the {rule.describe()} permission")


async def admit_request(request: Request, rule: AccessRule) -> Principal:
    """The caller of ``request``, admitted by ``rule`` (a permission it names, an address
    the tenant's IP allowlist admits, 2FA set up where required); raises ``Unauthenticated``
    (401) or ``Forbidden`` (403). A signed-in person's activity is noted for presence."""
    state = request.app.state
    principal = await get_principal(request, state.engine)
    admit(principal, rule, client_ip(request))
    if principal.session_id is not None and principal.user_id is not None:
        state.presence.note(principal.tenant_id, principal.user_id)
    return principal


async def authorize(request: Request) -> Principal:
    """The caller, admitted by the route's rule in access.toml (see ``admit_request``)."""
    # Every API request resolves this, so it reads the app's state itself: nested
    # dependencies cost FastAPI a measurable share of each request.
    return await admit_request(request, rule_for(request.method, request.scope["route"].path))


Caller = Annotated[Principal, Depends(authorize)]
