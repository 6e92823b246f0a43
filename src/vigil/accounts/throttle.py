"""Per-address throttling of failed sign-ins, kept in this node's memory."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from vigil.core.errors import TooManyRequests


class LoginThrottle:
    """At most ``limit`` failed sign-ins per address in any ``window_seconds``.

    Per node: behind a load balancer each node counts its own share, so the limit an
    attacker meets is the limit times the number of nodes; account lockout, counted in
    the database, still stops guessing at one account.
    """

    MAX_ADDRESSES = 100_000

    def __init__(self, *, limit: int, window_seconds: float = 300.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str | None) -> None:
        """Raise 429 (with Retry-After) when ``address`` has used up its failures."""
        if address is None:
            return
        with self._lock:
            recent = self._recent(address, time.monotonic())
            if recent is not None and len(recent) >= self.limit:
                wait = recent[0] + self.window - time.monotonic()
                raise TooManyRequests(
                    "too many failed sign-ins from this address; try again later",
                    retry_after=max(1, math.ceil(wait)),
                )

    def record_failure(self, address: str | None) -> None:
        """Count one failed sign-in from ``address``."""
        if address is None:
            return
        with self._lock:
            if len(self._failures) >= self.MAX_ADDRESSES:
                self._failures.clear()  # memory stays bounded whatever an attacker sends
            now = time.monotonic()
            recent = self._recent(address, now)
            if recent is None:
                recent = self._failures[address] = deque()
            recent.append(now)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        recent = self._failures.get(address)
        if recent is None:
            return None
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if not recent:
            del self._failures[address]
            return None
        return recent
