"""The resource rollups as a consumer of committed events (DESIGN §2): each event naming a
resource adds one to its (resource type, UTC day, resource id, action) counter in
``resource_days``, to its resource's total in ``resource_totals`` (and to its changes
there when it is a CREATE, UPDATE or DELETE) and to its actor's pair with the resource in
``resource_actors`` (widening the pair's days; a new pair adds one to the resource's
actors), in the transaction that moves the consumer's cursor, so exactly once; a
retention purge takes its events off again (``forget_events``).

As for the hourly rollups, a pass counts in SQL what is still stored when it writes, and
reads add the events past the cursor (``analytics.resources``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from vigil.analytics.buckets import DAY
from vigil.analytics.rollup_tables import resource_actors, resource_days, resource_totals
from vigil.db.types import UUIDType
from vigil.events.tables import EventRow, events
from vigil.people.sightings import day_of
from vigil.spine.consumers import SeqSpan, SpanCounter
from vigil.spine.service import cursor_position, hold_cursor, rewind_cursor

CONSUMER_NAME: Final = "resource_rollups"
CHANGES: Final = frozenset({"CREATE", "UPDATE", "DELETE"})  # the actions that change a resource
LOOKUP_CHUNK: Final = 500  # pairs looked up per statement (SQLite's bound parameters)
# An event's actor, as the pairs and the resource analytics count them (``actor_of``).
ACTOR: Final = func.coalesce(events.c.user_id, events.c.user_email)


class ResourceDay(NamedTuple):
    """One counter's key past the tenant."""

    resource_type: str
    day: int
    resource_id: str
    action: str


class ResourceRollupConsumer(SpanCounter):
    """Keeps ``resource_days``, ``resource_totals`` and ``resource_actors`` up with
    committed events."""

    name = CONSUMER_NAME
    # A pass writes a row per resource and action it saw, most events naming a resource of
    # their own: with passes two seconds apart, SQLite's ingest fell from 41% of the raw
    # insert to 23%. Like the search index, it takes a small share of the time while
    # events commit (``spine.turns``); resource analytics read the events past the cursor
    # meanwhile, so they stay exact, only slower while a burst goes on.
    gather_seconds = 2.0
    background = True
    batch_limit = 20_000

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: SeqSpan, now: datetime
    ) -> None:
        """Add the span's events still stored to the counters."""
        count_stored(conn, tenant_id=tenant_id, first_seq=plan.first_seq, last_seq=plan.last_seq)


def count_stored(conn: Connection, *, tenant_id: uuid.UUID, first_seq: int, last_seq: int) -> None:
    """Add the tenant's stored events from ``first_seq`` to ``last_seq`` that name a resource
    to their counters, their resources' totals and their actors' pairs with the resources,
    a statement each (``INSERT … SELECT … ON CONFLICT DO UPDATE``: PostgreSQL 9.5+, SQLite
    3.24+)."""
    c = events.c
    day = DAY.slot_of(c.timestamp, conn.dialect.name)
    in_span = (
        c.tenant_id == tenant_id,
        c.seq >= first_seq,
        c.seq <= last_seq,
        c.resource_id.is_not(None),
    )
    tenant = literal(tenant_id, UUIDType()).label("tenant_id")
    _add(
        conn,
        resource_days,
        ["tenant_id", "resource_type", "day", "resource_id", "action"],
        select(tenant, c.resource_type, day.label("day"), c.resource_id, c.action, func.count())
        .where(*in_span)
        .group_by(c.resource_type, day, c.resource_id, c.action),
    )
    _add_totals(conn, tenant, tenant_id, in_span)
    _add_pairs(conn, tenant, day, in_span)


def _add_totals(
    conn: Connection, tenant: Any, tenant_id: uuid.UUID, in_span: tuple[Any, ...]
) -> None:
    """Add the span's events to their resources' totals and changes, and the span's pairs
    not stored yet to their actors: run before ``_add_pairs`` stores them."""
    c, a, t = events.c, resource_actors.c, resource_totals.c
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(resource_totals)
    changed = func.sum(case((c.action.in_(sorted(CHANGES)), 1), else_=0))
    stored = (
        select(a.actor)
        .where(
            a.tenant_id == tenant_id,
            a.resource_type == c.resource_type,
            a.resource_id == c.resource_id,
            a.actor == ACTOR,
        )
        .exists()
    )
    new_actors = func.count(func.distinct(case((~stored, ACTOR), else_=None)))
    counted = (
        select(tenant, c.resource_type, c.resource_id, func.count(), changed, new_actors)
        .where(*in_span)
        .group_by(c.resource_type, c.resource_id)
    )
    keys = ["tenant_id", "resource_type", "resource_id"]
    conn.execute(
        insert.from_select([*keys, "events", "changes", "actors"], counted).on_conflict_do_update(
            index_elements=keys,
            set_={
                "events": t.events + insert.excluded.events,
                "changes": t.changes + insert.excluded.changes,
                "actors": t.actors + insert.excluded.actors,
            },
        )
    )


