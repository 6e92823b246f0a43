"""Credentials seen valid a moment ago, so busy callers skip a database lookup per request."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from vigil.core.principal import Principal


class RecentCredentials:
    """One per app: fingerprint → the principal it proved, for ``TTL_SECONDS``.

    Only successes are kept: a revoked key stops working on this node as soon as it is
    forgotten here, on other nodes within ``TTL_SECONDS``, and made-up keys cannot fill the
    cache. Single dict operations are atomic, and a stale read costs one extra lookup.
    """

    TTL_SECONDS = 5.0
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, fingerprint: str) -> Principal | None:
        """The principal a fingerprint proved in the last ``TTL_SECONDS``, if any."""
        found = self._entries.get(fingerprint)
        if found is None:
            return None
        if found[0] < time.monotonic():
            self._entries.pop(fingerprint, None)
            return None
        return found[1]

    def put(self, fingerprint: str, principal: Principal) -> None:
        """Remember a credential just proved valid."""
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[fingerprint] = (time.monotonic() + self.TTL_SECONDS, principal)

    def forget_all(self, fingerprints: Iterable[str]) -> None:
        """Stop trusting these credentials (revoked) without waiting for the TTL."""
        for fingerprint in fingerprints:
            self._entries.pop(fingerprint, None)

    def forget_tenant(self, tenant_id: uuid.UUID) -> None:
        """Look every credential of the tenant up afresh (its settings changed)."""
        for key, (_expires, principal) in list(self._entries.items()):
            if principal.tenant_id == tenant_id:
                self._entries.pop(key, None)
