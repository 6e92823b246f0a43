"""The summaries' query strings and the shape of their answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from vigil.events.params import ActivityQuery, EventQuery


class SummaryOptions(BaseModel):
    """How to summarise."""

    bucket: Literal["hour", "day", "week", "month", "year"] | None = Field(
        default=None,
        description=(
            "Timeline step (UTC; weeks start on Monday). By default hours up to 3 days, else"
            " the finest step giving at most 400 points. The timeline never has more than"
            " 1,000 points: a range that would need more is clipped to the span holding"
            " matching events, then counted in a coarser step; the answer's `bucket` names"
            " the step used"
        ),
    )


class SummaryQuery(EventQuery, SummaryOptions):
    """``GET /audit-logs/summary``."""


class ActivitySummaryQuery(ActivityQuery, SummaryOptions):
    """``GET /users/{user_id}/activity/summary``."""


class TopResource(BaseModel):
    """A resource and how many matching events touched it."""

    resource_type: str
    resource_id: str
    count: int


class TimelinePoint(BaseModel):
    """Matching events in one bucket of time."""

    start: datetime = Field(description="Start of the bucket, UTC")
    count: int


class EventSummary(BaseModel):
    """Matching events counted for the activity widgets."""

    total: int
    by_action: dict[str, int] = Field(description="Most frequent first")
    by_resource_type: dict[str, int]
    by_status: dict[str, int]
    top_resources: list[TopResource] = Field(description="The 10 most touched, most first")
    timeline: list[TimelinePoint] = Field(
        description="Every bucket of the range in order, empty ones as 0; at most 1,000",
        max_length=1000,
    )
    bucket: str = Field(
        description="The step used: hour, day, week, month, year, or 10 years, 100 years …",
        examples=["day", "10 years"],
    )