def actor_of(row: EventRow) -> str | None:
    """An event's actor as ``resource_actors`` and the resource analytics count them: its
    user id, or its email when it has none (None for an event with neither)."""
    return row["user_id"] if row["user_id"] is not None else row["user_email"]


def _add_pairs(
    conn: Connection, tenant: Any, day: ColumnElement[Any], in_span: tuple[Any, ...]
) -> None:
    """Add the span's events to their (resource, actor) pairs: events added, days widened
    to take theirs in."""
    c, a = events.c, resource_actors.c
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # SQLite's min() and max() of several arguments are PostgreSQL's least() and greatest().
    lower, upper = (func.least, func.greatest) if dialect is postgresql else (func.min, func.max)
    keys = ["tenant_id", "resource_type", "resource_id", "actor"]
    insert = dialect.insert(resource_actors)
    counted = (
        select(tenant, c.resource_type, c.resource_id, ACTOR, func.min(day), func.max(day),
               func.count())
        .where(*in_span, ACTOR.is_not(None))
        .group_by(c.resource_type, c.resource_id, ACTOR)
    )  # fmt: skip
    conn.execute(
        insert.from_select(
            [*keys, "first_day", "last_day", "events"], counted
        ).on_conflict_do_update(
            index_elements=keys,
            set_={
                "first_day": lower(a.first_day, insert.excluded.first_day),
                "last_day": upper(a.last_day, insert.excluded.last_day),
                "events": a.events + insert.excluded.events,
            },
        )
    )


