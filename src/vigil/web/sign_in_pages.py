"""Sign in (with a second step for the authenticator code), sign out, forgotten passwords."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import Engine

from vigil.accounts import login, password_reset
from vigil.accounts.deps import SESSION_COOKIE, forget_credentials, set_session_cookie
from vigil.core.deps import EngineDep, SettingsDep
from vigil.core.errors import InvalidInput, TooManyRequests, Unauthenticated
from vigil.core.http import client_ip
from vigil.core.tokens import fingerprint
from vigil.settings import Settings
from vigil.web import csrf
from vigil.web.access import ConsoleDep
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

# How long the code page stays valid after the password was accepted.
CODE_STEP_SECONDS = 300


def _pending_signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="vigil-console-2fa-step")


def _safe_next(raw: str | None) -> str:
    """Only a path inside the console: never a redirect to another site."""
    if raw and raw.startswith("/ui/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/ui/"


def _anonymous_page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    settings: Settings = request.app.state.settings
    token = csrf.token_for(settings.secret_key, csrf.anonymous_binding(request))
    page = render(request, template, {**context, "csrf_token": token}, status_code=status_code)
    csrf.keep_anonymous_binding(request, page)
    return page


async def _check_anonymous_form(request: Request, settings: Settings) -> None:
    binding = csrf.anonymous_binding(request)
    await csrf.verify(request, secret_key=settings.secret_key, binding=binding)


@router.get("/login")
def login_page(request: Request, next: str | None = None, tenant: str | None = None) -> Response:
    """The sign-in form."""
    return _anonymous_page(
        request, "sign_in/login.html", {"next": _safe_next(next), "tenant": tenant or ""}
    )


@router.post("/login")
async def login_submit(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """Check the password; then in, or on to the code page, or back with one message."""
    await _check_anonymous_form(request, settings)
    form = await request.form()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    next_url, tenant = _safe_next(str(form.get("next", ""))), str(form.get("tenant", ""))
    context = {"next": next_url, "tenant": tenant, "email": email}
    if not email.strip() or not password:
        return _anonymous_page(
            request,
            "sign_in/login.html",
            {**context, "error": "Enter your email and password."},
            status_code=422,
        )
    attempt = login.SignInRequest(
        email=email[:320],
        password=password[:256],
        tenant_hint=tenant or None,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        ask_for_code=True,
    )
    try:
        return await _finish(request, engine, settings, attempt, next_url)
    except login.SecondFactorNeeded as needed:
        pending = _pending_signer(settings).dumps({"user": str(needed.user_id), "email": email})
        return _anonymous_page(
            request, "sign_in/code.html", {"pending": pending, "next": next_url, "tenant": tenant}
        )
    except (Unauthenticated, TooManyRequests) as refused:
        return _anonymous_page(
            request,
            "sign_in/login.html",
            {**context, "error": _refusal(refused)},
            status_code=refused.status_code,
        )


@router.post("/login/code")
async def login_code_submit(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """The second step: the authenticator code (or a recovery code)."""
    await _check_anonymous_form(request, settings)
    form = await request.form()
    pending, code = str(form.get("pending", "")), str(form.get("code", "")).strip()
    next_url, tenant = _safe_next(str(form.get("next", ""))), str(form.get("tenant", ""))
    try:
        step = _pending_signer(settings).loads(pending, max_age=CODE_STEP_SECONDS)
        proven_user = uuid.UUID(step["user"])
    except (BadData, KeyError, TypeError, ValueError):
        return _anonymous_page(
            request,
            "sign_in/login.html",
            {"next": next_url, "tenant": tenant, "error": "That took too long; sign in again."},
            status_code=400,
        )
    attempt = login.SignInRequest(
        email=str(step["email"]),
        password="",
        tenant_hint=tenant or None,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        totp_code=code[:64] or None,
        ask_for_code=False,
        proven_user=proven_user,
    )
    try:
        return await _finish(request, engine, settings, attempt, next_url)
    except (Unauthenticated, TooManyRequests) as refused:
        message = "That code did not work; try the next one from your app, or sign in again."
        if isinstance(refused, TooManyRequests):
            message = _refusal(refused)
        return _anonymous_page(
            request,
            "sign_in/code.html",
            {"pending": pending, "next": next_url, "tenant": tenant, "error": message},
            status_code=refused.status_code,
        )


async def _finish(
    request: Request,
    engine: Engine,
    settings: Settings,
    attempt: login.SignInRequest,
    next_url: str,
) -> Response:
    signed_in = await run_in_threadpool(
        login.sign_in_throttled,
        engine,
        attempt=attempt,
        settings=settings,
        throttle=request.app.state.login_throttle,
        geo=request.app.state.geo,
    )
    target = "/ui/me?setup=two-factor" if signed_in.two_factor_setup_required else next_url
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(
        request,
        response,
        token=signed_in.token,
        max_age_seconds=int(settings.session_hours * 3600),
    )
    return response


def _refusal(error: Unauthenticated | TooManyRequests) -> str:
    if isinstance(error, TooManyRequests):
        return f"Too many failed sign-ins from your address. Try again in {error.retry_after} s."
    return "Invalid email or password."


@router.post("/logout")
def logout_submit(
    request: Request, user: ConsoleDep, engine: EngineDep, settings: SettingsDep
) -> Response:
    """End the session; recorded as LOGOUT."""
    principal = user.principal
    assert principal.session_id is not None  # the console only knows sessions
    assert principal.user_id is not None
    login.sign_out(
        engine,
        tenant_id=principal.tenant_id,
        session_id=principal.session_id,
        user={"id": principal.user_id, "email": user.email},
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        geo=request.app.state.geo,
    )
    forget_credentials(request, [fingerprint(request.cookies.get(SESSION_COOKIE, ""))])
    response = RedirectResponse("/ui/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/forgot-password")
def forgot_page(request: Request) -> Response:
    """Ask for a reset link."""
    return _anonymous_page(request, "sign_in/forgot.html", {})


@router.post("/forgot-password")
async def forgot_submit(
    request: Request, engine: EngineDep, settings: SettingsDep, background: BackgroundTasks
) -> Response:
    """Send the link if the account exists; the page says the same either way."""
    await _check_anonymous_form(request, settings)
    email = str((await request.form()).get("email", "")).strip()[:320]
    if not email:
        return _anonymous_page(
            request, "sign_in/forgot.html", {"error": "Enter your email."}, status_code=422
        )
    mail = await run_in_threadpool(
        password_reset.prepare_reset, engine, email=email, settings=settings
    )
    if mail is not None:
        background.add_task(password_reset.send_reset_mail, settings, mail)
    return _anonymous_page(request, "sign_in/forgot.html", {"sent_to": email})


@router.get("/reset-password")
def reset_page(request: Request, token: str = "") -> Response:
    """Choose a new password with the emailed link."""
    return _anonymous_page(request, "sign_in/reset.html", {"token": token[:200]})


@router.post("/reset-password")
async def reset_submit(request: Request, engine: EngineDep, settings: SettingsDep) -> Response:
    """Set the new password; every session of the account ends."""
    await _check_anonymous_form(request, settings)
    form = await request.form()
    token = str(form.get("token", ""))[:200]
    new_password = str(form.get("new_password", ""))[:300]
    if new_password != str(form.get("confirm_password", ""))[:300]:
        return _anonymous_page(
            request,
            "sign_in/reset.html",
            {"token": token, "error": "The two passwords differ."},
            status_code=422,
        )
    try:
        _user, ended = await run_in_threadpool(
            password_reset.confirm_reset,
            engine,
            token=token,
            new_password=new_password,
            ip_address=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            geo=request.app.state.geo,
        )
    except password_reset.InvalidResetLink:
        return _anonymous_page(
            request,
            "sign_in/reset.html",
            {"token": "", "error": "This link is invalid, used or expired. Ask for a new one."},
            status_code=400,
        )
    except InvalidInput as error:
        return _anonymous_page(
            request,
            "sign_in/reset.html",
            {"token": token, "error": f"The new password {error.reason}."},
            status_code=422,
        )
    forget_credentials(request, ended)
    return RedirectResponse("/ui/login?password_reset=1", status_code=303)
