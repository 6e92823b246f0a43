"""Query-string models for listing, per-user activity and export, documented once."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from vigil.core.pagination import CursorPageQuery
from vigil.events.export import ExportFormat
from vigil.events.filters import Actor, EventFilters, parse_filters
from vigil.events.schemas import Action, ResourceType, Status

_DATE = "ISO 8601 datetime with offset, or a date (a date-only end_date includes the whole day)"


# The filters are parsed by ``parse_filters`` (for messages that name the field), so the
# query's types stay ``str``; what the document says they accept is given here.
def _choices(enum: type[StrEnum]) -> dict[str, Any]:
    names = "|".join(member.value for member in enum)
    pattern = f"^({names})(,({names}))*$"
    return {"type": "array", "items": {"type": "string", "pattern": pattern}}


def _text(**schema: Any) -> Any:
    return WithJsonSchema({"type": "string", **schema})


Actions = Annotated[list[str] | None, WithJsonSchema(_choices(Action))]
ResourceTypes = Annotated[list[str] | None, WithJsonSchema(_choices(ResourceType))]
StatusName = Annotated[str | None, _text(enum=[s.value for s in Status])]
# An address, or a network in CIDR notation: a prefix length after a slash.
IPAddressOrNetwork = Annotated[
    str | None,
    _text(
        anyOf=[{"format": "ipv4"}, {"format": "ipv6"}, {"pattern": r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$"}],
        maxLength=64,
    ),
]
CountryCodes = Annotated[
    list[str] | None,
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z]{2}(,[A-Za-z]{2})*$"}}
    ),
]
DateText = Annotated[str | None, _text(anyOf=[{"format": "date-time"}, {"format": "date"}])]


class ActivityQuery(BaseModel):
    """Filters that apply whoever the actor is."""

    action: Actions = Field(
        default=None, description="CREATE, UPDATE, …: repeat the parameter or separate with commas"
    )
    resource_type: ResourceTypes = Field(
        default=None, description="USER, PROJECT, …: repeatable or comma-separated"
    )
    resource_id: str | None = None
    ip_address: IPAddressOrNetwork = Field(
        default=None,
        description=(
            "An IPv4 or IPv6 address, or a network in CIDR notation (10.0.0.0/8, 2001:db8::/32);"
            " IPv4-mapped IPv6 matches IPv4 (::ffff:10.0.0.0/104 is 10.0.0.0/8)"
        ),
    )
    country: CountryCodes = Field(
        default=None,
        description=(
            "ISO 3166-1 alpha-2 codes of the country Vigil found for the address (DE, fr):"
            " repeatable or comma-separated"
        ),
    )
    status: StatusName = Field(default=None, description="SUCCESS or FAILED")
    q: str | None = Field(
        default=None,
        description=(
            "A search: free text (email, user id, resource id, user agent, details values), "
            '"phrases", field:value terms (action, resource, resource_id, user, email, ip, '
            "status, country, details.key), -exclusions; see the README's Search"
        ),
    )
    start_date: DateText = Field(default=None, description=_DATE)
    end_date: DateText = Field(default=None, description=_DATE)

    def filters_of(self, actor: Actor) -> EventFilters:
        """Validated filters, for ``actor``'s events (a person's)."""
        return dataclasses.replace(self.filters_for_actor(None, None), actor=actor)

    def filters_for_actor(self, user_id: str | None, user_email: str | None) -> EventFilters:
        """Validated filters, with the actor given."""
        return parse_filters(
            action=self.action,
            resource_type=self.resource_type,
            resource_id=self.resource_id,
            user_id=user_id,
            user_email=user_email,
            ip_address=self.ip_address,
            country=self.country,
            status=self.status,
            q=self.q,
            start_date=self.start_date,
            end_date=self.end_date,
        )


class EventQuery(ActivityQuery):
    """Every list filter, the actor included."""

    user_id: str | None = Field(default=None, description="The actor's id")
    user_email: str | None = None

    def filters(self) -> EventFilters:
        """Validated filters; a bad value raises ``InvalidInput`` naming it."""
        return self.filters_for_actor(self.user_id, self.user_email)


class EventListQuery(EventQuery, CursorPageQuery):
    """``GET /audit-logs/``."""


class ActivityListQuery(ActivityQuery, CursorPageQuery):
    """``GET /users/{user_id}/activity``."""


class ExportQuery(EventQuery):
    """``GET /audit-logs/export``."""

    format: ExportFormat = ExportFormat.CSV
    person: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description=(
            "Only one person's events: a Vigil account's id, a person's id or a user id"
            " producers send, as `/users/{user_id}/activity` takes it (404 when none)"
        ),
    )
