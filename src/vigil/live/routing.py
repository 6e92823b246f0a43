"""Which of a tenant's subscribers an event goes to, without testing every subscriber.

Subscribers that asked for the same filters are one route, tested once per event. Each
route is filed under one value an event must have to pass it (a predicate index, as
publish/subscribe brokers keep): its ``user_id``, else ``resource_id``, else
``user_email``, else each of its actions; a route with none of these (every event, a
type, a search) is tested on every event. An event then looks up its own values and tests
only the routes filed under them, with the filters' whole test (``filter_match``), so
1,000 streams each watching one person cost about what one does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from vigil.events.filter_match import filters_match
from vigil.events.filters import EventFilters
from vigil.events.tables import EventRow

S = TypeVar("S")
Key = tuple[str, str]  # (column, value)
FILED_BY = ("user_id", "resource_id", "user_email")  # in order of preference


@dataclass(slots=True)
class Route(Generic[S]):
    """The subscribers that share one set of filters."""

    filters: EventFilters
    subscribers: list[S] = field(default_factory=list)


@dataclass(slots=True)
class Routes(Generic[S]):
    """A tenant's routes, filed by the value that lets an event reach them."""

    filed: dict[Key, list[Route[S]]] = field(default_factory=dict)
    everywhere: list[Route[S]] = field(default_factory=list)

    @classmethod
    def build(cls, subscribers: Iterable[tuple[EventFilters, S]]) -> Routes[S]:
        """The routes of (filters, subscriber) pairs."""
        routes: dict[EventFilters, Route[S]] = {}
        for filters, subscriber in subscribers:
            routes.setdefault(filters, Route(filters)).subscribers.append(subscriber)
        built: Routes[S] = cls()
        for route in routes.values():
            keys = _keys(route.filters)
            if not keys:
                built.everywhere.append(route)
            for key in keys:
                built.filed.setdefault(key, []).append(route)
        return built

    def of(self, event: EventRow) -> list[Route[S]]:
        """The routes ``event`` passes, each once."""
        candidates = list(self.everywhere)
        for column in (*FILED_BY, "action"):
            value = event[column]  # type: ignore[literal-required]
            if value is not None:
                candidates.extend(self.filed.get((column, value), ()))
        return [route for route in candidates if filters_match(route.filters, event)]


def _keys(filters: EventFilters) -> Sequence[Key]:
    """The values an event must have one of to pass ``filters`` (none: any event may)."""
    for column in FILED_BY:
        value = getattr(filters, column)
        if value is not None:
            return [(column, value)]
    return [("action", action.value) for action in filters.actions]
