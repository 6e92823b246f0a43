"""A lean load generator: asyncio over raw keep-alive HTTP/1.1 sockets, requests pre-built.

Each connection sends one request, reads the whole answer, and sends the next (a closed
loop), so latency is what a client waits. The client's own CPU time is measured with the
run, so the report can show whether the client, rather than Vigil, set the pace.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

_LOOP_FACTORY: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
try:  # uvloop comes with uvicorn[standard]; the plain loop works, only slower
    import uvloop

    _LOOP_FACTORY = uvloop.new_event_loop
except ImportError:  # pragma: no cover
    pass


def build_request(method: str, path: str, *, token: str, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request, ready to write to a socket."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass(slots=True)
class LoadResult:
    """Latencies (seconds), answers by status, and wall and client CPU time of a run."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    started: float = 0.0  # time.time(), comparable across processes
    finished: float = 0.0
    client_cpu: float = 0.0

    @property
    def wall(self) -> float:
        """Seconds from the first request sent to the last answer read."""
        return self.finished - self.started

    def merge(self, other: LoadResult) -> LoadResult:
        """Both runs as one (the client processes of a run started together)."""
        return LoadResult(
            latencies=self.latencies + other.latencies,
            statuses=self.statuses + other.statuses,
            started=min(self.started, other.started),
            finished=max(self.finished, other.finished),
            client_cpu=self.client_cpu + other.client_cpu,
        )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    at = lowered.find(b"content-length:")
    if at < 0:
        raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
    length = int(lowered[at + 15 : lowered.index(b"\r\n", at)])
    return status, await reader.readexactly(length)


async def _closed_loop(
    host: str, port: int, requests: Sequence[bytes], concurrency: int
) -> LoadResult:
    result = LoadResult()
    queue = iter(requests)
    streams = [await asyncio.open_connection(host, port) for _ in range(concurrency)]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for request in queue:  # shared iterator: the next free connection takes the next one
            sent = time.perf_counter()
            writer.write(request)
            status, _ = await _read_response(reader)
            result.latencies.append(time.perf_counter() - sent)
            result.statuses[status] += 1

    cpu = time.process_time()
    result.started = time.time()
    await asyncio.gather(*(worker(r, w) for r, w in streams))
    result.finished = time.time()
    result.client_cpu = time.process_time() - cpu
    for _, writer in streams:
        writer.close()
    return result


def closed_loop(host: str, port: int, requests: Sequence[bytes], concurrency: int) -> LoadResult:
    """Send every request over ``concurrency`` keep-alive connections; wait for each answer."""
    with asyncio.Runner(loop_factory=_LOOP_FACTORY) as runner:
        return runner.run(_closed_loop(host, port, requests, concurrency))


def _child(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, at: float
) -> LoadResult:
    time.sleep(max(0.0, at - time.time()))  # every process starts together
    return closed_loop(host, port, requests, concurrency)


def closed_loop_processes(
    host: str, port: int, requests: Sequence[bytes], concurrency: int, processes: int
) -> LoadResult:
    """``closed_loop`` split over ``processes`` client processes, for when one cannot keep up."""
    if processes == 1:
        return closed_loop(host, port, requests, concurrency)
    start_at = time.time() + 3.0  # time for the children to start and import
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(
                _child, host, port, requests[i::processes], concurrency // processes, start_at
            )
            for i in range(processes)
        ]
        results = [f.result() for f in futures]
    merged = results[0]
    for other in results[1:]:
        merged = merged.merge(other)
    return merged


# uvicorn closes a keep-alive connection idle for 5 s; one idle longer than this (the raw
# baselines between requests can take that long) is reopened before the next request.
IDLE_SECONDS = 4.0


class KeepAlive:
    """A blocking keep-alive connection for one request at a time (queries, exports)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self._connection = http.client.HTTPConnection(host, port, timeout=600)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._last_used = time.monotonic()

    def _reopen_if_idle(self) -> None:
        if time.monotonic() - self._last_used > IDLE_SECONDS:
            self._connection.close()  # http.client connects again on the next request
        self._last_used = time.monotonic()

    def get(self, path: str) -> tuple[int, bytes, float]:
        """Status, body and seconds until the last byte of a GET."""
        self._reopen_if_idle()
        started = time.perf_counter()
        self._connection.request("GET", path, headers=self._headers)
        response = self._connection.getresponse()
        body = response.read()
        self._last_used = time.monotonic()
        return response.status, body, time.perf_counter() - started

    def stream(self, path: str, sink: Callable[[bytes], None]) -> tuple[int, float]:
        """Status and seconds of a GET whose body goes, piece by piece, to ``sink``."""
        self._reopen_if_idle()
        started = time.perf_counter()
        self._connection.request("GET", path, headers=self._headers)
        response = self._connection.getresponse()
        while piece := response.read(1 << 20):
            sink(piece)
        self._last_used = time.monotonic()
        return response.status, time.perf_counter() - started

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()
