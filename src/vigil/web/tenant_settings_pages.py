"""Settings: the index, and the organisation's retention, IP allowlist, required two-factor
authentication, and time zone with working hours, each a page with its own form."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy import Connection, Engine
from starlette.datastructures import FormData

from vigil.accounts.deps import forget_tenant_credentials
from vigil.core.deps import EngineDep, ReadConnDep
from vigil.core.errors import VigilError
from vigil.core.http import client_ip
from vigil.tenants import actions
from vigil.tenants import service as tenants
from vigil.tenants.allowlist import is_allowed, parse_allowlist
from vigil.tenants.schemas import TenantSettingsPatch
from vigil.web.access import ConsoleDep, ConsoleUser
from vigil.web.forms import audit_of, notice_for, see_other, validation_message
from vigil.web.rendering import render

router = APIRouter(prefix="/ui", include_in_schema=False)

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME_ZONES = sorted(available_timezones())
MAX_ALLOWLIST_TEXT = 64 * 1000  # 1,000 entries of at most 64 characters, as the API takes

# Each page's template; ``_fields`` reads its form.
PAGES = {
    "retention": "settings/retention.html",
    "allowlist": "settings/allowlist.html",
    "two-factor": "settings/two_factor.html",
    "working-hours": "settings/working_hours.html",
}


def _context(request: Request, me: ConsoleUser, conn: Connection, **extra: Any) -> dict[str, Any]:
    return {
        "me": me,
        "section": "settings",
        "settings": tenants.get_tenant_settings(conn, tenant_id=me.principal.tenant_id),
        "your_address": client_ip(request),
        "day_names": DAY_NAMES,
        "time_zones": TIME_ZONES,
        "notice": notice_for(request),
        **extra,
    }


@router.get("/settings")
def settings_index(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Every settings page, with what each is set to now."""
    return render(request, "settings/index.html", _context(request, me, conn))


def _show(request: Request, me: ConsoleUser, conn: Connection, page_name: str) -> Response:
    return render(request, PAGES[page_name], _context(request, me, conn))


async def _save(
    request: Request, me: ConsoleUser, engine: Engine, conn: Connection, page_name: str
) -> Response:
    """Save one page's form; a mistake is shown on the page, and nothing is written."""
    template = PAGES[page_name]
    form = await request.form()
    try:
        patch = TenantSettingsPatch.model_validate(_fields(page_name, form))
    except ValidationError as error:
        context = _context(request, me, conn, error=validation_message(error), draft=form)
        return render(request, template, context, status_code=422)
    if page_name == "allowlist" and _locks_out(request, patch) and form.get("confirm") != "on":
        context = _context(request, me, conn, lockout=True, draft=form)
        return render(request, template, context, status_code=409)
    try:
        change = await run_in_threadpool(
            actions.change_settings, engine, audit_of(request, me), patch
        )
    except VigilError as error:
        context = _context(request, me, conn, error=str(error), draft=form)
        return render(request, template, context, status_code=error.status_code)
    if change.changed.keys() & actions.ADMISSION_SETTINGS:
        forget_tenant_credentials(request, me.principal.tenant_id)
    return see_other(f"/ui/settings/{page_name}", "saved")


@router.get("/settings/retention")
def retention_page(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """How long events are kept."""
    return _show(request, me, conn, "retention")


@router.post("/settings/retention")
async def save_retention(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep
) -> Response:
    """Change how long events are kept."""
    return await _save(request, me, engine, conn, "retention")


@router.get("/settings/allowlist")
def allowlist_page(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """The addresses the console and the API may be used from."""
    return _show(request, me, conn, "allowlist")


@router.post("/settings/allowlist")
async def save_allowlist(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep
) -> Response:
    """Change the allowlist; one that leaves out the sender's own address is saved only
    when they confirm it (409 with a warning otherwise)."""
    return await _save(request, me, engine, conn, "allowlist")


@router.get("/settings/two-factor")
def two_factor_page(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """Whether admins must use two-factor authentication."""
    return _show(request, me, conn, "two-factor")


@router.post("/settings/two-factor")
async def save_two_factor(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep
) -> Response:
    """Require two-factor authentication for admins, or stop requiring it."""
    return await _save(request, me, engine, conn, "two-factor")


@router.get("/settings/working-hours")
def working_hours_page(request: Request, me: ConsoleDep, conn: ReadConnDep) -> Response:
    """The time zone and working hours the off-hours rule judges activity by."""
    return _show(request, me, conn, "working-hours")


@router.post("/settings/working-hours")
async def save_working_hours(
    request: Request, me: ConsoleDep, engine: EngineDep, conn: ReadConnDep
) -> Response:
    """Change the time zone and working hours."""
    return await _save(request, me, engine, conn, "working-hours")


def _fields(page_name: str, form: FormData) -> dict[str, Any]:
    """The settings a page's form sends, as ``TenantSettingsPatch`` takes them."""
    match page_name:
        case "retention":
            return {"retention_days": str(form.get("retention_days", "")).strip()}
        case "allowlist":
            text = str(form.get("ip_allowlist", ""))[:MAX_ALLOWLIST_TEXT]
            return {"ip_allowlist": text.replace(",", "\n").split()}
        case "two-factor":
            return {"require_2fa_for_admins": form.get("require_2fa_for_admins") == "on"}
        case _:  # working-hours
            return {
                "timezone": str(form.get("timezone", "")).strip(),
                "working_hours": {
                    "days": [str(day) for day in form.getlist("days")],
                    "start": str(form.get("start", "")).strip(),
                    "end": str(form.get("end", "")).strip(),
                },
            }


def _locks_out(request: Request, patch: TenantSettingsPatch) -> bool:
    """Whether saving this allowlist would shut out the address this request comes from."""
    networks = parse_allowlist(patch.ip_allowlist or [])
    return bool(networks) and not is_allowed(client_ip(request), networks)
