"""HTTP for signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vigil.accounts import login, password_change, password_reset, two_factor_actions
from vigil.accounts.caller_audit import CallerAuditDep
from vigil.accounts.deps import (
    SESSION_COOKIE,
    Caller,
    forget_credentials,
    presented_token,
    set_session_cookie,
)
from vigil.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from vigil.accounts.routes import user_json
from vigil.core.deps import EngineDep, SettingsDep
from vigil.core.errors import InvalidInput
from vigil.core.http import FastJSONResponse, client_ip, errors
from vigil.core.tokens import fingerprint
from vigil.events.wire import format_time

router = APIRouter(prefix="/auth", tags=["sign-in"])
# Checked by ``check_password_rules`` (its messages name the rule); documented here.
NewPassword = Annotated[
    str,
    StringConstraints(max_length=MAX_LENGTH),
    Field(json_schema_extra={"minLength": MIN_LENGTH}),
]


class LoginBody(BaseModel):
    """A sign-in attempt."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(max_length=320)]
    password: Annotated[str, StringConstraints(max_length=256)]
    totp_code: Annotated[str, StringConstraints(max_length=64)] | None = None
    tenant: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Where to record a failure for an email no tenant knows"
    )


@router.post("/login", summary="Sign in with email and password", responses=errors(401, 429))
async def sign_in(
    request: Request, body: LoginBody, engine: EngineDep, settings: SettingsDep
) -> Response:
    """A session token (also set as the console's cookie); every failure is the same 401."""
    address = client_ip(request)
    attempt = login.SignInRequest(
        email=body.email,
        password=body.password,
        tenant_hint=body.tenant,
        ip_address=address,
        user_agent=request.headers.get("user-agent"),
        totp_code=body.totp_code,
    )
    signed_in = await run_in_threadpool(
        login.sign_in_throttled,
        engine,
        attempt=attempt,
        settings=settings,
        throttle=request.app.state.login_throttle,
        geo=request.app.state.geo,
    )
    response = FastJSONResponse(
        {
            "token": signed_in.token,
            "expires_at": format_time(signed_in.expires_at),
            "user": user_json(signed_in.user),
            "two_factor_setup_required": signed_in.two_factor_setup_required,
        }
    )
    set_session_cookie(
        request, response, token=signed_in.token, max_age_seconds=int(settings.session_hours * 3600)
    )
    return response


@router.post("/logout", status_code=204, summary="End this session")
def sign_out(
    request: Request, principal: Caller, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Revoke the session the request carries; recorded as LOGOUT."""
    if principal.session_id is None:
        raise InvalidInput("authorization", "an API key is not a session: revoke it instead")
    # A session always belongs to a user, and a user always has an email.
    assert principal.user_id is not None
    assert principal.user_email is not None
    login.sign_out(
        engine,
        tenant_id=principal.tenant_id,
        session_id=principal.session_id,
        user={"id": principal.user_id, "email": principal.user_email},
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        geo=request.app.state.geo,
    )
    forget_credentials(request, [fingerprint(presented_token(request) or "")])
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", summary="Who am I")
def whoami(principal: Caller) -> FastJSONResponse:
    """The signed-in user's permissions, or the API key's."""
    return FastJSONResponse(
        {
            "user_id": principal.user_id,
            "email": principal.user_email,
            "api_key": principal.api_key_name,
            "permissions": sorted(p.value for p in principal.permissions),
            "two_factor_setup_required": principal.two_factor_setup_required,
        }
    )


class PasswordChangeBody(BaseModel):
    """A new password, proven with the current one."""

    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(max_length=MAX_LENGTH)]
    new_password: NewPassword


@router.post("/password", summary="Change your password")
def change_password(
    request: Request,
    principal: Caller,
    audit: CallerAuditDep,
    engine: EngineDep,
    settings: SettingsDep,
    body: PasswordChangeBody,
) -> FastJSONResponse:
    """Set a new password; this session stays open and every other one ends."""
    if principal.user_id is None:
        raise InvalidInput("authorization", "an API key has no password")
    ended = password_change.change_password(
        engine,
        audit=audit,
        user_id=principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        settings=settings,
    )
    forget_credentials(request, ended)
    return FastJSONResponse({"detail": "password changed; your other sessions have ended"})


class ResetRequestBody(BaseModel):
    """Ask for a reset link."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(max_length=320)]


class ResetConfirmBody(BaseModel):
    """Use a reset link."""

    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, StringConstraints(max_length=200)]
    new_password: NewPassword


@router.post("/password-reset", status_code=202, summary="Email a password reset link")
def request_password_reset(
    body: ResetRequestBody, engine: EngineDep, settings: SettingsDep, background: BackgroundTasks
) -> FastJSONResponse:
    """Always 202: whether the account exists is nobody's business but its owner's."""
    mail = password_reset.prepare_reset(engine, email=body.email, settings=settings)
    if mail is not None:
        # Sent after the answer, so its timing says nothing about the account either.
        background.add_task(password_reset.send_reset_mail, settings, mail)
    return FastJSONResponse(
        {"detail": "if an account has this email, a reset link is on its way"}, status_code=202
    )


@router.post("/password-reset/confirm", summary="Choose a new password with a reset link")
def confirm_password_reset(
    request: Request, body: ResetConfirmBody, engine: EngineDep, settings: SettingsDep
) -> FastJSONResponse:
    """Set the new password and end every session of the account."""
    _user, ended = password_reset.confirm_reset(
        engine,
        token=body.token,
        new_password=body.new_password,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        geo=request.app.state.geo,
    )
    forget_credentials(request, ended)
    return FastJSONResponse({"detail": "password changed; sign in with the new one"})


class CodeBody(BaseModel):
    """A code from the authenticator app (or, to disable, a recovery code)."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]


@router.post(
    "/2fa/setup", summary="Start setting up two-factor authentication", responses=errors(409)
)
def two_factor_setup(
    principal: Caller, engine: EngineDep, settings: SettingsDep
) -> FastJSONResponse:
    """A new secret, as text, an otpauth:// URI and a QR code for the authenticator app."""
    setup = two_factor_actions.begin_setup(engine, principal, secret_key=settings.secret_key)
    return FastJSONResponse(setup)


@router.post("/2fa/enable", summary="Turn two-factor authentication on")
def two_factor_enable(
    request: Request,
    principal: Caller,
    audit: CallerAuditDep,
    engine: EngineDep,
    settings: SettingsDep,
    body: CodeBody,
) -> FastJSONResponse:
    """Prove the app works with a current code; answers the recovery codes, shown once."""
    codes = two_factor_actions.turn_on(
        engine, audit, code=body.code, secret_key=settings.secret_key
    )
    if principal.two_factor_setup_required:
        # The session was limited to this; it is a full one from the next request.
        forget_credentials(request, [fingerprint(presented_token(request) or "")])
    return FastJSONResponse({"recovery_codes": codes})


@router.post("/2fa/disable", summary="Turn two-factor authentication off", responses=errors(409))
def two_factor_disable(
    principal: Caller,
    audit: CallerAuditDep,
    engine: EngineDep,
    settings: SettingsDep,
    body: CodeBody,
) -> FastJSONResponse:
    """Given a current code or a recovery code; refused to an admin whose tenant requires it."""
    two_factor_actions.turn_off(engine, audit, code=body.code, secret_key=settings.secret_key)
    return FastJSONResponse({"two_factor_enabled": False})
