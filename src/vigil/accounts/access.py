"""The access rules of every route, read from ``access.toml`` beside this module."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from vigil.core.permissions import Permission

RULES_FILE = Path(__file__).with_name("access.toml")


@dataclass(frozen=True, slots=True)
class AccessRule:
    """Who may call one route."""

    public: bool
    any_of: frozenset[Permission]  # empty: any valid credential will do
    # Open to an admin who must still set up two-factor authentication (the tenant's
    # require_2fa_for_admins); every other route waits until they have.
    during_2fa_setup: bool = False
    # Only a person's session will do (their own password, 2FA, inbox, sign-out): an API
    # key, whatever its scopes, is refused with 403.
    session_only: bool = False

    def describe(self) -> str:
        """The permissions, as an error message names them."""
        return " or ".join(sorted(p.value for p in self.any_of)) or "any valid credential"


@lru_cache(maxsize=1)
def access_rules() -> dict[str, AccessRule]:
    """Every rule, keyed by ``"METHOD /path"``."""
    raw = tomllib.loads(RULES_FILE.read_text())
    rules: dict[str, AccessRule] = {}
    for key, entry in raw.items():
        public = bool(entry.get("public", False))
        signed_in = bool(entry.get("authenticated", False))
        any_of = frozenset(Permission(name) for name in entry.get("any_of", []))
        if public + signed_in + bool(any_of) != 1:
            raise ValueError(
                f"{RULES_FILE.name}: {key!r} needs exactly one of public, authenticated, any_of"
            )
        rules[key] = AccessRule(
            public=public,
            any_of=any_of,
            during_2fa_setup=bool(entry.get("during_2fa_setup")),
            session_only=bool(entry.get("session_only")),
        )
    return rules


def rule_for(method: str, path: str) -> AccessRule:
    """The rule of a route; a route without one is a programming error."""
    method = "GET" if method == "HEAD" else method
    try:
        return access_rules()[f"{method} {path}"]
    except KeyError:
        raise LookupError(f"no access rule for {method} {path} in {RULES_FILE.name}") from None


def served_routes(app: FastAPI) -> Iterator[tuple[str, BaseRoute]]:
    """``("METHOD /path", route)`` for every route the app serves, included routers too."""
    for context in iter_route_contexts(app.routes):
        methods = getattr(context.original_route, "methods", None) or ()
        for method in sorted(set(methods) - {"HEAD"}):
            yield f"{method} {context.path}", context.original_route


def route_keys(app: FastAPI) -> set[str]:
    """``"METHOD /path"`` of every route the app serves."""
    return {key for key, _route in served_routes(app)}


def check_every_route_has_a_rule(app: FastAPI) -> None:
    """Refuse to build an app with a route that ``access.toml`` does not mention."""
    missing = sorted(route_keys(app) - set(access_rules()))
    if missing:
        raise RuntimeError(f"routes without an access rule in {RULES_FILE.name}: {missing}")
