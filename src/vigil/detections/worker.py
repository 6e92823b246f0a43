"""Runs the rules on events as they commit, beside the writer, never in its way.

Committed events arrive from the ingest writer and from every transaction that recorded an
account action; a thread of its own evaluates them, raises alerts and writes their
notifications, all in one transaction per tenant and pass.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction
from vigil.detections import service
from vigil.detections.detect import detect
from vigil.events.service import BatchOutcome, Committed, PendingBatch
from vigil.notifications import service as notifications
from vigil.settings import Settings
from vigil.tenants.service import get_tenant

log = logging.getLogger(__name__)

# Past this many waiting batches the node is far behind; new ones are dropped with a
# warning rather than growing memory without bound (the events themselves are stored).
MAX_WAITING = 10_000
# At most this many events per tenant and pass, so a pass stays short behind a burst.
MAX_PASS_EVENTS = 20_000
# A pass waits this long for more commits to join it: under a stream of single-event
# requests that is one pass for many commits instead of one each, which costs the writer
# far less CPU, and alerts stay well inside their one-second target.
GATHER_SECONDS = 0.05


class DetectionWorker:
    """A queue of committed events and the thread that evaluates them."""

    def __init__(
        self, engine: Engine, settings: Settings, *, on_notify: Callable[[], None]
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._on_notify = on_notify  # wakes the deliverer when email or Slack has work
        self._queue: queue.Queue[Committed | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="vigil-detections", daemon=True)

    def start(self) -> None:
        """Begin evaluating."""
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def submit(self, committed: Committed) -> None:
        """Queue events that just committed (any thread; never blocks)."""
        if self._queue.qsize() >= MAX_WAITING:
            log.warning("detections are %d batches behind; skipping one", MAX_WAITING)
            return
        self._queue.put(committed)

    def after_commit(self, deferred: list[Any]) -> None:
        """The after-commit hook of account transactions (see ``db.engine``)."""
        for item in deferred:
            if isinstance(item, Committed):
                self.submit(item)

    def after_writer_commit(
        self, batches: Sequence[PendingBatch], outcomes: Sequence[BatchOutcome]
    ) -> None:
        """The ingest writer's listener: the new events of each committed batch."""
        for batch, outcome in zip(batches, outcomes, strict=True):
            committed = Committed.new_in(batch.tenant_id, outcome)
            if committed is not None:
                self.submit(committed)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            time.sleep(GATHER_SECONDS)
            waiting: list[Committed | None] = [first]
            while True:  # take whatever else is queued: one pass per tenant for all of it
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            per_tenant: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
            for item in waiting:
                if item is not None:
                    per_tenant[item.tenant_id].extend(item.rows)
            for tenant_id, rows in per_tenant.items():
                for start in range(0, len(rows), MAX_PASS_EVENTS):
                    try:
                        self._evaluate(tenant_id, rows[start : start + MAX_PASS_EVENTS])
                    except Exception:
                        log.exception("detection rules failed for tenant %s", tenant_id)
            if None in waiting:
                return

    def _evaluate(self, tenant_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        now = utcnow()
        told = False
        # The rules only read: on SQLite a write transaction would hold the one write lock
        # (and keep the ingest writer waiting) for the whole evaluation.
        with self._engine.connect() as conn:
            tenant = get_tenant(conn, tenant_id=tenant_id)
            rules = service.tenant_rules(conn, tenant_id=tenant_id)
            findings = detect(conn, tenant=tenant, rules=rules, new_events=rows, now=now)
        if not findings:
            return
        with write_transaction(self._engine) as conn:
            channels = notifications.read_settings(
                conn, tenant_id=tenant_id, secret_key=self._settings.secret_key
            )
            raised_all = service.raise_alerts(conn, tenant_id=tenant_id, findings=findings, now=now)
            for finding, raised in raised_all:
                if raised.tell:
                    used = notifications.notify(
                        conn,
                        tenant_id=tenant_id,
                        alert=raised.alert,
                        rule=finding.rule,
                        channels=channels,
                        link=f"{self._settings.base_url}/ui/security/alerts/{raised.alert['id']}",
                        now=now,
                    )
                    told = told or any(channel.value != "in_app" for channel in used)
        if told:
            self._on_notify()
