"""Filling columns a migration adds empty, beside ingest: the registry of column backfills
over ``events``, and the walk that runs them.

A migration that adds a column computed from others (``ip_key`` from ``ip_address``) only
adds it: filling millions of rows in the migration's transaction would stop ingest for as
long. Each such column is registered here instead (``BACKFILLS``) with the condition that
selects its rows still to fill, the columns its value is computed from, and the function
that computes it in Python, the same function ingest uses for new rows.

A run walks each tenant's events by their commit sequence, newest first (the events people
look at, and detections count), a range of ``seq`` at a time (the unique index on
``(tenant_id, seq)`` makes each batch a range scan): it reads a batch outside any write
transaction, computes the values, and writes them by primary key in a transaction of its
own, committed at once. The batch size adapts so that transaction stays well under
``WRITE_SECONDS`` (on SQLite ingest waits for it; on PostgreSQL it locks only the rows it
updates), and the run pauses as long after each write, so ingest always gets in. A run can
stop anywhere and a later one goes on: filled rows no longer match the condition and are
never written again. Until its row is filled, an event simply lacks the column's value
(for ``ip_key``: it matches no address filter).

``vigil migrate`` and ``vigil db backfill`` run the pending backfills with a progress bar;
``vigil serve`` runs them in the background after it starts (``fill_in_background``).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import ColumnElement, Connection, Engine, bindparam, case, func, select, text

from vigil.db.engine import write_transaction
from vigil.events.ip_ranges import ip_key_of
from vigil.events.search_text import event_search_text
from vigil.events.tables import events

log = logging.getLogger(__name__)

WRITE_SECONDS: Final = 0.25  # the longest a batch's write transaction should take
FIRST_BATCH: Final = 200
MIN_BATCH: Final = 20
MAX_BATCH: Final = 20_000
MIN_PAUSE_SECONDS: Final = 0.02
# Held on PostgreSQL by the process filling, so that several nodes starting at once do not
# all do the same work (any constant, the same on every node).
BACKFILL_LOCK_KEY: Final = 0x56424B46


@dataclass(frozen=True, slots=True)
class ColumnBackfill:
    """A column of ``events`` left to fill: which rows still need it, and its value.

    ``compute`` gets a row's ``sources`` (by name) and returns the column's value, or None
    when that row cannot have one (it is left as it is, and still counted as pending).
    """

    column: str
    pending: ColumnElement[bool]  # true for the rows still to fill
    sources: tuple[str, ...]
    compute: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """How far a run of one backfill has got: rows looked at (``done``) out of those
    pending when it started (``total``), of which ``filled`` were given a value."""

    column: str
    done: int
    total: int
    filled: int


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """What one run of a backfill did; ``left`` rows still match its condition (the run
    stopped early, rows came in from older nodes, or some cannot be filled)."""

    column: str
    filled: int
    left: int
    seconds: float


ProgressCallback = Callable[[BackfillProgress], None]


class BackfillBusy(RuntimeError):
    """Another process is running the backfills on this PostgreSQL database."""


class _TenantSpan(NamedTuple):
    tenant_id: uuid.UUID
    rows: int
    first_seq: int
    last_seq: int


def _ip_key_of_row(row: Mapping[str, Any]) -> bytes | None:
    try:
        return ip_key_of(row["ip_address"])
    except ValueError:  # not an address (written around the API): no key, no match
        return None


def _search_text_of_row(row: Mapping[str, Any]) -> str:
    return event_search_text(
        user_email=row["user_email"],
        user_id=row["user_id"],
        resource_id=row["resource_id"],
        user_agent=row["user_agent"],
        details=row["details"],
    )


# Every column backfill, in the order runs fill them. Adding one: its migration adds the
# column (nullable), and an entry here says how to fill it.
BACKFILLS: Final[tuple[ColumnBackfill, ...]] = (
    ColumnBackfill(
        column="ip_key",
        pending=events.c.ip_key.is_(None) & events.c.ip_address.is_not(None),
        sources=("ip_address",),
        compute=_ip_key_of_row,
    ),
    ColumnBackfill(
        column="search_text",
        pending=events.c.search_text.is_(None),
        sources=("user_email", "user_id", "resource_id", "user_agent", "details"),
        compute=_search_text_of_row,
    ),
)


def check_backfills(backfills: Sequence[ColumnBackfill]) -> None:
    """Raise ``ValueError`` unless every backfill fills a nullable column of ``events`` from
    columns of ``events``, and no column is filled twice."""
    columns = [backfill.column for backfill in backfills]
    if len(set(columns)) != len(columns):
        raise ValueError(f"a column is filled by more than one backfill: {columns}")
    for backfill in backfills:
        unknown = {backfill.column, *backfill.sources} - set(events.c.keys())
        if unknown:
            raise ValueError(f"backfill of {backfill.column}: no such columns {sorted(unknown)}")
        if not events.c[backfill.column].nullable:
            raise ValueError(f"backfill of {backfill.column}: the column must be nullable")


check_backfills(BACKFILLS)


def run_backfills(
    engine: Engine,
    *,
    backfills: Sequence[ColumnBackfill] = BACKFILLS,
    on_progress: ProgressCallback | None = None,
    max_rows: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[BackfillResult]:
    """Fill what the backfills have left, one after another, each in batches of their own
    transactions (see the module's docstring); safe to run while Vigil serves.

    ``on_progress`` hears each backfill's progress when it starts and after every batch;
    ``max_rows`` stops a backfill after filling that many rows (a later run goes on);
    ``should_stop``, asked between batches, stops the run when it answers true. Raises
    ``BackfillBusy`` when another process is running them on the same PostgreSQL
    database, and what the driver raises if the database fails (what was committed stays).
    """
    with _run_lock(engine):
        return [
            _run_one(engine, backfill, on_progress, max_rows, should_stop or (lambda: False))
            for backfill in backfills
        ]


def fill_in_background(engine: Engine, *, stop: threading.Event) -> None:
    """Run the pending backfills, logging their progress now and then, until done or
    ``stop`` is set; for ``vigil serve``, on a thread of its own. Never raises."""
    last_logged = [time.monotonic()]

    def logged(progress: BackfillProgress) -> None:
        now = time.monotonic()
        if progress.done == 0 and progress.total:
            log.info("filling %s in %d stored events", progress.column, progress.total)
        elif now - last_logged[0] >= 30:
            last_logged[0] = now
            log.info("filling %s: %d of %d events", progress.column, progress.done, progress.total)

    try:
        results = run_backfills(engine, on_progress=logged, should_stop=stop.is_set)
    except BackfillBusy:
        log.info("another process is filling the backfilled columns; leaving them to it")
        return
    except Exception:
        log.exception("filling the backfilled columns failed; `vigil db backfill` goes on")
        return
    for result in results:
        if result.filled:
            log.info("filled %s in %d events (%d left)", result.column, result.filled, result.left)


def _run_one(
    engine: Engine,
    backfill: ColumnBackfill,
    on_progress: ProgressCallback | None,
    max_rows: int | None,
    should_stop: Callable[[], bool],
) -> BackfillResult:
    started = time.perf_counter()
    with engine.connect() as conn:
        spans = _pending_spans(conn, backfill)
    total = sum(span.rows for span in spans)
    done = filled = 0
    pause = 0.0

    def report() -> None:
        if on_progress is not None:
            on_progress(BackfillProgress(backfill.column, min(done, total), total, filled))

    report()
    batch = _BatchSize()
    stopped = max_rows is not None and max_rows <= 0
    for span in spans:
        last = span.last_seq
        while last >= span.first_seq and not stopped:
            time.sleep(pause)  # ingest's turn, as long as the last write took
            size = batch.rows if max_rows is None else min(batch.rows, max_rows - filled)
            first = max(last - size + 1, span.first_seq)
            looked_at, written, seconds = _fill_batch(engine, backfill, span.tenant_id, first, last)
            batch.adapt(written, seconds)
            done, filled, last = done + looked_at, filled + written, first - 1
            pause = max(seconds, MIN_PAUSE_SECONDS) if written else 0.0
            report()
            stopped = should_stop() or (max_rows is not None and filled >= max_rows)
    left = 0
    if total:  # what is still pending: stopped early, unfillable, or written by older nodes
        with engine.connect() as conn:
            left = sum(span.rows for span in _pending_spans(conn, backfill))
    return BackfillResult(backfill.column, filled, left, time.perf_counter() - started)


def _pending_spans(conn: Connection, backfill: ColumnBackfill) -> list[_TenantSpan]:
    """Per tenant, how many rows are pending and the first and last ``seq`` among them."""
    seq = events.c.seq
    query = (
        select(events.c.tenant_id, func.count(), func.min(seq), func.max(seq))
        .where(backfill.pending)
        .group_by(events.c.tenant_id)
    )
    return [_TenantSpan(*row) for row in conn.execute(query)]


def _fill_batch(
    engine: Engine, backfill: ColumnBackfill, tenant_id: uuid.UUID, first: int, last: int
) -> tuple[int, int, float]:
    """Fill the pending rows with ``first <= seq <= last``: how many were pending, how many
    were filled, and how long the write transaction took (seconds)."""
    # Selected by the range alone, pending or not, so no other index looks cheaper to the
    # planner; the condition is computed for each row instead.
    is_pending = case((backfill.pending, True), else_=False).label("is_pending")
    query = select(events.c.id, *(events.c[name] for name in backfill.sources), is_pending).where(
        events.c.tenant_id == tenant_id, events.c.seq >= first, events.c.seq <= last
    )
    with engine.connect() as conn:
        rows = [row for row in conn.execute(query).mappings() if row["is_pending"]]
    values = [(row["id"], backfill.compute(cast(Mapping[str, Any], row))) for row in rows]
    changes = [
        {"b_tenant": tenant_id, "b_id": event_id, "b_value": value}
        for event_id, value in values
        if value is not None
    ]
    if not changes:
        return len(rows), 0, 0.0
    statement = (
        events.update()
        .where(
            events.c.tenant_id == bindparam("b_tenant"),
            events.c.id == bindparam("b_id"),
            backfill.pending,  # a row another run has filled meanwhile is left alone
        )
        .values({backfill.column: bindparam("b_value")})
    )
    started = time.perf_counter()
    with write_transaction(engine) as conn:
        conn.execute(statement, changes)
    return len(rows), len(changes), time.perf_counter() - started


class _BatchSize:
    """Rows per batch, adapted to how long writing them took: aiming at ``AIM`` of
    ``WRITE_SECONDS`` (a shared machine's pauses and a WAL checkpoint can double a write's
    time), growing by half at most from one batch to the next, shrinking at once."""

    AIM = 0.4

    def __init__(self) -> None:
        self.rows = FIRST_BATCH

    def adapt(self, written: int, seconds: float) -> None:
        most = min(MAX_BATCH, self.rows * 3 // 2)
        if written == 0 or seconds <= 0:
            self.rows = most
            return
        wanted = int(written * WRITE_SECONDS * self.AIM / seconds)
        self.rows = max(MIN_BATCH, min(most, wanted))


@contextmanager
def _run_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, the lock only one process at a time holds while it fills; elsewhere
    nothing (a second run on SQLite only repeats reads: writes re-check their rows)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        taken = conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": BACKFILL_LOCK_KEY}
        ).scalar_one()
        conn.commit()  # a session lock: held until unlocked, not until the transaction ends
        if not taken:
            raise BackfillBusy("another process is running the backfills")
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": BACKFILL_LOCK_KEY})
            conn.commit()
