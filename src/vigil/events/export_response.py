"""The HTTP answer of an export: streamed, cut off when the client stops reading."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vigil.events.export import Outcome, RunningExport

log = logging.getLogger(__name__)


class ExportResponse(Response):
    """Streams a ``RunningExport`` and always finishes it, recording how it ended.

    A client that takes nothing of the next chunk (about 256 KiB) for
    ``stall_seconds`` holds a database connection and an export slot for nothing: its
    connection is closed and the export recorded as interrupted.
    """

    def __init__(
        self,
        export: RunningExport,
        *,
        stall_seconds: float,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        self.export = export
        self.stall_seconds = stall_seconds
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: the body, chunk by chunk; returning unfinished makes the server hang up."""
        outcome = Outcome.DISCONNECTED
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
                outcome = await self._stream(send)
                group.cancel_scope.cancel()
        except Exception:
            outcome = Outcome.FAILED
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.export.finish, outcome)
        if outcome is Outcome.STALLED:
            log.warning(
                "export cut off after %s rows: the client read nothing for %g s",
                self.export.rows_sent,
                self.stall_seconds,
            )

    async def _stream(self, send: Send) -> Outcome:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        while (chunk := await anyio.to_thread.run_sync(self.export.next_chunk)) is not None:
            if not await self._send_in_time(send, chunk, more=True):
                return Outcome.STALLED
        # Recorded before the answer ends, so a client that lists exports right after
        # downloading one finds it there.
        await anyio.to_thread.run_sync(self.export.finish, Outcome.COMPLETED)
        await self._send_in_time(send, b"", more=False)
        return Outcome.COMPLETED

    async def _send_in_time(self, send: Send, body: bytes, *, more: bool) -> bool:
        # The server's send waits while its buffer is full, that is while the client
        # does not read.
        with anyio.move_on_after(self.stall_seconds):
            await send({"type": "http.response.body", "body": body, "more_body": more})
            return True
        return False


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
