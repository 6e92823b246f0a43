"""Checks on an event's ``details``: depth, finite numbers, and secrets replaced before storage.

A secret is recognised by its key's name (``password``, ``api_key``, …: the whole value is
replaced) or by its form inside a string value (a bearer token, a JWT, a password in a URL,
a PEM private key, a cloud or chat provider's key: only the secret part is replaced).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import pairwise
from typing import Any

import orjson

REDACTED = "[REDACTED]"
# orjson.Fragment: a number token kept exactly as the producer wrote it (``events.exact``).
_SCALARS = frozenset({str, int, float, bool, type(None), orjson.Fragment})
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


# Secrets by their form, wherever they sit in a string. Each alternative holds a literal
# that ``SECRET_HINT`` looks for: a details JSON text without one holds no string this
# could match (none of these literals is escaped in JSON), so ingest scans values only
# when the hint is found.
SECRET_VALUE = re.compile(
    # An HTTP credential header written out: everything after the name, to the line's end.
    r"(?P<header>(?i:proxy-authorization|authorization)[ \t]*[:=][ \t]*)[^\r\n]+"
    # RFC 6750 bearer token
    r"|(?P<bearer>(?i:bearer)[ \t]+)[A-Za-z0-9._~+/-]{8,}=*"
    # JWT (RFC 7519, JWS compact form): base64url JSON header, payload, signature
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
    # password in a URL's userinfo (RFC 3986 §3.2.1): scheme://user:password@host
    r"|(?P<userinfo>://[^/\s:@]*:)[^/\s@]+@"
    # PEM private key (RFC 7468), to its end line or the end of the text
    r"|-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)"
    r"|A[KS]IA[A-Z0-9]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub tokens
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|v[ksr]_[A-Za-z0-9_-]{30,}"  # Vigil's own API keys, sessions and reset tokens
)
# A part of each literal above. Every alternative starts with a plain character (not a
# class, not a case-blind group), and a rare one ("zation", "yJ", "//", not ":" or "e"):
# the engine then skips straight over the characters that cannot start a match.
SECRET_HINT = re.compile(
    r"z(?i:ation)|Z(?i:ation)|B(?i:earer)|b(?i:earer)|yJ|//|BEGIN"
    r"|A[KS]IA|gh[pousr]_|github_pat_|xox[abposr]-|v[ksr]_"
)


def _redacted_match(match: re.Match[str]) -> str:
    kept = match["header"] or match["bearer"] or ""
    if match["userinfo"]:
        return match["userinfo"] + REDACTED + "@"
    return kept + REDACTED


def redact_secret_values(text: str) -> str:
    """``text`` with each secret ``SECRET_VALUE`` recognises replaced by ``[REDACTED]``
    (a header's name, the word ``Bearer`` and a URL's user name are kept)."""
    return SECRET_VALUE.sub(_redacted_match, text)


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


def sanitise_details(details: dict[str, Any], *, scan_values: bool = True) -> dict[str, Any]:
    """Redact secrets in place and check depth and numbers; raises ``ValueError`` with a path.

    ``scan_values=False`` looks at key names only: for a caller that has already found no
    ``SECRET_HINT`` in the details' JSON text, where no secret value can then be.
    """
    _walk(details, depth=1, path="details", scan=scan_values)
    return details


def _walk(node: Any, *, depth: int, path: str, scan: bool) -> None:
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
                if scan and kind is str and SECRET_VALUE.search(value):
                    node[key] = redact_secret_values(value)
            elif isinstance(value, dict | list):
                _walk(value, depth=depth + 1, path=f"{path}.{key}", scan=scan)
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{path}.{key}: numbers must be finite")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            kind = type(value)
            if kind in _SCALARS:
                if kind is float and not math.isfinite(value):
                    raise ValueError(f"{path}[{index}]: numbers must be finite")
                if scan and kind is str and SECRET_VALUE.search(value):
                    node[index] = redact_secret_values(value)
            elif isinstance(value, dict | list):
                _walk(value, depth=depth + 1, path=f"{path}[{index}]", scan=scan)
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{path}[{index}]: numbers must be finite")
