"""A tenant's settings as the API shows and takes them."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from vigil.tenants.allowlist import parse_allowlist


class WorkingHoursSetting(BaseModel):
    """When the organisation works: activity outside is flagged by the off_hours rule."""

    model_config = ConfigDict(extra="forbid")

    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        max_length=7, description="Monday = 0 … Sunday = 6"
    )
    start: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    end: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHoursSetting:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class TenantSettings(BaseModel):
    """A tenant's settings."""

    retention_days: int = Field(
        ge=0, le=36_500, description="Days events are kept; 0 keeps them forever"
    )
    ip_allowlist: list[str] = Field(
        description="CIDR ranges the API may be called from; empty lets everyone in"
    )
    require_2fa_for_admins: bool = Field(
        description="ADMIN and SUPER_ADMIN users must turn two-factor authentication on "
        "before their sessions can do anything else"
    )
    timezone: str = Field(description="IANA time zone of the working hours, e.g. Europe/Paris")
    working_hours: WorkingHoursSetting


class TenantSettingsPatch(BaseModel):
    """Some of a tenant's settings; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int | None = Field(default=None, ge=0, le=36_500)
    ip_allowlist: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, max_length=1000
    )
    require_2fa_for_admins: bool | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    working_hours: WorkingHoursSetting | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/Paris"
            ) from None
        return value

    @field_validator("ip_allowlist")
    @classmethod
    def _normalise(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [str(network) for network in parse_allowlist(value)]
