"""Users on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vigil.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from vigil.core.permissions import Permission, Role
from vigil.events.schemas import no_nul, normalise_email

Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(normalise_email)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_nul)]


class UserCreate(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name
    role: Role
    permissions: list[Permission] = Field(
        default_factory=list, description="Granted on top of the role's permissions"
    )
    password: (
        Annotated[
            str,
            StringConstraints(max_length=MAX_LENGTH),
            Field(json_schema_extra={"minLength": MIN_LENGTH}),
        ]
        | None
    ) = Field(
        default=None, description="12 to 256 characters; without one, the user sets it by reset"
    )


class UserUpdate(BaseModel):
    """Changes to a user; every field optional."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    name: Name | None = None
    role: Role | None = None
    permissions: list[Permission] | None = None


class UserOut(BaseModel):
    """A user as the API shows it."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    permissions: list[Permission] = Field(description="Everything the user may do")
    status: str
    created_at: datetime
    last_login_at: datetime | None
    last_active_at: datetime | None
    two_factor_enabled: bool


class UserPage(BaseModel):
    """A page of users."""

    items: list[UserOut]
    total: int
    limit: int
    offset: int
