"""My profile: what I may do, my password, my two-factor authentication. Open to everyone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from markupsafe import Markup
from sqlalchemy import Engine

from vigil.accounts import password_change, two_factor_actions
from vigil.accounts import users as users_service
from vigil.accounts.deps import SESSION_COOKIE, forget_credentials
from vigil.core.deps import EngineDep, SettingsDep
from vigil.core.errors import VigilError
from vigil.core.tokens import fingerprint
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.forms import NOTICES, audit_of, notice_for, see_other
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)


def _me_context(request: Request, me: ConsoleUser, engine: Engine, **extra: Any) -> dict[str, Any]:
    assert me.principal.user_id is not None
    with engine.connect() as conn:
        user = users_service.get_user(
            conn, tenant_id=me.principal.tenant_id, user_id=me.principal.user_id
        )
    limited = me.principal.two_factor_setup_required
    return {
        "me": me,
        "section": "me",
        "user": user,
        "permissions": users_service.effective_permissions(user),
        "limited": limited,  # may only set up 2FA (the organisation requires it)
        "notice": notice_for(request) or (NOTICES["two-factor"] if limited else None),
        **extra,
    }


@router.get("/me")
def my_profile(request: Request, me: ConsoleDep, engine: EngineDep) -> Response:
    """Who I am, what I may do, and my sign-in security."""
    return render(request, "me/profile.html", _me_context(request, me, engine))


@router.post("/me/password")
async def my_password(
    request: Request, me: ConsoleDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Change my password; my other sessions end."""
    assert me.principal.user_id is not None
    form = await request.form()
    new_password = str(form.get("new_password", ""))[:300]
    if new_password != str(form.get("confirm_password", ""))[:300]:
        mismatch = "The two new passwords differ."
        context = _me_context(request, me, engine, password_error=mismatch)
        return render(request, "me/profile.html", context, status_code=422)
    try:
        ended = await run_in_threadpool(
            password_change.change_password,
            engine,
            audit=audit_of(request, me),
            user_id=me.principal.user_id,
            current_password=str(form.get("current_password", ""))[:300],
            new_password=new_password,
            settings=settings,
        )
    except VigilError as error:
        context = _me_context(request, me, engine, password_error=str(error))
        return render(request, "me/profile.html", context, status_code=error.status_code)
    forget_credentials(request, ended)
    return see_other("/ui/me", "password-changed")


@router.post("/me/two-factor/setup")
def my_two_factor_setup(
    request: Request, me: ConsoleDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    """A new secret and QR code for my authenticator app."""
    try:
        setup: dict[str, Any] = two_factor_actions.begin_setup(
            engine, me.principal, secret_key=settings.secret_key
        )
    except VigilError:  # already on: nothing to set up
        return see_other("/ui/me")
    # The QR code is SVG Vigil drew itself from the otpauth URI: safe to place as markup.
    setup["qr_svg"] = Markup(setup["qr_svg"])  # noqa: S704
    return render(request, "me/profile.html", _me_context(request, me, engine, setup=setup))


@router.post("/me/two-factor/enable")
async def my_two_factor_enable(
    request: Request, me: ConsoleDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Turn 2FA on with a code from the app; shows the recovery codes, once."""
    code = str((await request.form()).get("code", "")).strip()[:64]
    try:
        codes = await run_in_threadpool(
            two_factor_actions.turn_on,
            engine,
            audit_of(request, me),
            code=code,
            secret_key=settings.secret_key,
        )
    except VigilError:
        problem = "That code did not match. Set up again and use a fresh code."
        context = _me_context(request, me, engine, two_factor_error=problem)
        return render(request, "me/profile.html", context, status_code=422)
    if me.principal.two_factor_setup_required:  # the session was limited until now
        forget_credentials(request, [fingerprint(request.cookies.get(SESSION_COOKIE, ""))])
    context = _me_context(request, me, engine, recovery_codes=codes, limited=False)
    return render(request, "me/profile.html", context)


@router.post("/me/two-factor/disable")
async def my_two_factor_disable(
    request: Request, me: ConsoleDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Turn 2FA off with a current or recovery code, unless the organisation requires it."""
    code = str((await request.form()).get("code", "")).strip()[:64]
    try:
        await run_in_threadpool(
            two_factor_actions.turn_off,
            engine,
            audit_of(request, me),
            code=code,
            secret_key=settings.secret_key,
        )
    except VigilError as error:
        message = (
            "Your organisation requires two-factor authentication for admins."
            if error.status_code == 409
            else "That is not a current code or an unused recovery code."
        )
        context = _me_context(request, me, engine, two_factor_error=message)
        return render(request, "me/profile.html", context, status_code=error.status_code)
    return see_other("/ui/me", "2fa-off")
