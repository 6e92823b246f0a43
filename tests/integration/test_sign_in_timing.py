"""A failed sign-in takes the same time whether or not the account exists."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.conftest import Tenant
from tests.integration.test_sign_in import make_user

TRIES = 15


def fastest_failure_seconds(tenant: Tenant, email: str, *, ip: str) -> float:
    body = {"email": email, "password": "not the password", "tenant": tenant.name}
    timings = []
    with httpx.Client(base_url=tenant.stack.base_url, headers={"X-Forwarded-For": ip}) as client:
        for _ in range(TRIES):
            started = time.perf_counter()
            answer = client.post("/auth/login", json=body)
            timings.append(time.perf_counter() - started)
            assert answer.status_code == 401
    # The fastest try: a busy machine only ever adds time, so the least is the work itself.
    return min(timings)


def test_unknown_and_existing_accounts_fail_in_the_same_time(tenant: Tenant) -> None:
    user = make_user(tenant)
    # Interleaved rounds, so drift on a shared machine hits both sides alike.
    known, unknown = [], []
    for round_no in range(2):
        known.append(fastest_failure_seconds(tenant, user["email"], ip=f"198.18.1.{round_no + 1}"))
        ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
        unknown.append(fastest_failure_seconds(tenant, ghost, ip=f"198.18.2.{round_no + 1}"))
    known_fastest, unknown_fastest = min(known), min(unknown)
    # Both verify one argon2 hash (tens of milliseconds): an unknown account answered
    # without one would be that much faster; what differs must be noise-sized.
    assert abs(known_fastest - unknown_fastest) < max(0.010, 0.2 * known_fastest), (
        known_fastest,
        unknown_fastest,
    )
