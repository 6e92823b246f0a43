"""A person's events as SQL: the ``actor`` filter (``events.filters.Actor``)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_

from vigil.events.filters import Actor
from vigil.events.tables import events


def actor_clause(actor: Actor) -> ColumnElement[bool]:
    """The events ``actor`` selects as a WHERE clause on ``events``; an empty ``Actor``
    selects none."""
    e = events.c
    parts: list[ColumnElement[bool]] = []
    if actor.user_ids:
        parts.append(e.user_id.in_(actor.user_ids))
    if actor.emails:
        parts.append(and_(e.user_id.is_(None), e.user_email.in_(actor.emails)))
    return or_(*parts) if parts else false()
