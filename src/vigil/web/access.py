"""Who is using the console: the session cookie, the route's rule in access.toml, and CSRF.

The API answers 401/403 as JSON; the console sends people to the sign-in page, or shows
them a page saying what they lack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from vigil.accounts.access import rule_for
from vigil.accounts.deps import (
    SESSION_COOKIE,
    TwoFactorSetupPending,
    admit,
    principal_for,
    recent_credentials,
)
from vigil.accounts.sessions import SESSION_PREFIX
from vigil.accounts.tables import UserRow
from vigil.accounts.users import get_user
from vigil.core.deps import EngineDep, SettingsDep
from vigil.core.errors import Forbidden
from vigil.core.http import client_ip
from vigil.core.permissions import READ_ACTIVITY, Permission
from vigil.core.principal import Principal
from vigil.core.tokens import fingerprint
from vigil.notifications.service import unread_count
from vigil.tenants.service import get_tenant
from vigil.web import csrf


class SignInRequired(Exception):
    """No valid session: off to the sign-in page, coming back to ``next_url`` after."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in first")
        self.next_url = next_url


class ConsoleForbidden(Exception):
    """Signed in, but not allowed this page; the message says what is missing."""


class TwoFactorSetupRequired(Exception):
    """An admin who must turn 2FA on before anything else."""


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The signed-in user, as every page shows them."""

    principal: Principal
    name: str
    email: str
    role: str
    tenant_name: str
    csrf_token: str
    unread: int  # in-app notifications not yet read, shown in the header

    @property
    def can_view(self) -> bool:
        """May read activity logs and users."""
        return bool(self.principal.permissions & READ_ACTIVITY)

    @property
    def can_manage(self) -> bool:
        """May change users and settings."""
        return Permission.USER_MANAGE in self.principal.permissions


class _Profile(UserRow):
    """The signed-in user's row, their tenant's name and their unread count."""

    tenant_name: str
    unread: int


def _profile(engine: Engine, principal: Principal) -> _Profile:
    assert principal.user_id is not None  # sessions always belong to a user
    with engine.connect() as conn:
        user = get_user(conn, tenant_id=principal.tenant_id, user_id=principal.user_id)
        tenant = get_tenant(conn, tenant_id=principal.tenant_id)
        unread = unread_count(conn, tenant_id=principal.tenant_id, user_id=principal.user_id)
    return {**user, "tenant_name": tenant["name"], "unread": unread}


async def console_user(request: Request, engine: EngineDep, settings: SettingsDep) -> ConsoleUser:
    """The signed-in user, admitted to this page by its rule in access.toml."""
    rule = rule_for(request.method, request.scope["route"].path)
    token = request.cookies.get(SESSION_COOKIE, "")
    recent = recent_credentials(request)
    principal = (
        await principal_for(engine, token, recent=recent)
        if token.startswith(SESSION_PREFIX)
        else None
    )
    if principal is None or principal.user_id is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(here if request.method == "GET" else "/ui/")
    binding = fingerprint(token)
    if request.method == "POST":
        await csrf.verify(request, secret_key=settings.secret_key, binding=binding)
    request.app.state.presence.note(principal.tenant_id, principal.user_id)
    profile = await run_in_threadpool(_profile, engine, principal)
    user = ConsoleUser(
        principal=principal,
        name=profile["name"],
        email=profile["email"],
        role=profile["role"],
        tenant_name=profile["tenant_name"],
        unread=profile["unread"],
        csrf_token=csrf.token_for(settings.secret_key, binding),
    )
    request.state.console_user = user  # error pages keep the sidebar
    try:
        admit(principal, rule, client_ip(request))
    except TwoFactorSetupPending:
        raise TwoFactorSetupRequired() from None
    except Forbidden as refused:
        raise ConsoleForbidden(refused.message[:1].upper() + refused.message[1:] + ".") from None
    return user


ConsoleDep = Annotated[ConsoleUser, Depends(console_user)]
