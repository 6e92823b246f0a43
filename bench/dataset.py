"""A deterministic stream of realistic audit events, in time order.

Volume follows a working week (busy weekday office hours, quiet nights and weekends); the
action mix is mostly UPDATE, CREATE and LOGIN; now and then one address fires a burst of
failed logins. The same seed, count, span and end give the same events, byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import details
from bench.world import ATTACKER_AGENTS, World

HOUR_US = 3_600_000_000
# Relative activity per UTC hour on a weekday; weekends run at a fifth of it.
HOURLY = (
    0.04, 0.03, 0.03, 0.03, 0.04, 0.08, 0.20, 0.50, 0.90, 1.00, 1.00, 0.95,
    0.75, 0.90, 1.00, 0.95, 0.85, 0.65, 0.45, 0.30, 0.20, 0.14, 0.09, 0.06,
)  # fmt: skip
WEEKEND = 0.2
ACTIONS = ("UPDATE", "CREATE", "LOGIN", "LOGOUT", "DELETE", "LOGIN_FAILED", "PASSWORD_RESET",
           "EXPORT")  # fmt: skip
ACTION_WEIGHTS = (36, 20, 20, 9, 6, 3, 1, 1)
BURST_CHANCE = 0.08  # per hour: someone tries a list of passwords from one address
FAILURE_RATE = 0.02  # other actions that fail (permissions, quota, validation)


@dataclass(slots=True)
class Event:
    """One event as a producer would send it; ``ts`` is microseconds since the epoch, UTC."""

    ts: int
    nonce: int  # 62 random bits: with ``ts``, a deterministic time-ordered id
    action: str
    resource_type: str
    resource_id: str | None
    user_id: str | None
    user_email: str | None
    ip_address: str | None
    user_agent: str | None
    details: dict[str, Any] | None
    status: str


def default_end() -> datetime:
    """Midnight UTC today: the events lead up to it and stay inside a 90-day retention."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def generate(world: World, *, seed: int, count: int, days: int, end: datetime) -> Iterator[Event]:
    """Exactly ``count`` events spread over the ``days`` before ``end``, oldest first."""
    rng = random.Random(seed)
    start_us = int((end - timedelta(days=days)).timestamp()) * 1_000_000
    for hour, events_this_hour in enumerate(_per_hour(count, days, end)):
        if events_this_hour:
            hour_us = start_us + hour * HOUR_US
            yield from _hour(rng, world, hour_us, events_this_hour)


def _per_hour(count: int, days: int, end: datetime) -> list[int]:
    """Split ``count`` over the hours by weight, exactly (largest remainders win)."""
    first = end - timedelta(days=days)
    weights = []
    for hour in range(days * 24):
        moment = first + timedelta(hours=hour)
        factor = WEEKEND if moment.weekday() >= 5 else 1.0
        weights.append(HOURLY[moment.hour] * factor)
    total = sum(weights)
    exact = [count * w / total for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
    for index in by_remainder[: count - sum(counts)]:
        counts[index] += 1
    return counts


def _hour(rng: random.Random, world: World, hour_us: int, count: int) -> list[Event]:
    burst = 0
    if rng.random() < BURST_CHANCE:
        burst = min(count, rng.randint(8, 80))
    events = [_burst_event(rng, world, hour_us, i, burst) for i in range(burst)] if burst else []
    events.extend(
        _normal_event(rng, world, hour_us + rng.randrange(HOUR_US)) for _ in range(count - burst)
    )
    events.sort(key=lambda e: e.ts)
    return events


def _normal_event(rng: random.Random, world: World, ts: int) -> Event:
    action = rng.choices(ACTIONS, weights=ACTION_WEIGHTS)[0]
    actor = world.users.pick(rng)
    body = details.for_action(rng, world, action, actor)
    status = "FAILED" if action == "LOGIN_FAILED" or rng.random() < FAILURE_RATE else "SUCCESS"
    if status == "FAILED" and action != "LOGIN_FAILED":
        body.details = {**(body.details or {}), "error": rng.choice(details.ERRORS)}
    ip = rng.choice(actor.ips)
    agent = rng.choice(actor.agents)
    if body.system:  # the platform acting on its own: no actor, an internal address
        actor_id, email, ip, agent = None, None, "10.0.0.12", "platform-autoscaler/1.8.2"
    else:
        actor_id, email = actor.user_id, actor.email
    return Event(
        ts=ts,
        nonce=rng.getrandbits(62),
        action=action,
        resource_type=body.resource_type,
        resource_id=body.resource_id,
        user_id=actor_id,
        user_email=email,
        ip_address=ip,
        user_agent=agent,
        details=body.details,
        status=status,
    )


def _burst_event(rng: random.Random, world: World, hour_us: int, index: int, size: int) -> Event:
    # One attacker per burst: the address and client are fixed by the hour, not the index;
    # the addresses take turns, so every one of them shows up in a long enough stream.
    burst_rng = random.Random(hour_us)
    ip = world.attacker_ips[hour_us // HOUR_US % len(world.attacker_ips)]
    agent = burst_rng.choice(ATTACKER_AGENTS)
    start = hour_us + burst_rng.randrange(HOUR_US - 600_000_000)
    target = world.users.pick(rng) if rng.random() < 0.6 else None
    email = target.email if target else rng.choice(details.GUESSED_EMAILS)
    return Event(
        ts=start + index * 600_000_000 // max(size, 1) + rng.randrange(1_000_000),
        nonce=rng.getrandbits(62),
        action="LOGIN_FAILED",
        resource_type="USER",
        resource_id=target.user_id if target else None,
        user_id=target.user_id if target else None,
        user_email=email,
        ip_address=ip,
        user_agent=agent,
        details={
            "reason": "Invalid credentials" if target else "Unknown user",
            "attempted_email": email,
            "attempt": index + 1,
        },
        status="FAILED",
    )
