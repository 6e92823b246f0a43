"""Each tenant's commit sequence: the number that puts every event in commit order.

A transaction that stores events takes, per tenant, the next ``n`` numbers from
``event_sequences`` and writes them into the events' ``seq``. The counter's row stays locked
until the transaction ends, so a second transaction for the same tenant waits for the first
to commit (or roll back) before it numbers its own events: on PostgreSQL, where a plain
sequence hands out numbers that can become visible out of order, a reader that has seen
``seq`` 11 has necessarily seen 10 too, and a cursor over ``seq`` never skips a late row.
On SQLite the single write lock gives the same order. Rolled-back numbers are given again,
so the sequence has no gaps.

To keep that lock short and free of deadlocks, numbering is the last thing a transaction
does before it commits (``events.service.store_batches`` inserts right after), and a
transaction for several tenants takes their counters in one statement, in tenant order.
SQLite's single write lock already serialises every writer, so there the event writer may
number and insert further requests in the same transaction (``events.writer``).

On PostgreSQL the same statement sends ``NOTIFY vigil_events`` with ``tenant:last_seq``,
which every node's listener hears once the transaction commits (and never if it rolls
back): one notification per tenant and transaction, not per event.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Connection

from vigil.events.tables import EventRow

NOTIFY_CHANNEL = "vigil_events"

_POSTGRES_TAKE = f"""
WITH heads AS (
    INSERT INTO event_sequences AS s (tenant_id, last_seq)
    SELECT * FROM unnest(%(tenants)s::uuid[], %(counts)s::bigint[])
    ON CONFLICT (tenant_id) DO UPDATE SET last_seq = s.last_seq + excluded.last_seq
    RETURNING s.tenant_id, s.last_seq
)
SELECT tenant_id, last_seq, pg_notify('{NOTIFY_CHANNEL}', tenant_id::text || ':' || last_seq)
FROM heads
"""  # noqa: S608 (a constant channel name; values are bound)


def _sqlite_take(tenant_count: int) -> str:
    rows = ", ".join(["(?, ?)"] * tenant_count)
    return (
        f"INSERT INTO event_sequences (tenant_id, last_seq) VALUES {rows} "  # noqa: S608
        "ON CONFLICT (tenant_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq "
        "RETURNING tenant_id, last_seq"
    )


def number_events(conn: Connection, *, rows: Sequence[EventRow]) -> None:
    """Set ``seq`` on each row (dicts with ``tenant_id``), in the order given, per tenant.

    Takes the next numbers of every tenant involved and holds their counters until the
    caller's transaction ends; call it just before inserting, as the transaction's last
    work. Raises what the database raises (the caller's transaction then rolls back).
    """
    counts = Counter(row["tenant_id"] for row in rows)
    tenants = sorted(counts)  # one lock order for every transaction: no deadlocks
    last = _take(conn, tenants, [counts[t] for t in tenants])
    next_seq = {tenant: last[tenant] - counts[tenant] + 1 for tenant in tenants}
    for row in rows:
        tenant = row["tenant_id"]
        row["seq"] = next_seq[tenant]
        next_seq[tenant] += 1


def _take(conn: Connection, tenants: list[uuid.UUID], counts: list[int]) -> dict[uuid.UUID, int]:
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql(_POSTGRES_TAKE, {"tenants": tenants, "counts": counts})
        return {tenant: last for tenant, last, _ in found}
    # (tenant, count) pairs, tenants as the 16 bytes UUIDType stores on SQLite
    params = tuple(v for t, n in zip(tenants, counts, strict=True) for v in (t.bytes, n))
    found = conn.exec_driver_sql(_sqlite_take(len(tenants)), params)
    return {uuid.UUID(bytes=bytes(tenant)): last for tenant, last in found}
