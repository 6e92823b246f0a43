"""Accounts for the demo's people: made once, found again when the demo runs again.

Callers own the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import Connection

from vigil.accounts import users
from vigil.accounts.tables import UserRow
from vigil.core.errors import Conflict
from vigil.core.permissions import Role
from vigil.demo.people import Member, Person
from vigil.events.schemas import Action, EventIn

# Emails are unique across the installation, so a name another tenant's demo already uses
# gets a numbered address: alex.kim2@…, alex.kim3@…
MAX_EMAIL_VARIANTS = 50


def enlist(conn: Connection, *, tenant_id: uuid.UUID, people: list[Person]) -> list[Member]:
    """An account for each person: the one an earlier run made, or a new one with no password."""
    return [_account_for(conn, tenant_id, person) for person in people]


def _account_for(conn: Connection, tenant_id: uuid.UUID, person: Person) -> Member:
    for email in _email_variants(person.email):
        found = users.find_by_email(conn, email=email)
        if found is None:
            made = users.create_user(
                conn,
                tenant_id=tenant_id,
                email=email,
                name=person.name,
                role=person.role,
                password=None,  # demo people never sign in to Vigil for real
            )
            return Member(person, str(made["id"]), made["email"], person.role, created=True)
        if _is_earlier_demo_account(found, tenant_id, person):
            return Member(person, str(found["id"]), found["email"], Role(found["role"]), False)
    raise Conflict(f"no free demo email for {person.name}; tried {MAX_EMAIL_VARIANTS} variants")


def _is_earlier_demo_account(row: UserRow, tenant_id: uuid.UUID, person: Person) -> bool:
    # Same tenant and same name: this person, from a previous run. Anyone else with the
    # address (another tenant's demo, or a real account) is left alone.
    return (
        row["tenant_id"] == tenant_id
        and row["name"] == person.name
        and row["status"] == users.ACTIVE
        and not row["password_hash"]
    )


def _email_variants(email: str) -> Iterator[str]:
    local, domain = email.split("@")
    yield email
    for number in range(2, MAX_EMAIL_VARIANTS + 1):
        yield f"{local}{number}@{domain}"


def stamp_last_sign_ins(
    conn: Connection, *, tenant_id: uuid.UUID, events: Iterable[EventIn]
) -> None:
    """Show each member's latest demo sign-in on the users page, as a real sign-in would."""
    latest: dict[str, datetime] = {}
    for event in events:
        if event.action is Action.LOGIN and event.user_id and event.timestamp:
            latest[event.user_id] = max(event.timestamp, latest.get(event.user_id, event.timestamp))
    for user_id, moment in latest.items():
        user: users.UserKey = {"tenant_id": tenant_id, "id": uuid.UUID(user_id)}
        users.note_successful_login(conn, user=user, now=moment)
