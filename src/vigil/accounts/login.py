"""Sign-in and sign-out: every outcome recorded, every failure alike from outside."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypedDict

from sqlalchemy import Connection, Engine

from vigil.accounts import sessions, two_factor, users
from vigil.accounts.passwords import hash_password, verify_password
from vigil.accounts.tables import UserRow
from vigil.accounts.throttle import LoginThrottle
from vigil.core.clock import utcnow
from vigil.core.errors import Unauthenticated
from vigil.db.engine import write_transaction
from vigil.events import service as events
from vigil.events.geo import Geolocator
from vigil.events.schemas import Action, EventIn, ResourceType, Status
from vigil.ops.request_ids import with_request_id
from vigil.settings import Settings
from vigil.tenants import service as tenants
from vigil.tenants.allowlist import from_stored, is_allowed
from vigil.tenants.tables import TenantRow

# The one answer to every failed sign-in, whatever the cause.
SIGN_IN_FAILED = "invalid email or password"
# Failures that count towards locking the account: guesses at its secrets.
COUNTED_FAILURES = frozenset({"invalid password", "invalid two-factor code"})


class UserIdentity(TypedDict):
    """Who a user is, as the events of their sign-ins and sign-outs name them."""

    id: uuid.UUID
    email: str


@dataclass(frozen=True, slots=True)
class SignInRequest:
    """What a sign-in attempt brings."""

    email: str
    password: str
    tenant_hint: str | None
    ip_address: str | None
    user_agent: str | None
    totp_code: str | None = None
    # The console asks for the code on a page of its own: it wants to hear that one is
    # needed, and comes back with the user whose password it already checked.
    ask_for_code: bool = False
    proven_user: uuid.UUID | None = None


class SecondFactorNeeded(Exception):
    """The password was right and a code is needed (only when ``ask_for_code``).

    Nothing is recorded: the sign-in is not over, it continues on the code page.
    """

    def __init__(self, user_id: uuid.UUID) -> None:
        super().__init__("two-factor code needed")
        self.user_id = user_id


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session."""

    token: str
    expires_at: datetime
    user: UserRow
    two_factor_setup_required: bool  # the session may only turn 2FA on, until it does


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified when there is no real hash, so a sign-in costs the same either way.
    return hash_password("not-a-real-password-" + uuid.uuid4().hex)


def sign_in(
    engine: Engine, *, attempt: SignInRequest, settings: Settings, geo: Geolocator
) -> SignedIn:
    """Open a session, or raise the one ``Unauthenticated`` answer; both are recorded (with
    the country of the attempt's address, from ``geo``)."""
    now = utcnow()
    email = attempt.email.strip().lower()
    with engine.connect() as conn:
        user = users.find_by_email(conn, email=email)
        tenant_id = user["tenant_id"] if user else _tenant_for_unknown(conn, attempt.tenant_hint)
        tenant = tenants.get_tenant(conn, tenant_id=tenant_id) if tenant_id else None
    address_allowed = tenant is None or is_allowed(
        attempt.ip_address, from_stored(tenant["ip_allowlist"])
    )
    if attempt.proven_user is not None:  # the console's code step: checked a moment ago
        password_matches = user is not None and user["id"] == attempt.proven_user
    else:
        # One argon2 verification on every path: the time says nothing about the account.
        stored_hash = user["password_hash"] if user and user["password_hash"] else _dummy_hash()
        password_matches = verify_password(stored_hash, attempt.password)
    reason = _failure_reason(user, password_matches, now)
    if user is not None and not address_allowed:
        reason = "ip not allowed"
    with write_transaction(engine) as conn:
        if reason is None and user is not None and user["totp_enabled"]:
            if attempt.ask_for_code and not attempt.totp_code:
                raise SecondFactorNeeded(user["id"])
            reason = _second_factor_failure(conn, user, attempt.totp_code, now, settings)
        if reason is None and user is not None:
            assert tenant is not None  # a user always has a tenant
            return _open_session(conn, user, attempt, settings, now, tenant, geo)
        if user is not None and reason in COUNTED_FAILURES:
            lock_for = timedelta(minutes=settings.lockout_minutes)
            users.note_failed_login(
                conn, user=user, now=now, threshold=settings.lockout_threshold, lock_for=lock_for
            )
        if tenant_id is not None:
            _record(
                conn,
                tenant_id=tenant_id,
                action=Action.LOGIN_FAILED,
                user=user,
                attempt=attempt,
                details={"reason": reason, "attempted_email": attempt.email[:320]},
                geo=geo,
            )
    raise Unauthenticated(SIGN_IN_FAILED)


