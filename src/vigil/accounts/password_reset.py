"""Password reset: a single-use link by email, valid for thirty minutes."""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, update

from vigil.accounts import sessions, users
from vigil.accounts.passwords import check_password_rules, hash_password
from vigil.accounts.tables import PasswordResetRow, UserRow, password_reset_row, password_resets
from vigil.accounts.tables import users as users_table
from vigil.core.clock import new_id, utcnow
from vigil.core.errors import InvalidInput, VigilError
from vigil.core.tokens import fingerprint
from vigil.db.engine import write_transaction
from vigil.events import service as events
from vigil.events.geo import Geolocator
from vigil.events.schemas import Action, EventIn, ResourceType
from vigil.notifications.mailer import send_email
from vigil.ops.request_ids import with_request_id
from vigil.settings import Settings

log = logging.getLogger(__name__)

RESET_PREFIX = "vr_"
RESET_LIFETIME = timedelta(minutes=30)
RESET_PATH = "/ui/reset-password"


class InvalidResetLink(VigilError):
    """A reset token that is unknown, used or expired."""

    status_code = 400


@dataclass(frozen=True, slots=True)
class ResetMail:
    """A reset email ready to send."""

    to: str
    link: str


def issue_link(conn: Connection, *, user: UserRow, settings: Settings, now: datetime) -> str:
    """Store a new single-use token for ``user`` and return the link carrying it."""
    token = RESET_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        password_resets.insert(),
        {
            "tenant_id": user["tenant_id"],
            "id": new_id(),
            "user_id": user["id"],
            "token_hash": fingerprint(token),
            "created_at": now,
            "expires_at": now + RESET_LIFETIME,
            "used_at": None,
        },
    )
    return f"{settings.base_url}{RESET_PATH}?token={token}"


def prepare_reset(engine: Engine, *, email: str, settings: Settings) -> ResetMail | None:
    """A link for the account of ``email``, or None when there is no active account."""
    with write_transaction(engine) as conn:
        user = users.find_by_email(conn, email=email.strip().lower())
        if user is None or user["status"] != users.ACTIVE:
            return None
        return ResetMail(
            to=user["email"], link=issue_link(conn, user=user, settings=settings, now=utcnow())
        )


def send_reset_mail(settings: Settings, mail: ResetMail) -> None:
    """Email the link; a failure is logged (without the link), never shown to the requester."""
    body = (
        "Someone asked to reset the password of your Vigil account.\n\n"
        f"To choose a new password, open this link within 30 minutes:\n\n{mail.link}\n\n"
        "The link works once. If you did not ask for it, ignore this email: your password "
        "stays as it is.\n"
    )
    try:
        send_email(settings, to=mail.to, subject="Reset your Vigil password", body=body)
    except Exception as error:
        log.warning("could not send a password reset email: %s", type(error).__name__)


def confirm_reset(
    engine: Engine,
    *,
    token: str,
    new_password: str,
    ip_address: str | None,
    user_agent: str | None,
    geo: Geolocator,
) -> tuple[UserRow, list[str]]:
    """Set the new password, end every session, record PASSWORD_RESET.

    Returns the user and the fingerprints of the sessions ended.
    """
    now = utcnow()
    with write_transaction(engine) as conn:
        found = _live_reset(conn, token=token, now=now)
        user = users.get_user(conn, tenant_id=found["tenant_id"], user_id=found["user_id"])
        if user["status"] != users.ACTIVE:
            raise InvalidResetLink("this reset link is invalid, used or expired")
        try:
            check_password_rules(new_password, email=user["email"])
        except ValueError as error:
            raise InvalidInput("new_password", str(error)) from None
        conn.execute(
            update(users_table)
            .where(users_table.c.tenant_id == user["tenant_id"], users_table.c.id == user["id"])
            .values(password_hash=hash_password(new_password), failed_logins=0, locked_until=None)
        )
        conn.execute(
            update(password_resets)
            .where(
                password_resets.c.tenant_id == found["tenant_id"],
                password_resets.c.id == found["id"],
            )
            .values(used_at=now)
        )
        ended = sessions.revoke_user_sessions(
            conn, tenant_id=user["tenant_id"], user_id=user["id"], now=now
        )
        _record_reset(conn, user=user, ip_address=ip_address, user_agent=user_agent, geo=geo)
    return user, ended


def _live_reset(conn: Connection, *, token: str, now: datetime) -> PasswordResetRow:
    query = select(password_resets).where(
        password_resets.c.token_hash == fingerprint(token),
        password_resets.c.used_at.is_(None),
        password_resets.c.expires_at > now,
    )
    found = conn.execute(query).mappings().first() if token.startswith(RESET_PREFIX) else None
    if found is None:
        raise InvalidResetLink("this reset link is invalid, used or expired")
    return password_reset_row(found)


def _record_reset(
    conn: Connection,
    *,
    user: UserRow,
    ip_address: str | None,
    user_agent: str | None,
    geo: Geolocator,
) -> None:
    event = EventIn(
        action=Action.PASSWORD_RESET,
        resource_type=ResourceType.USER,
        resource_id=str(user["id"]),
        user_id=str(user["id"]),
        user_email=user["email"],
        ip_address=ip_address,
        user_agent=user_agent[:1024] if user_agent else None,
        details=with_request_id({}) or None,
    )
    events.record(conn, tenant_id=user["tenant_id"], event=event, geo=geo)


def user_for_link(conn: Connection, *, tenant_id: uuid.UUID, email: str) -> UserRow | None:
    """The active user of ``tenant_id`` with ``email``, for an operator's reset link."""
    user = users.find_by_email(conn, email=email.strip().lower())
    if user is None or user["tenant_id"] != tenant_id or user["status"] != users.ACTIVE:
        return None
    return user
