"""The queries behind the gauges that come from the database: how far behind each
after-commit consumer is, and what the notification outbox still holds. Each reads one row
per tenant (sequences) or per waiting notification (outbox, by its status index)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from vigil.events.tables import event_sequences
from vigil.notifications.channel import Delivery
from vigil.notifications.channels import CHANNELS
from vigil.notifications.service import PENDING
from vigil.notifications.tables import outbox
from vigil.spine.tables import consumer_cursors


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    """One consumer, over every tenant."""

    events: int  # committed events it has not finished with
    failing_tenants: int  # tenants whose last pass failed


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """One channel's waiting notifications."""

    pending: int
    failing: int  # of those, the ones whose last attempt failed


def consumer_lag(conn: Connection, *, names: Sequence[str]) -> dict[str, ConsumerLag]:
    """Lag of each named consumer; a tenant it has no cursor for counts from its first event."""
    s, c = event_sequences.c, consumer_cursors.c
    lags: dict[str, ConsumerLag] = {}
    for name in names:
        query = select(
            func.coalesce(func.sum(s.last_seq - func.coalesce(c.position, 0)), 0),
            func.count(c.tenant_id).filter(c.failures > 0),
        ).select_from(
            event_sequences.outerjoin(
                consumer_cursors, and_(c.tenant_id == s.tenant_id, c.consumer == name)
            )
        )
        behind, failing = conn.execute(query).one()
        lags[name] = ConsumerLag(events=max(int(behind), 0), failing_tenants=int(failing))
    return lags


def outbox_backlog(conn: Connection) -> dict[str, OutboxBacklog]:
    """Waiting notifications of every channel delivered through the outbox (zero included)."""
    o = outbox.c
    query = (
        select(o.channel, func.count(), func.count(o.last_error))
        .where(o.status == PENDING)
        .group_by(o.channel)
    )
    found = {channel: (int(n), int(failed)) for channel, n, failed in conn.execute(query)}
    return {
        name.value: OutboxBacklog(*found.get(name.value, (0, 0)))
        for name, channel in CHANNELS.items()
        if channel.delivery is Delivery.OUTBOX
    }
