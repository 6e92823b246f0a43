"""Every query about users. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import Connection, Select, func, select, update

from vigil.accounts.passwords import hash_password
from vigil.accounts.tables import NewUserRow, UserRow, api_keys, user_emails, user_row, users
from vigil.core.clock import new_id, utcnow
from vigil.core.errors import Conflict, NotFound
from vigil.core.permissions import ROLE_PERMISSIONS, Permission, Role
from vigil.db.folding import fold
from vigil.db.search import contains

ACTIVE = "ACTIVE"
DISABLED = "DISABLED"
SORTS = {
    "email": (users.c.email.asc(),),
    "last_login_at": (users.c.last_login_at.desc().nulls_last(), users.c.email.asc()),
    "last_active_at": (users.c.last_active_at.desc().nulls_last(), users.c.email.asc()),
}


class RoleAndGrants(TypedDict):
    """The columns of ``users`` that decide what a user may do."""

    role: str
    permissions: str  # granted on top of the role, comma-separated


class UserKey(TypedDict):
    """The key of a user: all that noting a sign-in, or opening a session, needs of them."""

    tenant_id: uuid.UUID
    id: uuid.UUID


def granted(row: RoleAndGrants) -> frozenset[Permission]:
    """Permissions granted to the user on top of their role."""
    return frozenset(Permission(p) for p in row["permissions"].split(",") if p)


def effective_permissions(row: RoleAndGrants) -> frozenset[Permission]:
    """Everything the user may do: their role's permissions and their grants."""
    return ROLE_PERMISSIONS[Role(row["role"])] | granted(row)


def active_users_with(
    conn: Connection, *, tenant_id: uuid.UUID, any_of: frozenset[Permission]
) -> list[uuid.UUID]:
    """The ids of the tenant's active users who hold any of ``any_of``, by role or grant."""
    query = select(users.c.id, users.c.role, users.c.permissions).where(
        users.c.tenant_id == tenant_id, users.c.status == ACTIVE
    )
    # Filtered here rather than in SQL, so the one definition of what a user may do decides.
    # (The cast is safe: the query selects ``role`` and ``permissions``.)
    return [
        row["id"]
        for row in conn.execute(query).mappings()
        if effective_permissions(cast(RoleAndGrants, dict(row))) & any_of
    ]


def create_user(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    email: str,
    name: str,
    role: Role,
    password: str | None,
    permissions: frozenset[Permission] = frozenset(),
) -> NewUserRow:
    """A new user of the tenant; the email must be unused in the whole installation."""
    email = email.strip().lower()
    _claim_email(conn, email=email, tenant_id=tenant_id, user_id=(user_id := new_id()))
    row: NewUserRow = {
        "tenant_id": tenant_id,
        "id": user_id,
        "email": email,
        "name": name.strip() or email,
        "role": role.value,
        "password_hash": hash_password(password) if password else None,
        "status": ACTIVE,
        "created_at": utcnow(),
        "permissions": ",".join(sorted(p.value for p in permissions)),
        "updated_at": None,
        "last_login_at": None,
        "last_active_at": None,
        "search_text": "",
    }
    row["search_text"] = user_search_text(row)
    conn.execute(users.insert(), row)
    return row


def user_search_text(user: Mapping[str, Any]) -> str:
    """What ``?q=`` looks in for a user: email and name, folded, one line each."""
    return f"{fold(user['email'])}\n{fold(user['name'])}"