def sign_in_throttled(
    engine: Engine,
    *,
    attempt: SignInRequest,
    settings: Settings,
    throttle: LoginThrottle,
    geo: Geolocator,
) -> SignedIn:
    """``sign_in`` behind the per-address throttle (429 first), counting each failure."""
    throttle.check(attempt.ip_address)
    try:
        return sign_in(engine, attempt=attempt, settings=settings, geo=geo)
    except Unauthenticated:
        throttle.record_failure(attempt.ip_address)
        raise


def _second_factor_failure(
    conn: Connection, user: UserRow, code: str | None, now: datetime, settings: Settings
) -> str | None:
    if not code:
        return "two-factor code required"
    key = settings.secret_key
    if not two_factor.verify_second_factor(conn, user=user, code=code, now=now, secret_key=key):
        return "invalid two-factor code"
    return None


def _failure_reason(user: UserRow | None, password_matches: bool, now: datetime) -> str | None:
    if user is None:
        return "unknown email"
    if user["status"] != users.ACTIVE:
        return "account disabled"
    if user["locked_until"] is not None and user["locked_until"] > now:
        return "account locked"
    if not user["password_hash"]:
        return "no password set"
    if not password_matches:
        return "invalid password"
    return None


def _open_session(
    conn: Connection,
    user: UserRow,
    attempt: SignInRequest,
    settings: Settings,
    now: datetime,
    tenant: TenantRow,
    geo: Geolocator,
) -> SignedIn:
    users.note_successful_login(conn, user=user, now=now)
    token, session = sessions.create_session(
        conn,
        user=user,
        now=now,
        lifetime=timedelta(hours=settings.session_hours),
        ip_address=attempt.ip_address,
        user_agent=attempt.user_agent,
    )
    _record(
        conn,
        tenant_id=user["tenant_id"],
        action=Action.LOGIN,
        user=user,
        attempt=attempt,
        details={"login_method": "email_password", "tenant_name": tenant["name"]},
        geo=geo,
    )
    fresh: UserRow = {**user, "last_login_at": now, "last_active_at": now, "failed_logins": 0}
    setup_required = two_factor.setup_required(
        user, tenant_requires_it=tenant["require_2fa_for_admins"]
    )
    return SignedIn(
        token=token,
        expires_at=session["expires_at"],
        user=fresh,
        two_factor_setup_required=setup_required,
    )


def sign_out(
    engine: Engine,
    *,
    tenant_id: uuid.UUID,
    session_id: uuid.UUID,
    user: UserIdentity,
    ip_address: str | None,
    user_agent: str | None,
    geo: Geolocator,
) -> None:
    """End the session and record the LOGOUT."""
    with write_transaction(engine) as conn:
        sessions.revoke_session(conn, tenant_id=tenant_id, session_id=session_id, now=utcnow())
        attempt = SignInRequest(user["email"], "", None, ip_address, user_agent)
        _record(
            conn,
            tenant_id=tenant_id,
            action=Action.LOGOUT,
            user=user,
            attempt=attempt,
            details={},
            geo=geo,
        )


def _record(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    action: Action,
    user: UserIdentity | None,
    attempt: SignInRequest,
    details: dict[str, Any],
    geo: Geolocator,
) -> None:
    event = EventIn(
        action=action,
        resource_type=ResourceType.USER,
        resource_id=str(user["id"]) if user else None,
        user_id=str(user["id"]) if user else None,
        user_email=user["email"] if user else None,
        ip_address=attempt.ip_address,
        user_agent=attempt.user_agent[:1024] if attempt.user_agent else None,
        details=with_request_id(details) or None,
        status=Status.FAILED if action is Action.LOGIN_FAILED else Status.SUCCESS,
    )
    events.record(conn, tenant_id=tenant_id, event=event, geo=geo)


def _tenant_for_unknown(conn: Connection, hint: str | None) -> uuid.UUID | None:
    """Where a failure for an unknown email is recorded: the named tenant, or the only one."""
    if hint:
        found = tenants.get_tenant_by_name(conn, name=hint, required=False)
    else:
        found = tenants.only_tenant(conn)
    return found["id"] if found else None
