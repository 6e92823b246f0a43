"""A registry of extension points is built with exactly one entry per member of its enum, or
the app refuses to start, saying what is missing, doubled or stray."""

from __future__ import annotations

from enum import StrEnum

import pytest

from vigil.core.registry import RegistryError, one_each


class Colour(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


def test_one_entry_per_member_is_a_registry() -> None:
    entries = [(Colour.RED, 1), (Colour.GREEN, 2), (Colour.BLUE, 3)]
    assert one_each(Colour, entries, what="painter") == {
        Colour.RED: 1, Colour.GREEN: 2, Colour.BLUE: 3,
    }  # fmt: skip


def test_a_missing_a_doubled_and_a_stray_entry_are_each_named() -> None:
    entries = [(Colour.RED, 1), (Colour.RED, 2), (Colour.GREEN, 3), ("purple", 4)]
    with pytest.raises(RegistryError) as refused:
        one_each(Colour, entries, what="painter")
    assert str(refused.value) == (
        "no painter for Colour.BLUE; more than one painter for Colour.RED; "
        "a painter for 'purple', which is no Colour"
    )
