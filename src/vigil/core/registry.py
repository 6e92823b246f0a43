"""Registries of extension points, checked when they are built (at import).

A registry maps each member of an enum (a detection kind, a notification channel) to what
implements it. Building one refuses a member left out, a member given twice and a key that
is no member, so a half-added extension stops the app from starting instead of failing on
the first alert that needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TypeVar

M = TypeVar("M", bound=Enum)
V = TypeVar("V")


class RegistryError(RuntimeError):
    """A registry that does not have exactly one entry for each member of its enum."""


def one_each(members: type[M], entries: Iterable[tuple[object, V]], *, what: str) -> dict[M, V]:
    """``{member: value}`` from ``(member, value)`` pairs, exactly one for each member.

    ``what`` names a value in the error, e.g. ``"rule function"``.
    """
    found: dict[M, V] = {}
    twice: list[str] = []
    strays: list[str] = []
    for key, value in entries:
        if not isinstance(key, members):
            strays.append(repr(key))
        elif key in found:
            twice.append(f"{members.__name__}.{key.name}")
        else:
            found[key] = value
    problems = []
    if missing := [f"{members.__name__}.{m.name}" for m in members if m not in found]:
        problems.append(f"no {what} for {', '.join(missing)}")
    if twice:
        problems.append(f"more than one {what} for {', '.join(twice)}")
    if strays:
        problems.append(f"a {what} for {', '.join(strays)}, which is no {members.__name__}")
    if problems:
        raise RegistryError("; ".join(problems))
    return found
