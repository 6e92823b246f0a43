"""A signed-in user choosing a new password: proven with the current one."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine, select, update

from vigil.accounts import users
from vigil.accounts.caller_audit import CallerAudit
from vigil.accounts.passwords import check_password_rules, hash_password, verify_password
from vigil.accounts.tables import sessions as sessions_table
from vigil.accounts.tables import users as users_table
from vigil.core.clock import utcnow
from vigil.core.errors import InvalidInput
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.settings import Settings


def change_password(
    engine: Engine,
    *,
    audit: CallerAudit,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    settings: Settings,
) -> list[str]:
    """Set the new password and end the user's other sessions; returns their fingerprints.

    A wrong current password counts towards the account's lockout like a failed sign-in,
    so a stolen session cannot be used to guess it at leisure.
    """
    tenant_id, session_id = audit.principal.tenant_id, audit.principal.session_id
    with engine.connect() as conn:
        user = users.get_user(conn, tenant_id=tenant_id, user_id=user_id)
    # Verified outside the write transaction: argon2 is slow on purpose.
    if not user["password_hash"] or not verify_password(user["password_hash"], current_password):
        with write_transaction(engine) as conn:
            users.note_failed_login(
                conn,
                user=user,
                now=utcnow(),
                threshold=settings.lockout_threshold,
                lock_for=timedelta(minutes=settings.lockout_minutes),
            )
        raise InvalidInput("current_password", "does not match your current password")
    try:
        check_password_rules(new_password, email=user["email"])
    except ValueError as error:
        raise InvalidInput("new_password", str(error)) from None
    new_hash = hash_password(new_password)
    others = [
        sessions_table.c.tenant_id == tenant_id,
        sessions_table.c.user_id == user_id,
        sessions_table.c.revoked_at.is_(None),
    ]
    if session_id is not None:  # the session in use stays open
        others.append(sessions_table.c.id != session_id)
    now = utcnow()
    with write_transaction(engine) as conn:
        conn.execute(
            update(users_table)
            .where(users_table.c.tenant_id == tenant_id, users_table.c.id == user_id)
            .values(password_hash=new_hash, failed_logins=0, updated_at=now)
        )
        ended = list(conn.execute(select(sessions_table.c.token_hash).where(*others)).scalars())
        conn.execute(update(sessions_table).where(*others).values(revoked_at=now))
        audit.record(
            conn,
            action=Action.UPDATE,
            resource_type=ResourceType.USER,
            resource_id=str(user_id),
            details={"changed_fields": ["password"], "sessions_ended": len(ended)},
        )
    return ended
