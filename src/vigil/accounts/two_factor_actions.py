"""Setting up, turning on and turning off 2FA for the signed-in user, each change recorded.

Shared by the API and the console; ``two_factor`` holds the codes and secrets themselves.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from vigil.accounts import two_factor
from vigil.accounts.caller_audit import CallerAudit
from vigil.accounts.tables import UserRow
from vigil.accounts.users import get_user
from vigil.core.clock import utcnow
from vigil.core.errors import Conflict, InvalidInput
from vigil.core.principal import Principal
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.tenants.service import get_tenant


def begin_setup(engine: Engine, principal: Principal, *, secret_key: str) -> dict[str, str]:
    """A new secret, otpauth URI and QR code; 2FA is on only once a code proves the app."""
    with write_transaction(engine) as conn:
        user = _signed_in_user(conn, principal)
        if user["totp_enabled"]:
            raise Conflict("two-factor authentication is already on; disable it first")
        return two_factor.start_setup(conn, user=user, secret_key=secret_key)


def turn_on(engine: Engine, audit: CallerAudit, *, code: str, secret_key: str) -> list[str]:
    """Turn 2FA on with a current code of the new secret; the recovery codes, shown once."""
    with write_transaction(engine) as conn:
        user = _signed_in_user(conn, audit.principal)
        codes = two_factor.enable(conn, user=user, code=code, now=utcnow(), secret_key=secret_key)
        if codes is None:
            raise InvalidInput("code", "not a current code of the secret from /auth/2fa/setup")
        _record(audit, conn, user, enabled=True)
    return codes


def turn_off(engine: Engine, audit: CallerAudit, *, code: str, secret_key: str) -> None:
    """Turn 2FA off with a current or recovery code, unless the tenant requires it."""
    principal = audit.principal
    with write_transaction(engine) as conn:
        user = _signed_in_user(conn, principal)
        tenant = get_tenant(conn, tenant_id=principal.tenant_id)
        if user["totp_enabled"] and two_factor.setup_required(
            {**user, "totp_enabled": False}, tenant_requires_it=tenant["require_2fa_for_admins"]
        ):
            raise Conflict("this tenant requires two-factor authentication for admins")
        if not two_factor.disable(conn, user=user, code=code, now=utcnow(), secret_key=secret_key):
            raise InvalidInput("code", "not a current code or an unused recovery code")
        _record(audit, conn, user, enabled=False)


def _signed_in_user(conn: Connection, principal: Principal) -> UserRow:
    if principal.user_id is None:
        raise InvalidInput("authorization", "two-factor authentication is for signed-in users")
    return get_user(conn, tenant_id=principal.tenant_id, user_id=principal.user_id)


def _record(audit: CallerAudit, conn: Connection, user: UserRow, *, enabled: bool) -> None:
    audit.record(
        conn,
        action=Action.UPDATE,
        resource_type=ResourceType.USER,
        resource_id=str(user["id"]),
        details={
            "changed_fields": ["two_factor_enabled"],
            "old_value": not enabled,
            "new_value": enabled,
        },
    )
