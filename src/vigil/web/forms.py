"""Small helpers for console forms: the audit of the signed-in user, messages after a redirect."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from vigil.accounts.caller_audit import CallerAudit
from vigil.core.validation import describe_errors
from vigil.web.access import ConsoleUser

# What a page says after a form redirected to it; only these fixed texts, so nothing from
# the URL is ever shown.
NOTICES = {
    "created": "User created.",
    "saved": "Changes saved.",
    "disabled": "The user is disabled: their sessions ended and their API keys are revoked.",
    "reset-sent": "A password reset link is on its way to the user.",
    "password-changed": "Your password is changed. Your other sessions have ended.",
    "2fa-off": "Two-factor authentication is off.",
    "acknowledged": "Alert acknowledged.",
    "resolved": "Alert resolved. A new match of its rule opens a new alert.",
    "noted": "Note saved.",
    "channels-saved": "Notification channels saved.",
    "rule-added": "Rule added. It watches every event recorded from now on.",
    "rule-saved": "Rule saved.",
    "rule-deleted": "Rule deleted.",
    "key-revoked": "API key revoked. Requests made with it are refused from now on.",
    "two-factor": "Your organisation requires two-factor authentication for admins. "
    "Set it up below to continue.",
}


def audit_of(request: Request, me: ConsoleUser) -> CallerAudit:
    """Records changes as made by the signed-in user, from their address."""
    return CallerAudit.of(request, me.principal)


def notice_for(request: Request) -> str | None:
    """The message a redirect asked the page to show."""
    return NOTICES.get(request.query_params.get("notice", ""))


def see_other(path: str, notice: str | None = None) -> RedirectResponse:
    """After a successful post: go to ``path`` (a GET), with a notice to show there."""
    if notice is not None:
        path += ("&" if "?" in path else "?") + f"notice={notice}"
    return RedirectResponse(path, status_code=303)


def validation_message(error: ValidationError) -> str:
    """One line naming the fields that are wrong."""
    described = describe_errors(error.errors(), drop_prefix=())
    return "; ".join(f"{item['field']}: {item['message']}" for item in described)
