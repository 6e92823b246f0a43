"""Two-factor authentication with TOTP codes, and single-use recovery codes."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

import pyotp
import segno
from sqlalchemy import Connection, delete, select, update

from vigil.accounts.tables import UserRow, recovery_codes, users
from vigil.core.clock import new_id
from vigil.core.permissions import ROLE_RANK, Role
from vigil.core.sealing import UnsealError, seal, unseal
from vigil.core.tokens import fingerprint

log = logging.getLogger(__name__)

ISSUER = "Vigil"
STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
SEALING_PURPOSE = "totp-secret"


def setup_required(user: UserRow, *, tenant_requires_it: bool) -> bool:
    """Whether the user must turn 2FA on before doing anything else: the tenant's
    ``require_2fa_for_admins`` applies to ADMIN and above."""
    is_admin = ROLE_RANK[Role(user["role"])] >= ROLE_RANK[Role.ADMIN]
    return tenant_requires_it and is_admin and not user["totp_enabled"]


def _where(user: UserRow) -> tuple[Any, ...]:
    return (users.c.tenant_id == user["tenant_id"], users.c.id == user["id"])


def start_setup(conn: Connection, *, user: UserRow, secret_key: str) -> dict[str, str]:
    """A new secret for the user's authenticator app; 2FA is on only once a code proves it."""
    secret = pyotp.random_base32()
    sealed = seal(secret_key, SEALING_PURPOSE, secret)
    conn.execute(update(users).where(*_where(user)).values(totp_secret=sealed))
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=ISSUER)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg}


def enable(
    conn: Connection, *, user: UserRow, code: str, now: datetime, secret_key: str
) -> list[str] | None:
    """Turn 2FA on if ``code`` matches the new secret; returns fresh recovery codes, or None."""
    if not user["totp_secret"] or user["totp_enabled"]:
        return None
    if not _accept_totp(conn, user=user, code=code, now=now, secret_key=secret_key):
        return None
    conn.execute(update(users).where(*_where(user)).values(totp_enabled=True))
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    conn.execute(
        recovery_codes.insert(),
        [
            {
                "tenant_id": user["tenant_id"],
                "id": new_id(),
                "user_id": user["id"],
                "code_hash": fingerprint(code_text),
                "used_at": None,
            }
            for code_text in codes
        ],
    )
    return codes


def disable(conn: Connection, *, user: UserRow, code: str, now: datetime, secret_key: str) -> bool:
    """Turn 2FA off, given a current code or a recovery code."""
    if not user["totp_enabled"]:
        return False
    if not verify_second_factor(conn, user=user, code=code, now=now, secret_key=secret_key):
        return False
    conn.execute(
        update(users)
        .where(*_where(user))
        .values(totp_enabled=False, totp_secret=None, totp_last_step=None)
    )
    conn.execute(
        delete(recovery_codes).where(
            recovery_codes.c.tenant_id == user["tenant_id"],
            recovery_codes.c.user_id == user["id"],
        )
    )
    return True


def verify_second_factor(
    conn: Connection, *, user: UserRow, code: str, now: datetime, secret_key: str
) -> bool:
    """Accept a TOTP code not used before, or an unused recovery code (using it up)."""
    code = code.strip()
    if _accept_totp(conn, user=user, code=code, now=now, secret_key=secret_key):
        return True
    found = conn.execute(
        select(recovery_codes.c.id).where(
            recovery_codes.c.tenant_id == user["tenant_id"],
            recovery_codes.c.user_id == user["id"],
            recovery_codes.c.code_hash == fingerprint(code.lower()),
            recovery_codes.c.used_at.is_(None),
        )
    ).first()
    if found is None:
        return False
    conn.execute(
        update(recovery_codes)
        .where(recovery_codes.c.tenant_id == user["tenant_id"], recovery_codes.c.id == found[0])
        .values(used_at=now)
    )
    return True


def _accept_totp(
    conn: Connection, *, user: UserRow, code: str, now: datetime, secret_key: str
) -> bool:
    """A code of this step or a neighbour (clock drift), later than the last one accepted."""
    if not user["totp_secret"] or not (code.isascii() and code.isdigit()) or len(code) != 6:
        return False
    try:
        secret = unseal(secret_key, SEALING_PURPOSE, user["totp_secret"])
    except UnsealError:
        # Recovery codes still work; the operator has to restore the key for TOTP codes.
        log.error(
            "cannot open the TOTP secret of user %s: was VIGIL_SECRET_KEY changed?", user["id"]
        )
        return False
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    last = user["totp_last_step"] if user["totp_last_step"] is not None else -1
    for step in (current - 1, current, current + 1):
        if step > last and secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            conn.execute(update(users).where(*_where(user)).values(totp_last_step=step))
            return True
    return False


def _recovery_code() -> str:
    raw = secrets.token_hex(6)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
