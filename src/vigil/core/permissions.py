"""Permissions and roles (DESIGN §3)."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """What a credential may do."""

    USER_VIEW = "USER_VIEW"
    USER_MANAGE = "USER_MANAGE"
    EVENTS_WRITE = "EVENTS_WRITE"
    # Read this node's metrics (GET /metrics): counts across every tenant, none named.
    METRICS_READ = "METRICS_READ"


class Role(StrEnum):
    """A user's role, least to most privileged."""

    DEVELOPER = "DEVELOPER"
    TESTER = "TESTER"
    DEVOPS = "DEVOPS"
    ADMIN = "ADMIN"
    SUPER_ADMIN = "SUPER_ADMIN"


ROLE_RANK: dict[Role, int] = {
    Role.DEVELOPER: 1,
    Role.TESTER: 1,
    Role.DEVOPS: 1,
    Role.ADMIN: 2,
    Role.SUPER_ADMIN: 3,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DEVELOPER: frozenset(),
    Role.TESTER: frozenset(),
    Role.DEVOPS: frozenset(),
    Role.ADMIN: frozenset({Permission.USER_VIEW, Permission.USER_MANAGE}),
    Role.SUPER_ADMIN: frozenset(Permission),
}

# Reading activity (events, alerts, analytics) needs either one.
READ_ACTIVITY: frozenset[Permission] = frozenset({Permission.USER_VIEW, Permission.USER_MANAGE})


def parse_scopes(text: str) -> frozenset[Permission]:
    """Permissions from a comma-separated list; unknown names raise ``ValueError``."""
    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError("at least one scope is required")
    unknown = sorted(set(names) - {p.value for p in Permission})
    if unknown:
        allowed = ", ".join(p.value for p in Permission)
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; allowed: {allowed}")
    return frozenset(Permission(name) for name in names)
