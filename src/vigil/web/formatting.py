"""How the console writes times, numbers and details."""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

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
    """Details as indented JSON with sorted keys, whether stored as text or already parsed.

    Numbers are shown as they were sent (``1E+2``, ``0.1234567890123456789``): each is
    parsed into a placeholder no stored text can contain (a fresh nonce between NULs),
    which is swapped back for the original token once the rest is laid out.
    """
    if details is None:
        return ""
    tokens: list[str] = []
    if isinstance(details, str):
        text = details
        nonce = secrets.token_hex(8)

        def keep(token: str) -> str:
            tokens.append(token)
            return f"\0{nonce}:{len(tokens) - 1}\0"

        try:
            details = json.loads(text, parse_float=keep, parse_int=keep)
        except ValueError:
            return text
    laid_out = json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True)
    if not tokens:
        return laid_out
    placeholder = re.compile(rf'"\\u0000{nonce}:(\d+)\\u0000"')
    return placeholder.sub(lambda found: tokens[int(found.group(1))], laid_out)


API_KEY_ACTOR = "apikey:"  # how an API key's actions name their actor (Principal.actor_id)


def actor_label(event: dict[str, Any], key_names: Mapping[str, str] | None = None) -> str:
    """Who acted: their email or id, an API key by its name (``key_names``: actor id to
    key name); for a failed sign-in by nobody known, what was typed."""
    user_id = event.get("user_id") or ""
    if not event.get("user_email") and user_id.startswith(API_KEY_ACTOR):
        name = (key_names or {}).get(user_id)
        return f"API key {name}" if name else "API key (deleted)"
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


# Characters that change how text around them is shown, or show nothing at all: the bidi
# controls (U+202E makes "gpj.exe" read "exe.jpg"), zero-width and other format characters,
# C0/C1 controls, line and paragraph separators, spaces other than the plain one, and the
# letters that render blank. Written out as their code point, never shown as themselves.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Zl", "Zp", "Zs"})
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")  # only these need a look


def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES or char in _BLANK_LETTERS


def _marker(char: str) -> str:
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "unnamed character")
    return f'<span class="invisible-char" title="{escape(name)}">{code}</span>'


def visible(value: Any, *, keep_newlines: bool = False) -> Markup:
    """``value`` as escaped text in which every control or invisible character is written
    out as its code point (``U+202E``) in a marked span titled with its Unicode name, so text
    a client sent cannot reorder or hide what the console shows. Newlines are kept as they
    are when ``keep_newlines`` (indented JSON)."""
    text = str(escape("" if value is None else value))

    def shown(match: re.Match[str]) -> str:
        char = match.group()
        if (keep_newlines and char == "\n") or not _is_invisible(char):
            return char
        return _marker(char)

    # Safe: ``text`` is escaped above, and a marker holds only a code point and an escaped name.
    return Markup(_NOT_PLAIN.sub(shown, text))  # noqa: S704


def visible_plain(value: Any) -> str:
    """``value`` with its control and invisible characters written as code points, as plain
    text: for attributes such as a tooltip, which hold no markup."""
    text = "" if value is None else str(value)
    return _NOT_PLAIN.sub(
        lambda m: f"[U+{ord(m.group()):04X}]" if _is_invisible(m.group()) else m.group(), text
    )


def user_text(value: Any) -> Markup:
    """A value someone outside Vigil chose (an email, an id, a user agent, a name), isolated
    from the text around it (HTML ``<bdi>``, Unicode bidi isolation, UAX #9) and with its
    control and invisible characters shown (``visible``)."""
    return Markup('<bdi class="user-text">') + visible(value) + Markup("</bdi>")


def details_text(details: Any) -> Markup:
    """Details as indented JSON (``pretty_json``), invisible characters shown."""
    return visible(pretty_json(details), keep_newlines=True)


def without_severity(title: str, severity: str) -> str:
    """A notification's title without its leading ``[HIGH]``: the badge beside it says so."""
    tag = f"[{severity}]"
    return title[len(tag) :].lstrip() if title.startswith(tag) else title


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "ago": ago,
    "number": number,
    "pretty_json": pretty_json,
    "action_tone": action_tone,
    "actor_label": actor_label,
    "label": label,
    "visible": visible,
    "visible_plain": visible_plain,
    "user_text": user_text,
    "details_text": details_text,
    "without_severity": without_severity,
}
