"""Read a live stream in a process of its own (so it never waits on the test's GIL) until
``count`` events or a ``reset`` came; print what came as JSON lines on stdout.

``python -m tests.sse_reader URL TOKEN COUNT``: ``{"ready": true}`` once the stream is
open, then ``{"event": ..., "id": ..., "event_id": ...}`` for each (``event_id``: an
activity's event id), in order.
"""

from __future__ import annotations

import sys

import httpx
import orjson
from httpx_sse import EventSource


def main(url: str, token: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", url, headers=headers, timeout=120) as response:
        print(orjson.dumps({"ready": response.status_code == 200}).decode(), flush=True)
        seen = 0
        for sse in EventSource(response).iter_sse():
            if sse.event not in ("activity", "reset"):
                continue
            event_id = orjson.loads(sse.data).get("id") if sse.event == "activity" else None
            line = {"event": sse.event, "id": sse.id, "event_id": event_id}
            print(orjson.dumps(line).decode(), flush=True)
            seen += 1
            if sse.event == "reset" or seen >= count:
                return


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
