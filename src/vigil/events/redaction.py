"""Checks on an event's ``details``: depth, finite numbers, and secrets replaced before storage."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import pairwise
from typing import Any

REDACTED = "[REDACTED]"
_SCALARS = frozenset({str, int, float, bool, type(None)})
MAX_DEPTH = 16

# Words that make a key name a secret wherever they appear in it.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "authorization",
        "cookie",
        "cookies",
        "credential",
        "credentials",
        "apikey",
        "privatekey",
    }
)
# Adjacent word pairs that name a secret ("api_key", "X-Api-Key", "privateKey", "reset_code").
SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("access", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("session", "id"),
        ("reset", "code"),
        ("recovery", "code"),
        ("recovery", "codes"),
        ("set", "cookie"),
        ("otp", "code"),
        ("totp", "code"),
        ("mfa", "code"),
        ("client", "secret"),
    }
)
# "token" names a secret when it ends the key ("access_token", "token"), but not in
# counters an AI platform records everywhere ("max_tokens", "token_count").
TRAILING_SECRET_WORDS = frozenset({"token", "jwt", "bearer", "signature", "auth", "otp", "totp"})

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# The same, for names written without separators ("newpassword", "accesstoken").
SQUASHED_ANYWHERE = (
    "password", "passwd", "passphrase", "secret", "apikey", "credential", "cookie",
    "privatekey", "authorization",
)  # fmt: skip
SQUASHED_ENDINGS = ("token", "jwt", "sessionid")


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a details key's name says its value is a secret."""
    squashed = "".join(ch for ch in key.lower() if ch.isalnum())
    if any(part in squashed for part in SQUASHED_ANYWHERE) or squashed.endswith(SQUASHED_ENDINGS):
        return True
    words = [word.lower() for word in _WORD.findall(key)]
    if not words:
        return False
    if words[-1] in TRAILING_SECRET_WORDS or any(word in SECRET_WORDS for word in words):
        return True
    return any(pair in SECRET_PAIRS for pair in pairwise(words))


def sanitise_details(details: dict[str, Any]) -> dict[str, Any]:
    """Redact secrets in place and check depth and numbers; raises ``ValueError`` with a path."""
    _walk(details, depth=1, path="details")
    return details


def _walk(node: Any, *, depth: int, path: str) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nesting deeper than {MAX_DEPTH} levels")
    # Most values are plain scalars: one set lookup settles them before any isinstance
    # (this runs for every key of every event ingested).
    if isinstance(node, dict):
        for key, value in node.items():
            kind = type(value)
            if is_secret_key(key):
                node[key] = REDACTED
            elif kind in _SCALARS:
                if kind is float and not math.isfinite(value):
                    raise ValueError(f"{path}.{key}: numbers must be finite")
            elif isinstance(value, dict | list):
                _walk(value, depth=depth + 1, path=f"{path}.{key}")
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{path}.{key}: numbers must be finite")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            kind = type(value)
            if kind in _SCALARS:
                if kind is float and not math.isfinite(value):
                    raise ValueError(f"{path}[{index}]: numbers must be finite")
            elif isinstance(value, dict | list):
                _walk(value, depth=depth + 1, path=f"{path}[{index}]")
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{path}[{index}]: numbers must be finite")
