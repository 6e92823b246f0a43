"""Query-string models for listing, per-user activity and export, documented once."""

from __future__ import annotations

from pydantic import BaseModel, Field

from vigil.core.pagination import CursorPageQuery
from vigil.events.export import ExportFormat
from vigil.events.filters import EventFilters, parse_filters

_DATE = "ISO 8601 datetime with offset, or a date (a date-only end_date includes the whole day)"


class ActivityQuery(BaseModel):
    """Filters that apply whoever the actor is."""

    action: list[str] | None = Field(
        default=None, description="CREATE, UPDATE, …: repeat the parameter or separate with commas"
    )
    resource_type: list[str] | None = Field(
        default=None, description="USER, PROJECT, …: repeatable or comma-separated"
    )
    resource_id: str | None = None
    ip_address: str | None = None
    status: str | None = Field(default=None, description="SUCCESS or FAILED")
    q: str | None = Field(default=None, description="Free text in email, resource id and details")
    start_date: str | None = Field(default=None, description=_DATE)
    end_date: str | None = Field(default=None, description=_DATE)

    def filters_for_actor(self, user_id: str | None, user_email: str | None) -> EventFilters:
        """Validated filters, with the actor given."""
        return parse_filters(
            action=self.action,
            resource_type=self.resource_type,
            resource_id=self.resource_id,
            user_id=user_id,
            user_email=user_email,
            ip_address=self.ip_address,
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
