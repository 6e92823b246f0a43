"""The list filters shared by listing, summaries and export (DESIGN §3), parsed from a query."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from vigil.core.errors import InvalidInput, InvalidQuery
from vigil.events.countries import normalise_country
from vigil.events.ip_ranges import IPNetwork, network_text, parse_network
from vigil.events.schemas import Action, ResourceType, Status, normalise_email
from vigil.events.search_query import SearchQuery, SearchQueryError, parse_search_query

# A '+' in an unencoded query string arrives as a space: "…T10:00:00 02:00".
_SPACE_OFFSET = re.compile(r"(T[\d:.]+) (\d{2}:?\d{2})$")
MAX_TEXT_QUERY = 1000  # a query of up to 20 terms (``events.search_query``)
MAX_COUNTRY_TEXT = 1000  # one value of ``country``: every code there is, with commas
# The time of an ISO 8601 datetime, extended (23:59:59.5) or basic (235959.5).
_TIME_FIELDS = re.compile(r"[Tt ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d+))?)?)?")


NO_QUERY = SearchQuery()


@dataclass(frozen=True, slots=True)
class Actor:
    """Whose events to select: those naming one of ``user_ids``, and those with no id
    naming one of ``emails`` (lower case): a person's events (``people.directory``)."""

    user_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    def describe(self) -> dict[str, list[str]]:
        """As plain JSON values, for the record of an export."""
        described: dict[str, list[str]] = {"user_id": list(self.user_ids)}
        if self.emails:
            described["user_email_without_id"] = list(self.emails)
        return described


@dataclass(frozen=True, slots=True)
class EventFilters:
    """Which events a query selects; every part optional and combined with AND."""

    actions: tuple[Action, ...] = ()
    resource_types: tuple[ResourceType, ...] = ()
    resource_id: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    actor: Actor | None = None  # a person's events (``/users/{user_id}/activity``)
    # Events whose address is in any of these (``ip_address=10.0.0.0/8``; an address is a
    # network of one). A tuple, so a query can give alternatives.
    ip_networks: tuple[IPNetwork, ...] = ()
    countries: tuple[str, ...] = ()  # ISO 3166-1 alpha-2, upper case, as stored
    status: Status | None = None
    query: SearchQuery = NO_QUERY  # ``q``, parsed
    start: datetime | None = None
    end: datetime | None = None  # exclusive
    # The bounds as the caller wrote them, for the record of an export.
    start_text: str | None = None
    end_text: str | None = None

    def describe(self) -> dict[str, Any]:
        """The filters as plain JSON values, for the record of an export."""
        described: dict[str, Any] = {}
        if self.actions:
            described["action"] = [a.value for a in self.actions]
        if self.resource_types:
            described["resource_type"] = [r.value for r in self.resource_types]
        for name in ("resource_id", "user_id", "user_email"):
            if getattr(self, name) is not None:
                described[name] = getattr(self, name)
        if self.actor is not None:
            described["actor"] = self.actor.describe()
        if self.ip_networks:
            networks = [network_text(network) for network in self.ip_networks]
            described["ip_address"] = networks[0] if len(networks) == 1 else networks
        if self.countries:
            described["country"] = list(self.countries)
        if self.status is not None:
            described["status"] = self.status.value
        if self.query.terms:
            described["q"] = self.query.describe()
        if self.start_text:
            described["start_date"] = self.start_text
        if self.end_text:
            described["end_date"] = self.end_text
        return described


def parse_filters(
    *,
    action: list[str] | None = None,
    resource_type: list[str] | None = None,
    resource_id: str | None = None,
    user_id: str | None = None,
    user_email: str | None = None,
    ip_address: str | None = None,
    country: list[str] | None = None,
    status: str | None = None,
    q: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
) -> EventFilters:
    """Validate raw query values into filters; any bad value raises ``InvalidInput`` naming it.

    ``ip_address`` is an address or a CIDR network (``parse_network``); ``country`` holds
    ISO 3166-1 alpha-2 codes in any case, each value one code or several separated by commas.
    """
    start = _parse_bound(start_date, field_name="start_date", is_end=False)
    end = _parse_bound(end_date, field_name="end_date", is_end=True)
    if start is not None and end is not None and start >= end:
        raise InvalidInput("start_date", "must be before end_date")
    query = _parse_query(q)
    return EventFilters(
        actions=_parse_choices(action, Action, field_name="action"),
        resource_types=_parse_choices(resource_type, ResourceType, field_name="resource_type"),
        resource_id=_limited(resource_id, "resource_id", 255),
        user_id=_limited(user_id, "user_id", 255),
        user_email=_normalised(user_email, "user_email", normalise_email, max_length=320),
        ip_networks=_parse_networks(ip_address),
        countries=_parse_countries(country),
        status=_parse_status(status),
        query=query,
        start=start,
        end=end,
        start_text=start_date.strip() if start_date else None,
        end_text=end_date.strip() if end_date else None,
    )


