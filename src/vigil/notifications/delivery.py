"""Delivering the outbox: each row is sent by the channel it names (email, Slack).

Each row is claimed before it is sent, so two nodes never send the same one; a failure is
written on the row and retried with exponential backoff (10 s, 20 s, … at most 10 minutes)
until the channel works again. Nothing is lost while Slack or the mail server is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, or_, select, update

from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction
from vigil.notifications.channel import ChannelName, DeliveryFailed, SendContext, describe
from vigil.notifications.channels import outbox_channel
from vigil.notifications.service import PENDING, SENT, read_settings
from vigil.notifications.tables import OutboxRow, outbox, outbox_row
from vigil.settings import Settings

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(minutes=10)
CLAIM_FOR = timedelta(minutes=2)  # a node that dies mid-send frees its rows after this
IDLE_POLL_SECONDS = 1.0
BATCH = 20


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure."""
    # The exponent is capped before use: a channel down for days must not overflow it.
    wait: timedelta = FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16)
    return min(wait, LONGEST_WAIT)


class Deliverer:
    """Sends what the outbox holds, for every tenant of this database."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._http = httpx.Client(timeout=10.0, follow_redirects=False)
        # httpx logs every request's URL at INFO, and a Slack webhook's URL is a credential.
        httpx_log = logging.getLogger("httpx")
        httpx_log.setLevel(max(httpx_log.getEffectiveLevel(), logging.WARNING))
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something new is waiting: look now rather than at the next poll (thread-safe)."""
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.call_soon_threadsafe(self._wake.set)

    async def run_forever(self) -> None:
        """Deliver until cancelled."""
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await asyncio.to_thread(self.deliver_due)
                except Exception:
                    log.exception("notification delivery failed")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # the poll: another node may have work
                    await asyncio.wait_for(self._wake.wait(), timeout=IDLE_POLL_SECONDS)
        finally:
            self._http.close()

    def deliver_due(self) -> int:
        """Send every row that is due, one claimed at a time; returns how many were tried."""
        tried = 0
        while True:
            row = self._claim()
            if row is None:
                return tried
            try:
                self._deliver(row)
            except Exception:  # one bad row never stops the others
                log.exception("delivering notification %s failed", row["id"])
            tried += 1

    def _claim(self) -> OutboxRow | None:
        """The next due row, claimed by this node until its ``claimed_until``."""
        now = utcnow()
        until = now + CLAIM_FOR
        free = or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
        # Look before taking a write transaction: on SQLite that would wait for (and then
        # hold up) the ingest writer every poll, though nothing is due most of the time.
        with self._engine.connect() as conn:
            anything_due = conn.execute(
                select(outbox.c.id)
                .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now, free)
                .limit(1)
            ).first()
        if anything_due is None:
            return None
        with write_transaction(self._engine) as conn:
            due = (
                conn.execute(
                    select(outbox)
                    .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now, free)
                    .order_by(outbox.c.next_attempt_at)
                    .limit(BATCH)
                )
                .mappings()
                .all()
            )
            for row in due:  # another node may take some first: the next one, then
                won = conn.execute(
                    update(outbox)
                    .where(
                        outbox.c.tenant_id == row["tenant_id"],
                        outbox.c.id == row["id"],
                        outbox.c.status == PENDING,
                        free,
                    )
                    .values(claimed_until=until)
                ).rowcount
                if won:
                    return {**outbox_row(row), "claimed_until": until}
        return None

    def _deliver(self, row: OutboxRow) -> None:
        payload = json.loads(row["payload"])
        try:
            self.send(row["tenant_id"], ChannelName(row["channel"]), payload)
        except Exception as error:
            reason = str(error) if isinstance(error, DeliveryFailed) else describe(error)
            attempts = row["attempts"] + 1
            wait = backoff(attempts)
            log.warning(
                "%s notification %s failed (attempt %d, next in %s): %s",
                row["channel"], row["id"], attempts, wait, reason,
            )  # fmt: skip
            self._finish(row, attempts=attempts, last_error=reason[:1000], retry_in=wait)
            return
        self._finish(row, attempts=row["attempts"] + 1, last_error=None, retry_in=None)

    def send(self, tenant_id: uuid.UUID, channel: ChannelName, payload: dict[str, Any]) -> None:
        """Send one stored payload now, through ``channel``; raises ``DeliveryFailed`` saying
        why not."""
        with self._engine.connect() as conn:
            chosen = read_settings(conn, tenant_id=tenant_id, secret_key=self._settings.secret_key)
        context = SendContext(settings=self._settings, http=self._http, chosen=chosen)
        outbox_channel(channel).send(payload, context)

    def _finish(
        self,
        row: OutboxRow,
        *,
        attempts: int,
        last_error: str | None,
        retry_in: timedelta | None,
    ) -> None:
        now = utcnow()
        values: dict[str, Any] = {"attempts": attempts, "claimed_until": None}
        if retry_in is None:
            values.update(status=SENT, sent_at=now, last_error=None)
        else:
            values.update(last_error=last_error, next_attempt_at=now + retry_in)
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.tenant_id == row["tenant_id"],
                    outbox.c.id == row["id"],
                    # Still ours: a claim that ran out may be another node's by now.
                    outbox.c.claimed_until == row["claimed_until"],
                )
                .values(values)
            )
