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


def holds(column: ColumnElement[Any], text: str, *, dialect: str) -> ColumnElement[bool]:
    """Whether ``column`` holds ``text`` as a substring, exactly (both already folded by
    ``db.folding.fold``), for a column no index answers this on, such as events' search
    text: ``instr`` on SQLite, ``strpos`` on PostgreSQL.

    PostgreSQL estimates a ``LIKE '%…%'`` from a sample of the column, and a sample that
    misses a frequent term makes it plan a scan of the whole table sorted at the end
    (measured at 1M events: 560 ms for a page a walk in time order reads in 5). It has no
    estimate for ``strpos``, so it assumes a third of the rows, which suits a term worth
    reading events for: the search reads events only for terms the index cannot narrow
    down (``events.search_clauses``)."""
    if dialect == "sqlite":
        return func.instr(column, text) > 0
    return func.strpos(column, text) > 0
