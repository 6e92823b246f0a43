"""How the console writes times, numbers and details."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vigil.core.clock import utcnow

# Actions grouped by meaning, each group a colour in the stylesheet; the action's name is
# always written out beside the colour.
ACTION_TONES = {
    "CREATE": "create",
    "UPDATE": "update",
    "DELETE": "delete",
    "LOGIN": "access",
    "LOGOUT": "access",
    "LOGIN_FAILED": "warning",
    "PASSWORD_RESET": "warning",
    "EXPORT": "export",
}


def when(moment: datetime | None) -> str:
    """``2026-11-25 14:03:12 UTC``; the console shows UTC everywhere, and says so."""
    if moment is None:
        return "never"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None) -> str:
    """``3 minutes ago``, ``2 days ago``: how long since, at a glance."""
    if moment is None:
        return "never"
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def number(value: int) -> str:
    """``12,345``."""
    return f"{value:,}"


def pretty_json(details: Any) -> str:
    """Details as indented JSON, whether stored as text or already parsed."""
    if details is None:
        return ""
    if isinstance(details, str):
        text = details
        try:
            details = json.loads(text)
        except ValueError:
            return text
    return json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True)


def actor_label(event: dict[str, Any]) -> str:
    """Who acted: their email or id; for a failed sign-in by nobody known, what was typed."""
    if event.get("user_email") or event.get("user_id"):
        return str(event.get("user_email") or event.get("user_id"))
    details = event.get("details")
    if isinstance(details, str) and "attempted_email" in details:
        try:
            attempted = json.loads(details).get("attempted_email")
        except (ValueError, AttributeError):
            attempted = None
        if attempted:
            return f"tried {attempted}"
    return "—"


def action_tone(action: str) -> str:
    """The colour group of an action."""
    return ACTION_TONES.get(action, "other")


def label(value: str) -> str:
    """``LOGIN_FAILED`` → ``Login failed``."""
    return value.replace("_", " ").capitalize()


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "ago": ago,
    "number": number,
    "pretty_json": pretty_json,
    "action_tone": action_tone,
    "actor_label": actor_label,
    "label": label,
}
