"""The list queries an admin actually runs, with parameters drawn from the generated world.

Each shape rotates through several realistic values (different users, addresses, weeks),
so a percentile is over a spread of answers, not one cached query.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.world import World

Params = dict[str, str]
# Words in most events: the email domain, a browser, a login method, a client.
COMMON_TERMS = ("company", "chrome", "sso_okta", "mozilla", "safari", "python")


@dataclass(frozen=True, slots=True)
class Shape:
    """A named query shape; ``targeted`` is false for shapes shown only for contrast."""

    name: str
    variants: list[Params]
    targeted: bool = True


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _networks(addresses: list[str], prefix: int, *extra: str) -> list[str]:
    """The IPv4 networks of ``prefix`` bits holding ``addresses``, each once, and ``extra``."""
    found = {
        str(ipaddress.ip_network(f"{address}/{prefix}", strict=False)): None
        for address in addresses
        if ipaddress.ip_address(address).version == 4
    }
    return [*found, *extra]


def build_shapes(
    world: World, *, end: datetime, deep_cursors: list[str], depth: int
) -> list[Shape]:
    """Every shape; ``deep_cursors`` are cursors about ``depth`` rows into the newest-first list."""
    users = world.users.items[:40:2]  # the busiest people, who get looked at most
    projects = world.resources["PROJECT"].items[:10]
    models = world.resources["MODEL"].items[:10]
    rare_models = world.resources["MODEL"].items[-10:]  # the least used of 2,000
    addresses = [*world.attacker_ips[:10], *(u.ips[0] for u in users[:10])]
    weeks = [(end - timedelta(days=7 * (k + 1)), end - timedelta(days=7 * k)) for k in range(6)]
    return [
        Shape("newest page", [{}]),
        Shape("by user", [{"user_id": u.user_id} for u in users]),
        Shape(
            "by action + 7-day range",
            [
                {"action": action, "start_date": _day(start), "end_date": _day(stop)}
                for action in ("DELETE", "UPDATE", "PASSWORD_RESET")
                for start, stop in weeks
            ],
        ),
        Shape(
            "by resource type + id",
            [
                {"resource_type": r.resource_type, "resource_id": r.resource_id}
                for pair in zip(projects, models, strict=True)
                for r in pair
            ],
        ),
        Shape("by IP address", [{"ip_address": address} for address in addresses]),
        Shape("by network /8", [{"ip_address": n} for n in _networks(addresses, 8, "10.0.0.0/8")]),
        Shape("by network /24", [{"ip_address": n} for n in _networks(addresses, 24)]),
        Shape("search: popular project's name", [{"q": p.name} for p in projects]),
        Shape("search: rare term", [{"q": m.resource_id} for m in rare_models]),
        Shape("search: common term", [{"q": term} for term in COMMON_TERMS]),
        Shape(
            "search: term + action",
            [{"q": p.name, "action": "DELETE"} for p in projects],
        ),
        Shape(
            "search: query language",
            [
                {"q": f'action:DELETE,UPDATE resource:{kind} -user:{u.user_id} "{word}"'}
                for kind, word in (("ENDPOINT", "prod"), ("MODEL", "eval"))
                for u in users[:4]
            ],
        ),
        Shape("failed logins (status + action)", [{"status": "FAILED", "action": "LOGIN_FAILED"}]),
        Shape(
            "combined: user + actions + types + 30 days",
            [
                {
                    "user_id": u.user_id,
                    "action": "CREATE,UPDATE",
                    "resource_type": "MODEL,ENDPOINT",
                    "start_date": _day(end - timedelta(days=30)),
                }
                for u in users
            ],
        ),
        Shape(f"cursor page {depth:,} deep", [{"cursor": c} for c in deep_cursors]),
        Shape("offset page (offset=10,000)", [{"offset": str(10_000 + 50 * k)} for k in range(8)]),
        Shape(
            f"offset page {depth:,} deep (contrast)",
            [{"offset": str(depth - 50 * k)} for k in range(4)],
            targeted=False,
        ),
    ]
