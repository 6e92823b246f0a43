"""Consumer cursors: how far each consumer has read each tenant's commit sequence.

Callers own the transaction. A cursor only moves forward, and only from the position the
mover read (compare and set), so two processes can never both consume the same events.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from vigil.events.tables import event_sequences
from vigil.spine.tables import consumer_cursors

_c = consumer_cursors.c


def ensure_cursor(conn: Connection, *, tenant_id: uuid.UUID, consumer: str, now: datetime) -> None:
    """Create the consumer's cursor for the tenant at 0 (before its first event), unless
    it exists."""
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(consumer_cursors)
    conn.execute(
        insert.values(
            tenant_id=tenant_id,
            consumer=consumer,
            position=0,
            updated_at=now,
            failures=0,
            last_error=None,
        ).on_conflict_do_nothing(index_elements=["tenant_id", "consumer"])
    )


def hold_cursor(conn: Connection, *, tenant_id: uuid.UUID, consumer: str, now: datetime) -> None:
    """Lock the consumer's cursor for the tenant until the caller's transaction ends,
    waiting for a pass that holds it, and creating it (at 0) if the consumer has not begun
    (PostgreSQL ``SELECT … FOR UPDATE``; on SQLite the one write lock keeps writers apart
    already, so nothing is done). A retention purge holds the cursors of the consumers
    that keep state about events (the search index, the rollups) before it deletes any,
    so that no pass of theirs reads events it deletes."""
    if conn.dialect.name != "postgresql":
        return
    ensure_cursor(conn, tenant_id=tenant_id, consumer=consumer, now=now)
    conn.execute(
        select(_c.position)
        .where(_c.tenant_id == tenant_id, _c.consumer == consumer)
        .with_for_update()
    ).all()


def rewind_cursor(conn: Connection, *, tenant_id: uuid.UUID, consumer: str) -> None:
    """Move the consumer's cursor for the tenant back to the start of its commit sequence
    (a rebuild: the consumer then goes over every stored event again). The caller holds
    the cursor (``hold_cursor``) and empties what the consumer keeps, in its transaction."""
    conn.execute(
        update(consumer_cursors)
        .where(_c.tenant_id == tenant_id, _c.consumer == consumer)
        .values(position=0)
    )


def cursor_position(conn: Connection, *, tenant_id: uuid.UUID, consumer: str) -> int:
    """The ``seq`` the consumer has finished with (0 when it has no cursor yet)."""
    found = conn.execute(
        select(_c.position).where(_c.tenant_id == tenant_id, _c.consumer == consumer)
    ).scalar_one_or_none()
    return int(found or 0)


def claim_cursor(conn: Connection, *, tenant_id: uuid.UUID, consumer: str) -> int | None:
    """Lock the cursor until the transaction ends and return its position; None when
    another node holds it (PostgreSQL ``FOR UPDATE SKIP LOCKED``) or it does not exist."""
    found = conn.execute(
        select(_c.position)
        .where(_c.tenant_id == tenant_id, _c.consumer == consumer)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def advance_cursor(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    consumer: str,
    expected: int,
    to: int,
    now: datetime,
) -> bool:
    """Move the cursor from ``expected`` to ``to``; False (nothing changed) when it is no
    longer at ``expected`` because another process moved it first."""
    moved = conn.execute(
        update(consumer_cursors)
        .where(_c.tenant_id == tenant_id, _c.consumer == consumer, _c.position == expected)
        .values(position=to, updated_at=now, failures=0, last_error=None)
    ).rowcount
    return bool(moved)


def note_failure(
    conn: Connection, *, tenant_id: uuid.UUID, consumer: str, error: str, now: datetime
) -> None:
    """Count a failed pass on the cursor and keep its error (the cursor does not move)."""
    conn.execute(
        update(consumer_cursors)
        .where(_c.tenant_id == tenant_id, _c.consumer == consumer)
        .values(failures=_c.failures + 1, last_error=error[:2000], updated_at=now)
    )


def last_seq(conn: Connection, *, tenant_id: uuid.UUID) -> int:
    """The tenant's last committed ``seq`` as this connection sees it (0 before any)."""
    found = conn.execute(
        select(event_sequences.c.last_seq).where(event_sequences.c.tenant_id == tenant_id)
    ).scalar_one_or_none()
    return int(found or 0)


def tenants_behind(conn: Connection, *, consumer: str) -> list[tuple[uuid.UUID, int]]:
    """Tenants with events the consumer has not finished with, each with its last ``seq``."""
    s = event_sequences.c
    query = (
        select(s.tenant_id, s.last_seq)
        .select_from(
            event_sequences.outerjoin(
                consumer_cursors, and_(_c.tenant_id == s.tenant_id, _c.consumer == consumer)
            )
        )
        .where(_c.position.is_(None) | (_c.position < s.last_seq))
        .order_by(s.tenant_id)
    )
    return [(tenant_id, int(last)) for tenant_id, last in conn.execute(query)]


def events_behind(
    conn: Connection, *, consumer: str, only: Collection[uuid.UUID] | None = None
) -> int:
    """How many committed events the consumer has not finished with, over every tenant or
    the ``only`` ones."""
    return sum(
        head - cursor_position(conn, tenant_id=tenant_id, consumer=consumer)
        for tenant_id, head in tenants_behind(conn, consumer=consumer)
        if only is None or tenant_id in only
    )
