"""Resource activity: the resources of one type ranked as most changed, most accessed and
most active in a period, each with its events per action and its last actor (the product
guide's "projects with most changes, frequently accessed models, heavily used endpoints,
active clusters")."""

from __future__ import annotations

import uuid
from typing import Any, Final, TypedDict

from sqlalchemy import Connection, Integer, and_, cast, func, select

from vigil.analytics.period import Period
from vigil.analytics.team import CHANGES
from vigil.events.schemas import Action
from vigil.events.tables import events

RANKINGS: Final = ("most_changed", "most_accessed", "most_active")


class ResourceActivity(TypedDict):
    """One resource in a period: its events, changes (CREATE, UPDATE, DELETE), events per
    action, distinct actors (by user id, or email for events with none), and who acted on
    it last, when."""

    resource_id: str
    events: int
    changes: int
    by_action: dict[str, int]
    actors: int
    last_actor: dict[str, Any] | None


def resource_activity(
    conn: Connection, *, tenant_id: uuid.UUID, resource_type: str, period: Period, limit: int
) -> dict[str, list[ResourceActivity]]:
    """The ``limit`` resources of ``resource_type`` with the most changes, the most events
    and the most distinct actors in ``period``, most first (ties by id). Reads the type's
    events of the period once, in the index on (type, id, time)."""
    e = events.c
    actions = [a.value for a in Action]
    actor = func.coalesce(e.user_id, e.user_email)
    per_action = [
        func.sum(cast(e.action == action, Integer)).label(f"n_{action}") for action in actions
    ]
    rows = conn.execute(
        select(
            e.resource_id,
            func.count().label("events"),
            func.count(func.distinct(actor)).label("actors"),
            *per_action,
        )
        .where(
            e.tenant_id == tenant_id,
            e.resource_type == resource_type,
            e.resource_id.is_not(None),
            e.timestamp >= period.start,
            e.timestamp < period.end,
        )
        .group_by(e.resource_id)
    ).mappings()
    found: list[ResourceActivity] = []
    for row in rows:
        by_action = {a: int(row[f"n_{a}"]) for a in actions if row[f"n_{a}"]}
        found.append(
            {
                "resource_id": row["resource_id"],
                "events": int(row["events"]),
                "changes": sum(n for a, n in by_action.items() if a in CHANGES),
                "by_action": dict(sorted(by_action.items(), key=lambda kv: (-kv[1], kv[0]))),
                "actors": int(row["actors"]),
                "last_actor": None,
            }
        )
    ranked = {
        "most_changed": sorted(
            (r for r in found if r["changes"]), key=lambda r: (-r["changes"], r["resource_id"])
        )[:limit],
        "most_accessed": sorted(found, key=lambda r: (-r["events"], r["resource_id"]))[:limit],
        "most_active": sorted(found, key=lambda r: (-r["actors"], r["resource_id"]))[:limit],
    }
    shown = {r["resource_id"] for listed in ranked.values() for r in listed}
    last = {rid: _last_actor(conn, tenant_id, resource_type, rid, period) for rid in sorted(shown)}
    for listed in ranked.values():
        for r in listed:
            r["last_actor"] = last[r["resource_id"]]
    return ranked


def _last_actor(
    conn: Connection, tenant_id: uuid.UUID, resource_type: str, resource_id: str, period: Period
) -> dict[str, Any] | None:
    """Who acted on the resource last in the period: one probe of the (type, id, time)
    index, newest first."""
    e = events.c
    found = conn.execute(
        select(e.user_id, e.user_email, e.action, e.timestamp)
        .where(
            and_(
                e.tenant_id == tenant_id,
                e.resource_type == resource_type,
                e.resource_id == resource_id,
                e.timestamp >= period.start,
                e.timestamp < period.end,
            )
        )
        .order_by(e.timestamp.desc(), e.id.desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    user_id, email, action, moment = found
    return {"user_id": user_id, "user_email": email, "action": action, "timestamp": moment}
