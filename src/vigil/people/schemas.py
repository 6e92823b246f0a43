"""The shapes ``/people`` answers with."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class AccountOut(BaseModel):
    """The Vigil account a person is (linked by email)."""

    id: uuid.UUID
    email: str
    name: str
    role: str
    status: str


class PersonSummaryOut(BaseModel):
    """A person in a list."""

    id: uuid.UUID = Field(
        description="The person's id, or their account's for an account no event has named"
    )
    label: str = Field(description="The id or email that first named them")
    name: str | None = Field(description="Their account's name, when they have one")
    first_seen: datetime | None
    last_seen: datetime | None
    last_sign_in: datetime | None = Field(description="Their last successful LOGIN event")
    events: int
    account: AccountOut | None


class PersonOut(PersonSummaryOut):
    """A person, with everything known of them."""

    user_ids: list[str] = Field(description="Ids seen, 100 at most")
    emails: list[str] = Field(description="Emails seen, 100 at most")
    countries: dict[str, int] = Field(description="Events per country, most first")
    actions: dict[str, int] = Field(description="Events per action, most first")
    resource_types: dict[str, int] = Field(description="Events per resource type, most first")


class PersonPage(BaseModel):
    """A page of people."""

    items: list[PersonSummaryOut]
    total: int
    limit: int
    offset: int
