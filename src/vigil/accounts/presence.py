"""When each signed-in user was last active: noted on every request, written in the background.

A busy console makes dozens of requests a minute; writing ``last_active_at`` on each would
put a write on every read. Requests only note the time here, and a background task writes
the latest times every ``FLUSH_SECONDS``, so the column is at most that far behind.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from datetime import datetime

from sqlalchemy import Engine, bindparam, update

from vigil.accounts.tables import users
from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction

log = logging.getLogger(__name__)

FLUSH_SECONDS = 30.0

UserKey = tuple[uuid.UUID, uuid.UUID]  # (tenant_id, user_id)


class Presence:
    """The latest activity of each user since the last flush."""

    def __init__(self) -> None:
        self._seen: dict[UserKey, datetime] = {}
        self._lock = threading.Lock()

    def note(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """The user did something just now."""
        with self._lock:
            self._seen[(tenant_id, user_id)] = utcnow()

    def flush(self, engine: Engine) -> int:
        """Write what was noted; returns how many users were written."""
        with self._lock:
            seen, self._seen = self._seen, {}
        if not seen:
            return 0
        rows = [{"t": t, "u": u, "at": at} for (t, u), at in seen.items()]
        # Only ever moves forward: another node may have written a later time.
        statement = (
            update(users)
            .where(
                users.c.tenant_id == bindparam("t"),
                users.c.id == bindparam("u"),
                (users.c.last_active_at.is_(None)) | (users.c.last_active_at < bindparam("at")),
            )
            .values(last_active_at=bindparam("at"))
        )
        with write_transaction(engine) as conn:
            conn.execute(statement, rows)
        return len(rows)

    async def flush_forever(self, engine: Engine) -> None:
        """Flush every ``FLUSH_SECONDS`` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                await self._flush_logged(engine)
        finally:
            await self._flush_logged(engine)

    async def _flush_logged(self, engine: Engine) -> None:
        try:
            await asyncio.to_thread(self.flush, engine)
        except Exception:
            log.exception("could not record when users were last active")
