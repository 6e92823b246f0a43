"""Fingerprints of bearer secrets (API keys, sessions), the only form Vigil stores."""

from __future__ import annotations

import hashlib


def fingerprint(secret: str) -> str:
    """SHA-256 of a secret: enough for 256 random bits, and fast on every request."""
    return hashlib.sha256(secret.encode()).hexdigest()
