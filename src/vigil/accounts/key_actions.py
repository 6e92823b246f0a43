"""Issuing and revoking API keys as a caller, recorded as theirs: what the console's API keys
page and the API's ``/api-keys`` routes both call."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, Engine

from vigil.accounts import service
from vigil.accounts.caller_audit import CallerAudit
from vigil.accounts.tables import ApiKeyRow
from vigil.core.clock import utcnow
from vigil.core.errors import Forbidden
from vigil.core.permissions import Permission
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType


def issue_key(
    engine: Engine, audit: CallerAudit, *, name: str, scopes: frozenset[Permission]
) -> tuple[str, ApiKeyRow]:
    """A new key of the caller's tenant: its secret (to show once; never stored) and its row.
    Raises ``Forbidden`` for a scope the caller does not hold; recorded as CREATE on API_KEY
    (name, scopes and prefix, never the secret)."""
    principal = audit.principal
    beyond = scopes - principal.permissions
    if beyond:
        names = ", ".join(sorted(p.value for p in beyond))
        raise Forbidden(f"a key cannot carry permissions you do not hold: {names}")
    with write_transaction(engine) as conn:
        secret, row = service.create_api_key(
            conn, tenant_id=principal.tenant_id, name=name, scopes=scopes, user_id=principal.user_id
        )
        _record(audit, conn, Action.CREATE, row)
    return secret, row


def revoke_key(engine: Engine, audit: CallerAudit, *, key_id: uuid.UUID) -> ApiKeyRow:
    """Revoke one of the tenant's keys at once (``NotFound`` for another tenant's or none);
    recorded as DELETE on API_KEY. Revoking it again changes and records nothing. The caller
    forgets the key's credential (``row["key_hash"]``) on this node."""
    with write_transaction(engine) as conn:
        row, revoked = service.revoke_api_key(
            conn, tenant_id=audit.principal.tenant_id, key_id=key_id, now=utcnow()
        )
        if revoked:
            _record(audit, conn, Action.DELETE, row)
    return row


def _record(audit: CallerAudit, conn: Connection, action: Action, row: ApiKeyRow) -> None:
    audit.record(
        conn,
        action=action,
        resource_type=ResourceType.API_KEY,
        resource_id=str(row["id"]),
        details={"name": row["name"], "scopes": row["scopes"], "prefix": row["key_prefix"]},
    )
