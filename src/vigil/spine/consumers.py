"""What an after-commit consumer is, and the registry the app lists them in."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from sqlalchemy import Connection

from vigil.events.tables import EventRow

PlanT = TypeVar("PlanT")

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Consumer(Protocol[PlanT]):
    """Work owed for every committed event: detections, rollups, an integrity log, …

    A pass hands the consumer up to ``batch_limit`` events of one tenant, in commit order,
    in two steps. ``plan`` only reads: on SQLite it runs outside the write lock, so the
    ingest writer never waits for it. ``apply`` writes what the plan says, in the
    transaction that moves the consumer's cursor past those events, so the work is done
    exactly once even if the process dies at any moment (it is then redone from the
    same cursor). ``after_commit`` runs once that transaction has committed (wake a
    deliverer, say); it must not fail.
    """

    name: str  # the cursor's key: stable across releases, [a-z][a-z0-9_]*
    gather_seconds: float  # after a wake, wait this long for more commits to join the pass
    # Derived data the reads complete with the events past its cursor (rollups, people
    # tables, search index): while events are committing it takes a small share of the
    # time, and catches up once ingest pauses (``spine.turns``). False: it keeps up with
    # every commit (detections: an alert cannot wait).
    background: bool
    batch_limit: int  # events per pass at most, so a pass stays short behind a burst

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventRow], now: datetime
    ) -> PlanT | None:
        """What to write for ``events`` (rows of ``events``, in commit order); None: nothing."""
        ...

    def apply(self, conn: Connection, *, tenant_id: uuid.UUID, plan: PlanT, now: datetime) -> None:
        """Write ``plan`` in the caller's transaction (which never commits here)."""
        ...

    def after_commit(self, plan: PlanT) -> None:
        """Follow-up once the plan's transaction committed."""
        ...


@runtime_checkable
class CountsSpans(Protocol):
    """A consumer that counts its events in SQL from their commit sequence numbers alone
    (the rollups, the people tables): the runner hands it a pass's span without reading
    the rows (in a catch-up, reading them cost more than counting them). Its ``plan``
    must give what ``plan_span`` gives for the same events."""

    def plan_span(
        self,
        conn: Connection,
        *,
        tenant_id: uuid.UUID,
        first_seq: int,
        last_seq: int,
        now: datetime,
    ) -> Any:
        """What to write for the events from ``first_seq`` to ``last_seq`` (both included;
        some may have been purged); None: nothing."""
        ...


@dataclass(frozen=True, slots=True)
class SeqSpan:
    """The commit sequence numbers a pass counts, both included."""

    first_seq: int
    last_seq: int


class SpanCounter:
    """What the consumers that count a pass's span in SQL (``CountsSpans``) share: their
    plan is the span itself, which ``apply`` counts, and nothing follows a pass."""

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventRow], now: datetime
    ) -> SeqSpan | None:
        """The span of ``events``; None for no events."""
        if not events:
            return None
        first, last = events[0]["seq"], events[-1]["seq"]
        return self.plan_span(conn, tenant_id=tenant_id, first_seq=first, last_seq=last, now=now)

    def plan_span(
        self,
        conn: Connection,
        *,
        tenant_id: uuid.UUID,
        first_seq: int,
        last_seq: int,
        now: datetime,
    ) -> SeqSpan:
        """The span itself."""
        return SeqSpan(first_seq, last_seq)

    def after_commit(self, plan: SeqSpan) -> None:
        """Nothing follows a pass."""


class ConsumerRegistry:
    """The consumers of committed events, each under a unique name; iterated in order."""

    def __init__(self) -> None:
        self._consumers: dict[str, Consumer[Any]] = {}

    def register(self, consumer: Consumer[Any]) -> None:
        """Add ``consumer``; raises ``ValueError`` for a bad or repeated name or limits."""
        if not _NAME.match(consumer.name):
            raise ValueError(f"consumer name {consumer.name!r} must match {_NAME.pattern}")
        if consumer.name in self._consumers:
            raise ValueError(f"a consumer named {consumer.name!r} is already registered")
        if consumer.batch_limit < 1 or consumer.gather_seconds < 0:
            raise ValueError(f"consumer {consumer.name!r}: batch_limit ≥ 1 and gather_seconds ≥ 0")
        self._consumers[consumer.name] = consumer

    def __iter__(self) -> Iterator[Consumer[Any]]:
        return iter(list(self._consumers.values()))

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._consumers)
