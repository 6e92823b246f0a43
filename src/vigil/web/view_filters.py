"""The filters of an activity view, as the URL carries them (so views bookmark and share)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from vigil.core.errors import InvalidInput, InvalidQuery
from vigil.events.filters import MAX_TEXT_QUERY, Actor, EventFilters, parse_filters
from vigil.events.schemas import Action, ResourceType, Status

QUICK_RANGES = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("All time", None),
}
DEFAULT_RANGE = "7d"
PAGE_SIZE = 50
MAX_PAGE = 200  # 10,000 rows deep; past that, narrow the filters or export


@dataclass(frozen=True, slots=True)
class ViewFilters:
    """What a view selects. ``quick`` is a relative range; ``start``/``end`` are dates."""

    quick: str = ""
    start: str = ""
    end: str = ""
    action: str = ""
    resource: str = ""
    status: str = ""
    q: str = ""
    user: str = ""
    resource_id: str = ""
    ip: str = ""
    country: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params: QueryParams) -> ViewFilters:
        """The filters in a URL's query; unknown values are kept and reported on use."""

        def text(name: str, limit: int = 320) -> str:
            return (params.get(name) or "").strip()[:limit]

        quick = text("range", 8)
        start, end = text("from", 40), text("to", 40)
        if not (quick or start or end):
            quick = DEFAULT_RANGE
        page_text = text("page", 6)
        page = int(page_text) if (page_text.isascii() and page_text.isdigit()) else 1
        return cls(
            quick=quick if quick in QUICK_RANGES else "",
            start="" if quick in QUICK_RANGES else start,
            end="" if quick in QUICK_RANGES else end,
            action=text("action", 40).upper(),
            resource=text("resource", 40).upper(),
            status=text("status", 16).upper(),
            # One character over, so a longer query is refused, not cut short.
            q=text("q", MAX_TEXT_QUERY + 1),
            user=text("user"),
            resource_id=text("resource_id", 255),
            ip=text("ip", 64),
            country=text("country", 200),
            page=min(max(page, 1), MAX_PAGE),
        )

    def api_params(self, now: datetime, *, person: str | None = None) -> dict[str, str]:
        """The same selection as the API's list filters (for export links and checks)."""
        params: dict[str, str] = {}
        span = QUICK_RANGES.get(self.quick, ("", None))[1]
        if span is not None:
            params["start_date"] = (now - span).isoformat()
        if self.start:
            params["start_date"] = self.start
        if self.end:
            params["end_date"] = self.end
        if self.action:
            params["action"] = self.action
        if self.resource:
            params["resource_type"] = self.resource
        if self.status:
            params["status"] = self.status
        if self.resource_id:
            params["resource_id"] = self.resource_id
        if self.q:
            params["q"] = self.q
        if self.ip:
            params["ip_address"] = self.ip
        if self.country:
            params["country"] = self.country
        if person is not None:
            params["person"] = person
        elif self.user:
            # An email finds the actor however their events were sent; anything else is an id.
            params["user_email" if "@" in self.user else "user_id"] = self.user
        return params

    def event_filters(self, now: datetime, *, actor: Actor | None = None) -> EventFilters:
        """Validated filters, of ``actor``'s events only when given (a person's Activity
        tab); a bad value raises ``InvalidInput`` naming the form's field."""
        params = self.api_params(now)
        if actor is not None:
            params.pop("user_id", None)
            params.pop("user_email", None)
        try:
            filters = parse_filters(
                action=[params["action"]] if "action" in params else None,
                resource_type=[params["resource_type"]] if "resource_type" in params else None,
                resource_id=params.get("resource_id"),
                user_id=params.get("user_id"),
                user_email=params.get("user_email"),
                ip_address=params.get("ip_address"),
                country=[params["country"]] if "country" in params else None,
                status=params.get("status"),
                q=params.get("q"),
                start_date=params.get("start_date"),
                end_date=params.get("end_date"),
            )
        except InvalidQuery:
            raise  # shown under the search box, with where it went wrong
        except InvalidInput as error:
            raise InvalidInput(_FORM_FIELDS.get(error.field, error.field), error.reason) from None
        return filters if actor is None else replace(filters, actor=actor)

    def url(self, path: str, **changes: Any) -> str:
        """``path`` with these filters (and ``changes``) as its query."""
        chosen = replace(self, **changes)
        query = {
            "range": chosen.quick,
            "from": chosen.start,
            "to": chosen.end,
            "action": chosen.action,
            "resource": chosen.resource,
            "status": chosen.status,
            "q": chosen.q,
            "user": chosen.user,
            "resource_id": chosen.resource_id,
            "ip": chosen.ip,
            "country": chosen.country,
            "page": str(chosen.page) if chosen.page > 1 else "",
        }
        encoded = urlencode({k: v for k, v in query.items() if v})
        return f"{path}?{encoded}" if encoded else path

    def quick_range_url(self, path: str, quick: str) -> str:
        """The view over one of the quick ranges, other filters kept, back to page one."""
        return self.url(path, quick=quick, start="", end="", page=1)


def split_at_token(text: str, position: int) -> tuple[str, str, str]:
    """``text`` before the word starting at ``position``, that word, and the rest."""
    end = position
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[:position], text[position:end], text[end:]


# The API names its filters differently from the form's labels; errors name the form's.
_FORM_FIELDS = {
    "start_date": "From",
    "end_date": "To",
    "action": "Action",
    "resource_type": "Resource",
    "status": "Status",
    "q": "Search",
    "user_id": "User",
    "user_email": "User",
    "resource_id": "Resource id",
    "ip_address": "IP address",
    "country": "Country",
}

ACTIONS = [a.value for a in Action]
RESOURCE_TYPES = [r.value for r in ResourceType]
STATUSES = [s.value for s in Status]
