"""Sessions: opaque tokens, stored hashed, that expire and can be revoked."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, select, update

from vigil.accounts.tables import SessionRow, UserRow, sessions, users
from vigil.accounts.users import ACTIVE, UserKey, effective_permissions
from vigil.core.clock import new_id
from vigil.core.permissions import ROLE_RANK, Role
from vigil.core.tokens import fingerprint
from vigil.tenants.tables import tenants

SESSION_PREFIX = "vs_"


class SessionUserRow(UserRow):
    """A live session joined with its user (every column) and its tenant's access settings."""

    session_id: uuid.UUID
    expires_at: datetime
    ip_allowlist: str
    require_2fa_for_admins: bool


def create_session(
    conn: Connection,
    *,
    user: UserKey,
    now: datetime,
    lifetime: timedelta,
    ip_address: str | None,
    user_agent: str | None,
) -> tuple[str, SessionRow]:
    """A new session for ``user``: the token to hand out (once) and the stored row."""
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    row: SessionRow = {
        "tenant_id": user["tenant_id"],
        "id": new_id(),
        "user_id": user["id"],
        "token_hash": fingerprint(token),
        "created_at": now,
        "expires_at": now + lifetime,
        "revoked_at": None,
        "ip_address": ip_address,
        "user_agent": user_agent[:1024] if user_agent else None,
    }
    conn.execute(sessions.insert(), row)
    return token, row


def find_session(conn: Connection, *, token: str, now: datetime) -> SessionUserRow | None:
    """The live session a token opens, joined with its (active) user; None otherwise."""
    if not token.startswith(SESSION_PREFIX):
        return None
    query = (
        select(
            sessions.c.id.label("session_id"),
            sessions.c.expires_at,
            tenants.c.ip_allowlist,
            tenants.c.require_2fa_for_admins,
            users,
        )
        .join(
            users, (users.c.tenant_id == sessions.c.tenant_id) & (users.c.id == sessions.c.user_id)
        )
        .join(tenants, tenants.c.id == sessions.c.tenant_id)
        .where(
            sessions.c.token_hash == fingerprint(token),
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > now,
            users.c.status == ACTIVE,
        )
    )
    found = conn.execute(query).mappings().first()
    # Safe: the query selects every column of ``users`` and exactly the four others.
    return cast(SessionUserRow, dict(found)) if found is not None else None


def session_permissions(found: SessionUserRow) -> tuple[frozenset[Any], int]:
    """What the session's user may do, and their role's rank."""
    return effective_permissions(found), ROLE_RANK[Role(found["role"])]


def revoke_session(
    conn: Connection, *, tenant_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> None:
    """End one session."""
    conn.execute(
        update(sessions)
        .where(sessions.c.tenant_id == tenant_id, sessions.c.id == session_id)
        .values(revoked_at=now)
    )


def revoke_user_sessions(
    conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> list[str]:
    """End every live session of a user; returns their fingerprints."""
    fingerprints = live_fingerprints(conn, tenant_id=tenant_id, user_id=user_id)
    conn.execute(
        update(sessions)
        .where(
            sessions.c.tenant_id == tenant_id,
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return fingerprints


def live_fingerprints(conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[str]:
    """Fingerprints of the user's sessions that are not revoked (expired ones included)."""
    query = select(sessions.c.token_hash).where(
        sessions.c.tenant_id == tenant_id,
        sessions.c.user_id == user_id,
        sessions.c.revoked_at.is_(None),
    )
    return list(conn.execute(query).scalars())
