"""Mount the console on the app: its pages, static files, and how its errors look."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from vigil.web import (
    activity_pages,
    analytics_pages,
    api_key_pages,
    inbox_pages,
    live_pages,
    me_pages,
    security_pages,
    settings_pages,
    sign_in_pages,
    tenant_settings_pages,
    user_pages,
)
from vigil.web.access import (
    ConsoleDep,
    ConsoleForbidden,
    SignInRequired,
    TwoFactorSetupRequired,
)
from vigil.web.csrf import CsrfRejected
from vigil.web.forms import see_other
from vigil.web.rendering import STATIC_DIR, render

home = APIRouter(include_in_schema=False)


@home.get("/")
def root() -> Response:
    """The console is the front door."""
    return RedirectResponse("/ui/", status_code=307)


@home.get("/ui/")
def console_home(me: ConsoleDep) -> Response:
    """The dashboard for those who may read activity; otherwise one's own profile."""
    return see_other("/ui/dashboard" if me.can_view else "/ui/me")


def error_page(request: Request, status_code: int, heading: str, message: str) -> Response:
    """An error as a console page (signed-in users keep their sidebar)."""
    me = getattr(request.state, "console_user", None)
    context = {"me": me, "heading": heading, "message": message}
    return render(request, "errors/error.html", context, status_code=status_code)


def install_console(app: FastAPI) -> None:
    """Add the console's routes, static files and error pages to ``app``."""
    app.include_router(home)
    pages = (
        sign_in_pages,
        activity_pages,
        live_pages,
        analytics_pages,
        user_pages,
        me_pages,
        security_pages,
        settings_pages,
        tenant_settings_pages,
        api_key_pages,
    )
    for module in (*pages, inbox_pages):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    @app.exception_handler(SignInRequired)
    async def sign_in_first(_request: Request, error: SignInRequired) -> Response:
        return RedirectResponse("/ui/login?" + urlencode({"next": error.next_url}), 303)

    @app.exception_handler(TwoFactorSetupRequired)
    async def set_up_two_factor(_request: Request, _error: TwoFactorSetupRequired) -> Response:
        return see_other("/ui/me", "two-factor")

    @app.exception_handler(ConsoleForbidden)
    async def forbidden(request: Request, error: ConsoleForbidden) -> Response:
        return error_page(request, 403, "Not allowed", str(error))

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, error: CsrfRejected) -> Response:
        return error_page(request, 403, "Form expired", str(error))