def parse_moment(raw: str, *, field_name: str) -> datetime:
    """A point in time as ``start_date`` takes it (ISO 8601, a date meaning its start in
    UTC); raises ``InvalidInput`` naming ``field_name``."""
    moment = _parse_bound(raw, field_name=field_name, is_end=False)
    if moment is None:
        raise InvalidInput(field_name, "must be a date or a date and time (ISO 8601)")
    return moment


E = TypeVar("E", Action, ResourceType, Status)


def _parse_choices(values: list[str] | None, enum: type[E], *, field_name: str) -> tuple[E, ...]:
    if not values:
        return ()
    chosen: list[E] = []
    for raw in values:
        for part in raw.split(","):
            name = part.strip().upper()
            if not name:
                continue
            try:
                member = enum(name)
            except ValueError:
                allowed = ", ".join(m.value for m in enum)
                raise InvalidInput(
                    field_name, f"unknown value {part.strip()!r}; allowed: {allowed}"
                ) from None
            if member not in chosen:
                chosen.append(member)
    return tuple(chosen)


def _parse_query(raw: str | None) -> SearchQuery:
    if raw is not None and len(raw) > MAX_TEXT_QUERY:
        raise InvalidQuery(f"at most {MAX_TEXT_QUERY} characters", position=MAX_TEXT_QUERY)
    try:
        return parse_search_query(raw or "")
    except SearchQueryError as error:
        raise InvalidQuery(error.message, position=error.position) from None


def _parse_networks(raw: str | None) -> tuple[IPNetwork, ...]:
    text = _limited(raw, "ip_address", 64)
    if text is None or text.strip() == "":
        return ()
    try:
        return (parse_network(text),)
    except ValueError as error:
        raise InvalidInput("ip_address", str(error)) from None


def _parse_countries(values: list[str] | None) -> tuple[str, ...]:
    chosen: list[str] = []
    for raw in values or ():
        for part in (_limited(raw, "country", MAX_COUNTRY_TEXT) or "").split(","):
            if not part.strip():
                continue
            try:
                code = normalise_country(part)
            except ValueError as error:
                raise InvalidInput("country", str(error)) from None
            if code not in chosen:
                chosen.append(code)
    return tuple(chosen)


def _parse_status(raw: str | None) -> Status | None:
    chosen = _parse_choices([raw] if raw else None, Status, field_name="status")
    if len(chosen) > 1:
        raise InvalidInput("status", "give one status, SUCCESS or FAILED")
    return chosen[0] if chosen else None


def _limited(value: str | None, field_name: str, max_length: int) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > max_length:
        raise InvalidInput(field_name, f"at most {max_length} characters")
    if "\x00" in value:
        raise InvalidInput(field_name, "must not contain NUL characters")
    return value


def _normalised(
    value: str | None, field_name: str, normalise: Any, *, max_length: int
) -> str | None:
    value = _limited(value, field_name, max_length)
    if value is None or value.strip() == "":
        return None
    try:
        return str(normalise(value.strip()))
    except ValueError as error:
        raise InvalidInput(field_name, str(error)) from None


def _parse_bound(raw: str | None, *, field_name: str, is_end: bool) -> datetime | None:
    """A datetime (naive means UTC) or a date; a date-only end includes that whole day."""
    if raw is None or raw.strip() == "":
        return None
    text = _SPACE_OFFSET.sub(r"\1+\2", raw.strip())
    try:
        day = date.fromisoformat(text)  # 2025-01-31, or 20250131
    except ValueError:
        day = None
    if day is not None:
        if is_end:
            if day == date.max:
                return None  # the end of time: no upper bound
            day += timedelta(days=1)
        return datetime.combine(day, time.min, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            field_name, f"{raw!r} is not an ISO 8601 date or datetime (e.g. 2025-01-31T23:59:59Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(field_name, f"{raw!r} is out of range") from None
    if not is_end:
        return moment
    # An end datetime is inclusive, to the precision it is written in: 23:59:59 includes
    # 23:59:59.5, 23:59 the whole minute, 23:59:59.25 up to 23:59:59.259999.
    try:
        return moment + _last_unit(text)
    except OverflowError:
        return None  # the last representable instant: no upper bound


def _last_unit(text: str) -> timedelta:
    """The unit of the last time field written in an ISO 8601 datetime (hour to microsecond)."""
    found = _TIME_FIELDS.search(text)
    if found is None:
        return timedelta(microseconds=1)
    _, minutes, seconds, fraction = found.groups()
    if fraction:
        return timedelta(microseconds=10 ** max(0, 6 - len(fraction)))
    if seconds:
        return timedelta(seconds=1)
    return timedelta(minutes=1) if minutes else timedelta(hours=1)
