"""The events this process committed a moment ago, so its consumers need not read them back.

Under batch ingest every committed event used to be read back from the database by each
consumer: at 20,000 events/s that cost about a fifth of the server's CPU. The writer hands
each commit's new rows here; a runner asks for the rows after its cursor and gets them
only if this buffer holds them all, in an unbroken run of ``seq`` from the cursor. Anything
else (events another transaction or process wrote, rows already let go) is read from the
database as before, so the buffer can only save work, never change what is consumed.

Rows are kept as runs: a transaction numbers each tenant's events with consecutive
``seq``, so a commit adds one run per tenant, and a lookup slices a list. A run is let go
once every local consumer has passed it, once it is ``MAX_AGE_SECONDS`` old (another node
may have consumed it), or, past ``CAPACITY_BYTES``, oldest first (a consumer far behind
then reads the database).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from vigil.events.tables import EventRow

# Roughly the memory the rows kept may take, over every tenant (a row's details and user
# agent as they are, plus what an ordinary row takes besides): some 80,000 ordinary rows,
# four full passes of a consumer; consumers that keep up hold far fewer.
CAPACITY_BYTES = 64 * 2**20
ROW_BYTES = 800
MAX_AGE_SECONDS = 30.0
# Rows added are sorted into runs by the next reader, or by ``add`` once this many wait
# (a reader far behind, or none running): about one of the writer's largest groups.
SORT_AFTER_ROWS = 20_000


def _weight(row: EventRow) -> int:
    return ROW_BYTES + len(row["details"] or "") + len(row["user_agent"] or "")


@dataclass(slots=True)
class _Run:
    tenant_id: uuid.UUID
    first: int  # the seq of rows[0]; the others follow without gaps
    rows: list[EventRow]
    added_at: float
    weight: int = 0
    dropped: bool = False

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1


class RecentCommits:
    """A bounded buffer of committed rows by tenant and ``seq``, read by ``readers`` (the
    names of this process's consumers); safe across threads."""

    def __init__(
        self,
        *,
        readers: Iterable[str] = (),
        capacity_bytes: int = CAPACITY_BYTES,
        max_age_seconds: float = MAX_AGE_SECONDS,
    ) -> None:
        self._capacity = capacity_bytes
        self._max_age = max_age_seconds
        self._readers = frozenset(readers)
        self._runs: dict[uuid.UUID, deque[_Run]] = {}
        self._order: deque[_Run] = deque()  # every run, oldest first
        self._size = 0  # the weight of the rows held
        self._passed: dict[tuple[str, uuid.UUID], int] = {}
        self._arrivals: list[tuple[list[EventRow], float]] = []  # added, not yet in runs
        self._arriving = 0  # the rows in ``_arrivals``
        self._lock = threading.Lock()

    def add(self, rows: list[EventRow]) -> None:
        """Keep rows that have just committed (in commit order).

        The writer calls this between commits, so it only queues them: the next reader
        sorts them into runs (or this call, once ``SORT_AFTER_ROWS`` wait), letting go of
        the oldest beyond capacity or age.
        """
        with self._lock:
            self._arrivals.append((rows, time.monotonic()))
            self._arriving += len(rows)
            if self._arriving >= SORT_AFTER_ROWS:
                self._sort_arrivals()

    def _sort_arrivals(self) -> None:
        """Put queued rows into runs and apply the limits (the caller holds the lock)."""
        for rows, added_at in self._arrivals:
            current: _Run | None = None
            for row in rows:
                tenant_id, seq = row["tenant_id"], row["seq"]
                if current is None or tenant_id != current.tenant_id or seq != current.last + 1:
                    current = _Run(tenant_id, seq, [], added_at=added_at)
                    self._runs.setdefault(tenant_id, deque()).append(current)
                    self._order.append(current)
                weight = _weight(row)
                current.rows.append(row)
                current.weight += weight
                self._size += weight
        self._arrivals.clear()
        self._arriving = 0
        # Runs let go of are removed from ``_order`` here, from the oldest end; counting
        # them too keeps it bounded when one tenant's old run is still held.
        too_old = time.monotonic() - self._max_age
        while self._order and (
            self._order[0].dropped
            or self._order[0].added_at < too_old
            or self._size > self._capacity
            or len(self._order) * ROW_BYTES > self._capacity
        ):
            oldest = self._order.popleft()
            if not oldest.dropped:  # the oldest of all is the oldest of its tenant
                self._drop_first(oldest.tenant_id)

    def after(self, *, tenant_id: uuid.UUID, after_seq: int, limit: int) -> list[EventRow]:
        """The tenant's rows from ``after_seq + 1`` on, as long as they run unbroken (at
        most ``limit``); empty when the next one is not held here."""
        found: list[EventRow] = []
        wanted = after_seq + 1
        with self._lock:
            self._sort_arrivals()
            for run in self._runs.get(tenant_id, ()):
                if run.last < wanted:
                    continue
                if run.first > wanted or len(found) >= limit:
                    break
                start = wanted - run.first
                taken = run.rows[start : start + limit - len(found)]
                found += taken
                wanted += len(taken)
        return found

    def passed(self, *, reader: str, tenant_id: uuid.UUID, seq: int) -> None:
        """``reader`` has finished with the tenant's events up to ``seq``: runs every
        reader has passed are let go."""
        with self._lock:
            self._sort_arrivals()
            self._passed[(reader, tenant_id)] = seq
            if not self._readers:
                return
            behind = min(self._passed.get((name, tenant_id), 0) for name in self._readers)
            runs = self._runs.get(tenant_id)
            while runs and runs[0].last <= behind:
                self._drop_first(tenant_id)
                runs = self._runs.get(tenant_id)

    def _drop_first(self, tenant_id: uuid.UUID) -> None:
        """Forget the tenant's oldest run (the caller holds the lock); ``_order`` lets go
        of it lazily."""
        runs = self._runs[tenant_id]
        run = runs.popleft()
        run.dropped = True
        self._size -= run.weight
        run.rows = []  # the rows go now; the stub goes when it reaches the front
        if not runs:
            del self._runs[tenant_id]
