"""The shapes ``/analytics/…`` answers with in JSON (``analytics.team_routes``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, Field

from vigil.people.schemas import PersonSummaryOut


class PeriodOut(BaseModel):
    """Whole UTC days: ``start`` included, ``end`` excluded."""

    start: datetime
    end: datetime
    days: int


class FigureOut(BaseModel):
    """One figure of the period, the previous period's, and the change in percent (null
    when the previous figure is 0)."""

    value: int
    previous: int
    change_percent: float | None


class OverviewOut(BaseModel):
    """``GET /analytics/overview``."""

    period: PeriodOut
    previous: PeriodOut
    active_users: FigureOut = Field(description="Distinct people with any event")
    total_actions: FigureOut
    resource_changes: FigureOut = Field(description="CREATE, UPDATE and DELETE events")
    sign_ins: FigureOut = Field(description="Successful LOGIN events")
    failed_sign_ins: FigureOut = Field(description="LOGIN_FAILED events, and failed LOGINs")


class BusyHourOut(BaseModel):
    """An hour of the week and its events."""

    weekday: int = Field(description="Monday = 0")
    hour: int
    events: int


class PeakTimesOut(BaseModel):
    """``GET /analytics/peak-times``."""

    period: PeriodOut
    timezone: str = Field(description="The tenant's time zone (IANA)")
    matrix: list[list[int]] = Field(description="7 rows (Monday first) of 24 hours")
    busiest: list[BusyHourOut] = Field(description="The 5 busiest hours, most first")


class FeatureOut(BaseModel):
    """A resource type and who used it."""

    resource_type: str
    events: int
    by_action: dict[str, int] = Field(description="Most first")
    users: int = Field(description="Distinct people with an event on this type")
    share_percent: float = Field(description="users as a share of the period's active users")


class FeatureActionOut(BaseModel):
    """Events of one resource type and action."""

    resource_type: str
    action: str
    events: int


class FeaturesOut(BaseModel):
    """``GET /analytics/features``."""

    period: PeriodOut
    active_users: int
    by_resource_type: list[FeatureOut] = Field(description="Most events first")
    by_resource_type_and_action: list[FeatureActionOut] = Field(description="Most first")


class PowerUserOut(PersonSummaryOut):
    """A person with their events in the period and their top 3 features."""

    period_events: int
    top_features: list[FeatureActionOut]


class UsersOut(BaseModel):
    """``GET /analytics/users``: ``kind=power`` gives ``period`` and the most active
    first; ``kind=inactive`` gives ``days``, ``total`` and a page, latest seen first."""

    kind: str
    period: PeriodOut | None = None
    days: int | None = None
    items: list[PowerUserOut] | list[PersonSummaryOut]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None


class LastActorOut(BaseModel):
    """The latest event on a resource in the period."""

    user_id: str | None
    user_email: str | None
    action: str
    timestamp: datetime


class ResourceOut(BaseModel):
    """A resource's activity in the period."""

    resource_id: str
    events: int
    changes: int = Field(description="CREATE, UPDATE and DELETE events")
    by_action: dict[str, int]
    actors: int = Field(description="Distinct actors (user id, or email for events with none)")
    last_actor: LastActorOut | None


class ResourcesOut(BaseModel):
    """``GET /analytics/resources``."""

    period: PeriodOut
    resource_type: str
    most_changed: list[ResourceOut]
    most_accessed: list[ResourceOut]
    most_active: list[ResourceOut]


def with_csv(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` adding the ``format=csv`` download to a route's JSON answer."""
    return {
        200: {"content": {"text/csv": {"schema": {"type": "string", "description": description}}}}
    }


CSV_NOTE: Final = "RFC 4180 CSV with a header row (format=csv)"
