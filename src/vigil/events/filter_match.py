"""Whether one stored event passes a list's filters (``events.filters.EventFilters``), in
memory: the answer ``events.service.match`` gives in SQL, for the live feed, which judges
each committed event for each subscriber as it arrives rather than asking the database.

Every filter compares the column as the SQL does: exact values, the address by its
sortable key, the time range half-open, and ``q`` by ``events.search_match``.
"""

from __future__ import annotations

from vigil.events.filters import Actor, EventFilters
from vigil.events.search_match import in_network, query_matches
from vigil.events.tables import EventRow


def filters_match(filters: EventFilters, event: EventRow) -> bool:
    """True when ``event`` (a stored row) passes every filter of ``filters``."""
    if filters.actions and event["action"] not in {a.value for a in filters.actions}:
        return False
    if filters.resource_types and event["resource_type"] not in {
        r.value for r in filters.resource_types
    }:
        return False
    for name in ("resource_id", "user_id", "user_email"):
        wanted = getattr(filters, name)
        if wanted is not None and event[name] != wanted:
            return False
    if filters.actor is not None and not _by_actor(filters.actor, event):
        return False
    if filters.ip_networks and not any(in_network(event, n) for n in filters.ip_networks):
        return False
    if filters.countries and event["country"] not in filters.countries:
        return False
    if filters.status is not None and event["status"] != filters.status.value:
        return False
    if filters.start is not None and event["timestamp"] < filters.start:
        return False
    if filters.end is not None and event["timestamp"] >= filters.end:
        return False
    return query_matches(filters.query, event)


def _by_actor(actor: Actor, event: EventRow) -> bool:
    """``events.actor.actor_clause``, in memory."""
    if event["user_id"] is not None:
        return event["user_id"] in actor.user_ids
    return event["user_email"] is not None and event["user_email"] in actor.emails
