"""Detection rules: the built-in presets and the admin's own, in one model.

A rule is a *kind* of detection plus its settings. ``threshold`` rules (the admin's own, and
the ``brute_force`` and ``bulk_delete`` presets) count matching events in a window per IP,
per user or overall. The other kinds look at one event against the user's history.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from vigil.events.filters import MAX_TEXT_QUERY
from vigil.events.schemas import Action, ResourceType, Status, normalise_email, normalise_ip
from vigil.events.search_query import SearchQuery, SearchQueryError, parse_search_query
from vigil.notifications.channel import ChannelName


class Severity(StrEnum):
    """How bad, least to most."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """Order of severities, for "this one or worse"."""
        return list(Severity).index(self)


class Kind(StrEnum):
    """What a rule looks for."""

    THRESHOLD = "threshold"
    DISTRIBUTED_BRUTE_FORCE = "distributed_brute_force"
    UNEXPECTED_LOCATION = "unexpected_location"
    OFF_HOURS = "off_hours"
    PRIVILEGE_ESCALATION = "privilege_escalation"


_LONGEST_QUERY_READ = 10 * MAX_TEXT_QUERY


class EventFilter(BaseModel):
    """Which events a threshold rule counts; every part optional, combined with AND."""

    model_config = ConfigDict(extra="forbid")

    action: list[Action] = Field(default_factory=list)
    resource_type: list[ResourceType] = Field(default_factory=list)
    status: Status | None = None
    user: Annotated[str, StringConstraints(max_length=320)] | None = Field(
        default=None,
        description="An actor's user id, or email (with an @: trimmed, lower-cased)",
    )
    ip_address: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="IPv4 or IPv6, normalised as events' addresses are"
    )
    # The validator names a query over MAX_TEXT_QUERY characters, as ``q`` does; past this,
    # the text is refused before anything reads it.
    query: Annotated[str, StringConstraints(max_length=_LONGEST_QUERY_READ)] | None = Field(
        default=None,
        description=(
            "A search query the events must match too, in the language of the event list's "
            '``q``: ``ip:10.0.0.0/8 -user:deploy-bot "production-api"``'
        ),
    )

    @property
    def search(self) -> SearchQuery | None:
        """``query`` parsed (no terms without one); None when a stored query no longer
        parses, the language having changed since it was saved: the rule then counts
        nothing until it is given a query that does."""
        try:
            return _parsed(self.query or "")
        except SearchQueryError:
            return None

    # A filter is compared with stored events, so it is normalised as they were at
    # ingest; one that no event could ever match is refused. Rules stored before this
    # rule existed are read with STORED_RULE: normalised where they can be, kept otherwise.
    @field_validator("user")
    @classmethod
    def _normalise_email(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "@" not in value:
            return value
        return _normalised(value, normalise_email, info)

    @field_validator("ip_address")
    @classmethod
    def _normalise_ip(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _normalised(value, normalise_ip, info)

    @field_validator("query")
    @classmethod
    def _parse_query(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        if len(value) > MAX_TEXT_QUERY:
            problem = f"at most {MAX_TEXT_QUERY} characters (at character {MAX_TEXT_QUERY + 1})"
        else:
            try:
                _parsed(value)
                return value
            except SearchQueryError as error:
                problem = f"{error.message} (at character {error.position + 1})"
        if info.context and info.context.get("stored"):
            return value  # kept as saved, so the rule can still be listed and changed
        raise ValueError(problem)


# Rules are judged on every pass over new events: each query is parsed once.
_parsed = functools.lru_cache(maxsize=1024)(parse_search_query)

# Validation context for a rule read back from storage (see ``EventFilter``).
STORED_RULE = {"stored": True}


def _normalised(value: str, normalise: Callable[[str], str], info: ValidationInfo) -> str:
    try:
        return normalise(value)
    except ValueError:
        if info.context and info.context.get("stored"):
            return value
        raise


RuleName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,62}$", min_length=2, max_length=63)
]


class Rule(BaseModel):
    """One detection rule, as stored and as the API shows it."""

    model_config = ConfigDict(extra="forbid")

    name: RuleName
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    kind: Kind = Kind.THRESHOLD
    enabled: bool = True
    severity: Severity = Severity.MEDIUM
    filter: EventFilter = Field(default_factory=EventFilter)
    threshold: int = Field(default=5, ge=1, le=100_000)
    window_minutes: int = Field(default=10, ge=1, le=7 * 24 * 60)
    group_by: Literal["ip", "user", "none"] = "ip"
    # Only for distributed_brute_force: how many addresses the failures must come from.
    min_sources: int = Field(default=3, ge=2, le=1000)
    channels: list[ChannelName] | None = Field(
        default=None, description="Where its alerts go; null: every enabled channel"
    )
    min_severity: Severity = Field(
        default=Severity.MEDIUM, description="Alerts below this severity notify nobody"
    )
    builtin: bool = False

    @field_validator("name")
    @classmethod
    def _lowercase(cls, value: str) -> str:
        return value.lower()

    @field_validator("filter")
    @classmethod
    def _query_only_counted(cls, value: EventFilter, info: ValidationInfo) -> EventFilter:
        # Only a threshold rule counts the events its filter selects; the other kinds
        # judge one event against a person's history, whatever the filter says.
        kind = info.data.get("kind", Kind.THRESHOLD)
        if value.query is not None and kind is not Kind.THRESHOLD:
            raise ValueError(f"a query counts events, which a {kind.value} rule does not")
        return value

    def notifies(self, severity: str) -> bool:
        """Whether its alert of ``severity`` tells anyone: ``min_severity`` or worse."""
        return Severity(severity).rank >= self.min_severity.rank


def _preset(**fields: object) -> Rule:
    return Rule.model_validate({**fields, "builtin": True})


# The built-in rules, on by default; a tenant's changes are stored under the same name.
BUILTIN_RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        _preset(
            name="brute_force",
            description="Many failed sign-ins from one address",
            kind=Kind.THRESHOLD,
            severity=Severity.HIGH,
            filter={"action": ["LOGIN_FAILED"]},
            threshold=5,
            window_minutes=10,
            group_by="ip",
        ),
        _preset(
            name="brute_force_distributed",
            description="Many failed sign-ins against one account from several addresses",
            kind=Kind.DISTRIBUTED_BRUTE_FORCE,
            severity=Severity.HIGH,
            filter={"action": ["LOGIN_FAILED"]},
            threshold=10,
            window_minutes=30,
            group_by="user",
            min_sources=3,
        ),
        _preset(
            name="unexpected_location",
            description="A sign-in from a country the user has not signed in from in 90 days",
            kind=Kind.UNEXPECTED_LOCATION,
            severity=Severity.MEDIUM,
            filter={"action": ["LOGIN"], "status": "SUCCESS"},
            group_by="user",
        ),
        _preset(
            name="off_hours",
            description="Activity outside the organisation's working hours",
            kind=Kind.OFF_HOURS,
            severity=Severity.LOW,
            group_by="user",
        ),
        _preset(
            name="bulk_delete",
            description="Many deletions by one user in a few minutes",
            kind=Kind.THRESHOLD,
            severity=Severity.HIGH,
            filter={"action": ["DELETE"]},
            threshold=10,
            window_minutes=5,
            group_by="user",
        ),
        _preset(
            name="privilege_escalation",
            description="A user's role raised, or USER_MANAGE granted",
            kind=Kind.PRIVILEGE_ESCALATION,
            severity=Severity.HIGH,
            filter={"action": ["UPDATE"], "resource_type": ["USER"]},
            group_by="user",
        ),
    )
}

_SLUG = re.compile(r"[^a-z0-9_]+")


def slug(text: str) -> str:
    """A rule name from free text: ``"Failed logins > 5"`` → ``failed_logins_5``."""
    return _SLUG.sub("_", text.lower()).strip("_")[:63] or "rule"