def _add(conn: Connection, table: Table, keys: list[str], counted: Select[Any]) -> None:
    """Add ``counted`` (``keys`` then a count) to ``table``'s ``events``."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table)
    conn.execute(
        insert.from_select([*keys, "events"], counted).on_conflict_do_update(
            index_elements=keys, set_={"events": table.c.events + insert.excluded.events}
        )
    )


def hold_resource_rollups(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> None:
    """Lock the tenant's resource rollups cursor until the caller's transaction ends (see
    ``spine.service.hold_cursor``); a purge does this before it deletes any event."""
    hold_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME, now=now)


def resource_kinds(rows: Sequence[EventRow]) -> Counter[ResourceDay]:
    """How many of ``rows`` fall on each counter (those naming no resource on none)."""
    return Counter(
        ResourceDay(
            row["resource_type"], day_of(row["timestamp"]), row["resource_id"], row["action"]
        )
        for row in rows
        if row["resource_id"] is not None
    )


def forget_events(conn: Connection, *, tenant_id: uuid.UUID, rows: Sequence[EventRow]) -> None:
    """Take deleted events (their rows as they were) off the tenant's counters, totals (and
    changes) and (resource, actor) pairs, and a pair that comes to 0 off its resource's
    actors, in the caller's transaction, after ``hold_resource_rollups``; a row that comes
    to 0 is deleted (one that would go below 0 was wrong already: ``vigil
    rollups check`` finds it). A pair's days stay as they were, still around its stored
    events. Events past the cursor were never counted."""
    through = cursor_position(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
    counted_rows = [row for row in rows if row["seq"] <= through]
    counted = resource_kinds(counted_rows)
    if not counted:
        return
    r = resource_days.c
    this = and_(
        r.tenant_id == tenant_id,
        r.resource_type == bindparam("k_type"),
        r.day == bindparam("k_day"),
        r.resource_id == bindparam("k_id"),
        r.action == bindparam("k_action"),
    )
    keys = [
        {"k_type": k.resource_type, "k_day": k.day, "k_id": k.resource_id, "k_action": k.action,
         "n": n}
        for k, n in sorted(counted.items())
    ]  # fmt: skip
    _take_off(conn, resource_days, this, keys)
    per_resource: Counter[tuple[str, str]] = Counter()
    changes: Counter[tuple[str, str]] = Counter()
    for k, n in counted.items():
        per_resource[(k.resource_type, k.resource_id)] += n
        if k.action in CHANGES:
            changes[(k.resource_type, k.resource_id)] += n
    t = resource_totals.c
    this_total = and_(
        t.tenant_id == tenant_id,
        t.resource_type == bindparam("k_type"),
        t.resource_id == bindparam("k_id"),
    )
    totals = [
        {"k_type": rt, "k_id": rid, "n": n, "m": changes[(rt, rid)]}
        for (rt, rid), n in sorted(per_resource.items())
    ]
    conn.execute(
        update(resource_totals)
        .where(this_total)
        .values(events=t.events - bindparam("n"), changes=t.changes - bindparam("m")),
        totals,
    )
    per_pair = Counter(
        (row["resource_type"], row["resource_id"], actor)
        for row in counted_rows
        if row["resource_id"] is not None and (actor := actor_of(row)) is not None
    )
    if per_pair:
        a = resource_actors.c
        this_pair = and_(
            a.tenant_id == tenant_id,
            a.resource_type == bindparam("k_type"),
            a.resource_id == bindparam("k_id"),
            a.actor == bindparam("k_actor"),
        )
        pairs = [
            {"k_type": rt, "k_id": rid, "k_actor": actor, "n": n}
            for (rt, rid, actor), n in sorted(per_pair.items())
        ]
        conn.execute(
            update(resource_actors).where(this_pair).values(events=a.events - bindparam("n")),
            pairs,
        )
        emptied = Counter(
            (rt, rid) for rt, rid, _ in _emptied_pairs(conn, tenant_id, list(per_pair))
        )
        if emptied:
            conn.execute(
                update(resource_totals).where(this_total).values(actors=t.actors - bindparam("n")),
                [{"k_type": rt, "k_id": rid, "n": n} for (rt, rid), n in sorted(emptied.items())],
            )
        gone = [{name: value for name, value in key.items() if name != "n"} for key in pairs]
        conn.execute(delete(resource_actors).where(this_pair, a.events <= 0), gone)
    gone_totals = [{"k_type": key["k_type"], "k_id": key["k_id"]} for key in totals]
    conn.execute(delete(resource_totals).where(this_total, t.events <= 0), gone_totals)


def _emptied_pairs(
    conn: Connection, tenant_id: uuid.UUID, pairs: list[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """Those of ``pairs`` (type, id, actor) whose stored events came to 0."""
    a = resource_actors.c
    found: list[tuple[str, str, str]] = []
    for start in range(0, len(pairs), LOOKUP_CHUNK):
        chunk = pairs[start : start + LOOKUP_CHUNK]
        found.extend(
            (str(rt), str(rid), str(actor))
            for rt, rid, actor in conn.execute(
                select(a.resource_type, a.resource_id, a.actor).where(
                    a.tenant_id == tenant_id,
                    tuple_(a.resource_type, a.resource_id, a.actor).in_(chunk),
                    a.events <= 0,
                )
            )
        )
    return found


def _take_off(
    conn: Connection, table: Table, this: ColumnElement[bool], keys: list[dict[str, Any]]
) -> None:
    """Subtract each key's ``n`` from the row ``this`` selects, deleting those that come
    to 0."""
    conn.execute(update(table).where(this).values(events=table.c.events - bindparam("n")), keys)
    gone = [{name: value for name, value in key.items() if name != "n"} for key in keys]
    conn.execute(delete(table).where(this, table.c.events <= 0), gone)


def reset_resource_days(conn: Connection, *, tenant_id: uuid.UUID, now: datetime) -> None:
    """Empty the tenant's counters and move the consumer's cursor back to the start of its
    commit sequence, in the caller's transaction (holding the cursor first, as a purge
    does): the consumer then counts every stored event again."""
    hold_resource_rollups(conn, tenant_id=tenant_id, now=now)
    conn.execute(delete(resource_days).where(resource_days.c.tenant_id == tenant_id))
    conn.execute(delete(resource_totals).where(resource_totals.c.tenant_id == tenant_id))
    conn.execute(delete(resource_actors).where(resource_actors.c.tenant_id == tenant_id))
    rewind_cursor(conn, tenant_id=tenant_id, consumer=CONSUMER_NAME)
