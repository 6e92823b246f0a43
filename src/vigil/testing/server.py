"""Run a Vigil app under uvicorn on loopback in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from vigil.testing.postgres import free_port


@contextmanager
def live_server(app: FastAPI, *, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` at the yielded base URL until the block ends."""
    port = port or free_port()
    # As under `vigil serve`: the app itself decides which proxies to believe.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"vigil-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Vigil test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
