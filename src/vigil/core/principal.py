"""Who is calling: the credential's tenant, permissions and identity, resolved once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from vigil.core.permissions import ROLE_RANK, Permission, Role
from vigil.settings import IPNetwork


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant is always taken from here, never from a request body."""

    tenant_id: uuid.UUID
    permissions: frozenset[Permission]
    api_key_id: uuid.UUID | None = None
    api_key_name: str | None = None
    user_id: uuid.UUID | None = None
    user_email: str | None = None
    role_rank: int = 0  # a signed-in user's role rank; 0 for API keys
    session_id: uuid.UUID | None = None
    allowed_networks: tuple[IPNetwork, ...] = ()  # the tenant's IP allowlist
    # An admin whose tenant requires 2FA and who has not turned it on yet: the session
    # may only set it up (and sign out) until they do.
    two_factor_setup_required: bool = False

    def label(self) -> str:
        """How this caller appears in event details."""
        if self.user_email:
            return self.user_email
        return f"api key {self.api_key_name}"

    @property
    def actor_id(self) -> str:
        """The ``user_id`` of the events this caller's actions record."""
        return str(self.user_id) if self.user_id else f"apikey:{self.api_key_id}"

    @property
    def rank(self) -> int:
        """How far this caller may raise others: a managing key counts as an ADMIN."""
        if self.role_rank:
            return self.role_rank
        return ROLE_RANK[Role.ADMIN] if Permission.USER_MANAGE in self.permissions else 1
