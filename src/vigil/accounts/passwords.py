"""Password hashing with argon2id at OWASP's recommended cost."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP: argon2id, 19 MiB of memory, 2 iterations, 1 degree of parallelism.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MIN_LENGTH = 12
MAX_LENGTH = 256


def check_password_rules(password: str, *, email: str | None = None) -> None:
    """Raise ``ValueError`` saying what is wrong with a new password."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"must be at most {MAX_LENGTH} characters")
    if email is not None and password.strip().lower() == email.strip().lower():
        raise ValueError("must not be the email address")


def hash_password(password: str) -> str:
    """An argon2id hash to store."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
