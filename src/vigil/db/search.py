"""Substring tests over folded search text, written for each database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func

LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its ``%`` and ``_`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column: ColumnElement[Any], text: str, *, dialect: str) -> ColumnElement[bool]:
    """Whether ``column`` holds ``text`` as a substring, exactly (both already folded by
    ``db.folding.fold``): ``instr`` on SQLite, whose ``LIKE`` would also fold ASCII, and
    ``LIKE`` on PostgreSQL, which a trigram index (``pg_trgm``) can answer."""
    if dialect == "sqlite":
        return func.instr(column, text) > 0
    return column.like(contains_pattern(text), escape=LIKE_ESCAPE)
