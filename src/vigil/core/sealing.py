"""Secrets Vigil must read back (TOTP seeds), sealed at rest with a key from VIGIL_SECRET_KEY.

A copy of the database alone then opens nobody's second factor. Changing VIGIL_SECRET_KEY
makes sealed values unreadable, so it has to stay the same for the installation's life.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SEALED_PREFIX = "sealed:v1:"


class UnsealError(Exception):
    """A sealed value that this installation's key cannot open."""


@lru_cache(maxsize=8)
def _fernet(secret_key: str, purpose: str) -> Fernet:
    # One derived key per purpose, so a value sealed for one use never opens as another.
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"vigil:{purpose}".encode()
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret_key: str, purpose: str, plaintext: str) -> str:
    """``plaintext`` encrypted and authenticated, as text to store."""
    token = _fernet(secret_key, purpose).encrypt(plaintext.encode()).decode()
    return SEALED_PREFIX + token


def unseal(secret_key: str, purpose: str, stored: str) -> str:
    """The plaintext of a value from ``seal``.

    Values stored before sealing existed carry no prefix and are read as they are.
    """
    if not stored.startswith(SEALED_PREFIX):
        return stored
    try:
        return _fernet(secret_key, purpose).decrypt(stored[len(SEALED_PREFIX) :]).decode()
    except InvalidToken as exc:
        raise UnsealError(f"cannot open a sealed {purpose}: was VIGIL_SECRET_KEY changed?") from exc