def _claim_email(conn: Connection, *, email: str, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    # Deliberately installation-wide: sign-in finds the tenant from the email alone.
    taken = conn.execute(select(user_emails.c.email).where(user_emails.c.email == email)).first()
    if taken is not None:
        raise Conflict(f"a user with email {email} already exists")
    conn.execute(user_emails.insert(), {"email": email, "tenant_id": tenant_id, "user_id": user_id})


def get_user(conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserRow:
    """One user of the tenant; another tenant's is as unknown as a made-up id (``NotFound``)."""
    found = find_user(conn, tenant_id=tenant_id, user_id=user_id)
    if found is None:
        raise NotFound(f"user {user_id} not found")
    return found


def find_user(conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> UserRow | None:
    """One user of the tenant, or None (another tenant's is as unknown as a made-up id)."""
    query = select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
    found = conn.execute(query).mappings().first()
    return None if found is None else user_row(found)


def emails_of(conn: Connection, *, tenant_id: uuid.UUID, ids: list[str]) -> dict[str, str]:
    """The emails of the tenant's users among ``ids`` (text; ids that are not UUIDs skipped)."""
    wanted = set()
    for text in ids:
        try:
            wanted.add(uuid.UUID(text))
        except ValueError:
            continue
    if not wanted:
        return {}
    query = select(users.c.id, users.c.email).where(
        users.c.tenant_id == tenant_id, users.c.id.in_(wanted)
    )
    return {str(user_id): email for user_id, email in conn.execute(query)}


def find_by_email(conn: Connection, *, email: str) -> UserRow | None:
    """The account an email signs in to, in whichever tenant it is."""
    query = select(users).join(
        user_emails,
        (user_emails.c.tenant_id == users.c.tenant_id) & (user_emails.c.user_id == users.c.id),
    )
    found = conn.execute(query.where(user_emails.c.email == email)).mappings().first()
    return user_row(found) if found is not None else None


def note_failed_login(
    conn: Connection, *, user: UserKey, now: datetime, threshold: int, lock_for: timedelta
) -> bool:
    """Count a failed sign-in; at ``threshold`` in a row, lock the account. True if locked now."""
    where = (users.c.tenant_id == user["tenant_id"], users.c.id == user["id"])
    count = conn.execute(
        update(users)
        .where(*where)
        .values(failed_logins=users.c.failed_logins + 1)
        .returning(users.c.failed_logins)
    ).scalar_one()
    if count < threshold:
        return False
    conn.execute(update(users).where(*where).values(failed_logins=0, locked_until=now + lock_for))
    return True


def note_successful_login(conn: Connection, *, user: UserKey, now: datetime) -> None:
    """Reset the failure count and stamp the sign-in."""
    conn.execute(
        update(users)
        .where(users.c.tenant_id == user["tenant_id"], users.c.id == user["id"])
        .values(failed_logins=0, locked_until=None, last_login_at=now, last_active_at=now)
    )


@dataclass(frozen=True, slots=True)
class UserFilters:
    """Which users a listing shows."""

    text: str | None = None
    role: Role | None = None
    status: str | None = None


def list_users(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    filters: UserFilters,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[UserRow], int]:
    """A page of the tenant's users and how many match in all."""
    query = _matching(select(users), tenant_id, filters, conn.dialect.name)
    page = query.order_by(*SORTS[sort], users.c.id).limit(limit).offset(offset)
    rows = [user_row(m) for m in conn.execute(page).mappings()]
    count = _matching(
        select(func.count()).select_from(users), tenant_id, filters, conn.dialect.name
    )
    return rows, int(conn.execute(count).scalar_one())


def _matching(
    query: Select[Any], tenant_id: uuid.UUID, filters: UserFilters, dialect: str
) -> Select[Any]:
    query = query.where(users.c.tenant_id == tenant_id)
    if filters.text:
        # Folded on both sides: no database's idea of case hides a user.
        query = query.where(contains(users.c.search_text, fold(filters.text), dialect=dialect))
    if filters.role is not None:
        query = query.where(users.c.role == filters.role.value)
    if filters.status is not None:
        query = query.where(users.c.status == filters.status)
    return query


def update_user(
    conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID, changes: dict[str, Any]
) -> tuple[UserRow, dict[str, tuple[Any, Any]]]:
    """Apply ``changes`` (column: new value); returns the user and each real change (old, new)."""
    before = get_user(conn, tenant_id=tenant_id, user_id=user_id)
    stored: Mapping[str, Any] = before  # read by the column names in ``changes``
    changed = {k: (stored[k], v) for k, v in changes.items() if stored[k] != v}
    if not changed:
        return before, {}
    if "email" in changed:
        conn.execute(user_emails.delete().where(user_emails.c.email == before["email"]))
        _claim_email(conn, email=changes["email"], tenant_id=tenant_id, user_id=user_id)
    values = {k: new for k, (_old, new) in changed.items()} | {"updated_at": utcnow()}
    if "email" in changed or "name" in changed:
        values["search_text"] = user_search_text({**stored, **values})
    conn.execute(
        update(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id).values(values)
    )
    # Safe: ``values`` only holds columns of ``users`` (a missing one fails above).
    return cast(UserRow, {**before, **values}), changed


def disable_user(
    conn: Connection, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[UserRow, list[str]]:
    """Disable the account and revoke the API keys it created; its events stay as written.

    Returns the user and the hashes of the keys revoked.
    """
    user, _changed = update_user(
        conn, tenant_id=tenant_id, user_id=user_id, changes={"status": DISABLED}
    )
    owned = (
        api_keys.c.tenant_id == tenant_id,
        api_keys.c.user_id == user_id,
        api_keys.c.revoked_at.is_(None),
    )
    revoked = list(conn.execute(select(api_keys.c.key_hash).where(*owned)).scalars())
    conn.execute(update(api_keys).where(*owned).values(revoked_at=utcnow()))
    return user, revoked
