"""Sealed secrets open only with the key and for the purpose they were sealed with."""

from __future__ import annotations

import pytest

from vigil.core.sealing import UnsealError, seal, unseal

KEY = "k" * 40


def test_a_sealed_value_opens_with_its_key_and_hides_the_plaintext() -> None:
    sealed = seal(KEY, "totp-secret", "JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert unseal(KEY, "totp-secret", sealed) == "JBSWY3DPEHPK3PXP"
    assert seal(KEY, "totp-secret", "JBSWY3DPEHPK3PXP") != sealed  # fresh nonce each time


def test_another_key_or_purpose_cannot_open_it() -> None:
    sealed = seal(KEY, "totp-secret", "JBSWY3DPEHPK3PXP")
    with pytest.raises(UnsealError, match="VIGIL_SECRET_KEY"):
        unseal("x" * 40, "totp-secret", sealed)
    with pytest.raises(UnsealError):
        unseal(KEY, "something-else", sealed)


def test_values_from_before_sealing_read_as_they_are() -> None:
    assert unseal(KEY, "totp-secret", "JBSWY3DPEHPK3PXP") == "JBSWY3DPEHPK3PXP"
