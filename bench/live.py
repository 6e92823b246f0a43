"""Benchmark 9: the live feed (``GET /audit-logs/stream``) with 1,000 subscribers.

The subscribers are read by a process of their own (asyncio over raw sockets, so the
reader never shares the server's or the load's GIL). Latency is, per delivered event, the
moment the reader has its frame minus the event's ``received_at`` (written by the server
just before the commit, so this slightly overstates commit-to-subscriber).

Who subscribes: a console is a person with the Live page open, most of them watching
something (a person, a resource, deletions) rather than the whole organisation. Every
subscriber unfiltered would ask one node for a million frames a second at 1,000 events/s;
the mix here is ``FULL`` unfiltered streams, ``DELETIONS`` streams of ``action=DELETE``
(5% of the load) and the rest each of one person of the load's 1,000, which comes to about
8,000 frames a second.

Parts, in order, on one server with a fresh database: its memory and CPU idle without
subscribers and with them connected and idle (per subscriber, and as a share of a core);
latency while 1,000 events/s arrive (900/s in batches of 90, 100/s one by one); then bulk
ingest (``closed_loop`` of 1,000-event batches) with no subscriber, with 1,000 watching
people who never act (the routing's cost) and with 1,000 watching people of the load,
alternately, the median of the rounds. On PostgreSQL the latency is measured again with two
nodes: the load written to one, the subscribers on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import multiprocessing
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlencode

import orjson
import psutil

from bench.client import _LOOP_FACTORY, build_request, closed_loop
from bench.context import Context
from bench.server import Server, Tenant, create_tenant, running_server
from bench.stats import latency_ms, memory_mb

FULL = 5
DELETIONS = 45
PEOPLE = 1_000  # the load's actors
TARGET_P99_MS = 500.0
TARGET_P99_TWO_NODES_MS = 1_000.0
TARGET_KB_PER_IDLE = 50.0
TARGET_IDLE_CORE_SHARE = 0.05
TARGET_INGEST_DROP = 0.15
LIMITS = {"VIGIL_LIVE_MAX_PER_TENANT": "5000", "VIGIL_LIVE_MAX_PER_CREDENTIAL": "5000"}
IDLE_SECONDS = 20.0
BATCH_EVERY = 0.1  # seconds between batches; the rest of the rate comes one by one
SINGLE_SHARE = 0.1
SINGLE_THREADS = 4  # each waits for its answer (the commit) before the next
THROUGHPUT_BATCHES = 60
THROUGHPUT_ROUNDS = 3


def run(ctx: Context, log: Callable[[str], None]) -> dict[str, Any]:
    """Memory, CPU, latency and ingest cost of the live feed on ``ctx``'s backend."""
    sizes = ctx.sizes
    url = ctx.backend.new_database("live")
    tenant = create_tenant(url, ctx.workdir)
    streams = _mix(sizes.live_subscribers)
    result: dict[str, Any] = {"subscribers": _describe(streams), "rate": sizes.live_rate}
    with running_server(url, ctx.workdir, env=LIMITS) as server:
        _warm(server, tenant)
        result["idle_without"] = _idle(server, IDLE_SECONDS)
        log(f"live feed: {len(streams):,} subscribers connect and idle")
        with _readers(server, tenant, streams) as readers:
            result["idle_with"] = _idle(server, IDLE_SECONDS)
            log(f"live feed: latency at {sizes.live_rate:,} events/s")
            result["one_node"] = _latency(server, server, tenant, readers, ctx)
        log("live feed: bulk ingest without and with subscribers")
        result["ingest"] = _throughput(server, tenant, sizes.live_subscribers)
    if ctx.backend.name == "postgresql":
        log("live feed: two nodes, subscribers on the one that does not write")
        with (
            running_server(url, ctx.workdir, env=LIMITS) as writer,
            running_server(url, ctx.workdir, env=LIMITS) as reader_node,
        ):
            _warm(writer, tenant)
            with _readers(reader_node, tenant, streams) as readers:
                result["two_nodes"] = _latency(writer, reader_node, tenant, readers, ctx)
    return _verdicts(result)


def _verdicts(result: dict[str, Any]) -> dict[str, Any]:
    without, with_ = result["idle_without"], result["idle_with"]
    count = result["subscribers"]["total"]
    per_kb = (with_["rss_mb"] - without["rss_mb"]) * 1024 / count
    result["kb_per_idle_subscriber"] = round(per_kb, 1)
    result["idle_core_share"] = with_["core_share"]
    result["met"] = {
        "latency_p99": result["one_node"]["latency_ms"]["p99"] <= TARGET_P99_MS,
        "memory": per_kb <= TARGET_KB_PER_IDLE,
        "idle_cpu": with_["core_share"] <= TARGET_IDLE_CORE_SHARE,
        "ingest": result["ingest"]["drop_watching_load"] <= TARGET_INGEST_DROP,
    }
    if "two_nodes" in result:
        p99 = result["two_nodes"]["latency_ms"]["p99"]
        result["met"]["two_nodes_p99"] = p99 <= TARGET_P99_TWO_NODES_MS
    return result


# --- who subscribes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stream:
    """One subscriber: what it watches and its query."""

    kind: str  # "all", "deletions", "person", "absent person"
    query: str


def _mix(total: int) -> list[Stream]:
    """``total`` subscribers: a few unfiltered, some of deletions, the rest one person each."""
    full = min(FULL, total)
    deletions = min(DELETIONS, total - full)
    mix = [Stream("all", "")] * full + [Stream("deletions", "action=DELETE")] * deletions
    return mix + _people(total - len(mix))


def _people(total: int, *, absent: bool = False) -> list[Stream]:
    """``total`` subscribers each of one person: of the load's, or who never act."""
    if absent:
        return [Stream("absent person", f"user_id=nobody-{n}") for n in range(total)]
    return [Stream("person", f"user_id=user-{n % PEOPLE}") for n in range(total)]


def _describe(streams: Sequence[Stream]) -> dict[str, int]:
    counts: dict[str, int] = {"total": len(streams)}
    for stream in streams:
        counts[stream.kind] = counts.get(stream.kind, 0) + 1
    return counts


# --- the load ---------------------------------------------------------------------------


def _event(rng: random.Random) -> dict[str, Any]:
    person = rng.randrange(PEOPLE)
    return {
        "action": rng.choices(["CREATE", "UPDATE", "DELETE", "LOGIN"], weights=[20, 65, 5, 10])[0],
        "resource_type": rng.choice(["PROJECT", "MODEL", "ENDPOINT", "CLUSTER"]),
        "resource_id": f"res-{rng.randrange(20_000)}",
        "user_id": f"user-{person}",
        "user_email": f"user{person}@example.com",
        "ip_address": f"10.{person // 250}.{person % 250}.1",
    }


class _Poster:
    def __init__(self, server: Server, token: str) -> None:
        self._connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: Any) -> None:
        self._connection.request("POST", path, body=orjson.dumps(body), headers=self._headers)
        response = self._connection.getresponse()
        answer = response.read()
        if response.status != 201:
            raise RuntimeError(f"{path} answered {response.status}: {answer[:300]!r}")

    def close(self) -> None:
        self._connection.close()


def _paced(server: Server, tenant: Tenant, rate: int, seconds: float) -> float:
    """Send ``rate`` events a second for ``seconds``: batches every ``BATCH_EVERY`` from
    one thread, single events from ``SINGLE_THREADS`` others, each on its schedule (one
    that falls behind sends at once until it has caught up); the rate reached."""
    singles_per_s = max(1, round(rate * SINGLE_SHARE))
    batch_size = max(1, round((rate - singles_per_s) * BATCH_EVERY))
    sent = [0, 0]
    started = time.monotonic()

    def batches() -> None:
        rng, poster = random.Random(1), _Poster(server, tenant.api_key)
        try:
            for tick in range(round(seconds / BATCH_EVERY)):  # late ones go at once
                time.sleep(max(0.0, started + tick * BATCH_EVERY - time.monotonic()))
                batch = [_event(rng) for _ in range(batch_size)]
                poster.post("/audit-logs/batch", {"events": batch})
                sent[0] += batch_size
        finally:
            poster.close()

    def singles(number: int) -> None:
        rng, poster = random.Random(2 + number), _Poster(server, tenant.api_key)
        every = SINGLE_THREADS / singles_per_s
        try:
            for tick in range(round(seconds / every)):
                time.sleep(max(0.0, started + (tick + number / SINGLE_THREADS) * every
                               - time.monotonic()))  # fmt: skip
                poster.post("/audit-logs/", _event(rng))
                sent[1] += 1
        finally:
            poster.close()

    threads = [threading.Thread(target=batches)]
    threads += [threading.Thread(target=singles, args=(n,)) for n in range(SINGLE_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(sent) / (time.monotonic() - started)


def _warm(server: Server, tenant: Tenant) -> None:
    """Some events first: the first requests' imports and caches are not the feed's."""
    _paced(server, tenant, 200, 2.0)


def _idle(server: Server, seconds: float) -> dict[str, float]:
    """The server's memory, and its CPU over ``seconds`` with nothing to do."""
    time.sleep(2.0)  # what connecting or a load left behind settles
    before = server.process.cpu_times()
    time.sleep(seconds)
    after = server.process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return {"rss_mb": memory_mb(server.process)["rss"], "core_share": round(used / seconds, 4)}


def _latency(
    writer: Server, node: Server, tenant: Tenant, readers: _Readers, ctx: Context
) -> dict[str, Any]:
    warm = 3.0
    readers.begin(time.time() + warm)
    servers = (("writer", writer), ("node", node))
    cpu = {name: server.process.cpu_times() for name, server in servers}
    reached = _paced(writer, tenant, ctx.sizes.live_rate, warm + ctx.sizes.live_seconds)
    time.sleep(1.0)  # the last frames on their way
    seen = readers.collect()
    spent = {
        name: sum(server.process.cpu_times()[:2]) - sum(cpu[name][:2]) for name, server in servers
    }
    seconds = warm + ctx.sizes.live_seconds + 1.0
    return {
        "events_per_s": round(reached),
        "seconds": ctx.sizes.live_seconds,
        "frames": len(seen.latencies),
        "frames_per_s": round(len(seen.latencies) / ctx.sizes.live_seconds),
        "resets": seen.resets,
        "latency_ms": latency_ms(seen.latencies),
        # CPU of the server(s) over the whole run, in cores (one node: both the same).
        "server_cores": {name: round(value / seconds, 2) for name, value in spent.items()},
    }


def _throughput(server: Server, tenant: Tenant, count: int) -> dict[str, Any]:
    """Bulk ingest with no subscriber, with ``count`` watching people who never act, and
    with ``count`` watching the load's people, rounds alternating; the median of each, with
    the CPU the server and the subscribers' process used per 1,000 events (both share this
    machine's cores with the load)."""
    rng = random.Random(9)
    bodies = [
        orjson.dumps({"events": [_event(rng) for _ in range(1000)]})
        for _ in range(THROUGHPUT_BATCHES)
    ]
    requests = [
        build_request("POST", "/audit-logs/batch", token=tenant.api_key, body=b) for b in bodies
    ]
    names = ("none", "absent", "watching_load")
    rates: dict[str, list[float]] = {name: [] for name in names}
    server_ms: dict[str, list[float]] = {name: [] for name in names}
    reader_ms: dict[str, list[float]] = {name: [] for name in names}
    thousands = len(requests)
    for _ in range(THROUGHPUT_ROUNDS):
        for name in names:
            streams = [] if name == "none" else _people(count, absent=name == "absent")
            held = _readers(server, tenant, streams, record=False) if streams else None
            with held or contextlib.nullcontext() as readers:
                _settle(server)
                served, read = _cpu_seconds(server.process), _cpu_seconds(readers)
                loaded = closed_loop(server.host, server.port, requests, 4)
                server_ms[name].append((_cpu_seconds(server.process) - served) * 1000 / thousands)
                reader_ms[name].append((_cpu_seconds(readers) - read) * 1000 / thousands)
            _settle(server)  # the streams' ends are the server's to clean up
            rates[name].append(thousands * 1000 / loaded.wall)
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "events_per_s": {name: round(value) for name, value in median.items()},
        "rounds": {name: [round(v) for v in values] for name, values in rates.items()},
        "drop_absent": round(1 - median["absent"] / median["none"], 3),
        "drop_watching_load": round(1 - median["watching_load"] / median["none"], 3),
        "server_cpu_ms_per_1000": {
            name: round(statistics.median(values), 1) for name, values in server_ms.items()
        },
        "readers_cpu_ms_per_1000": {
            name: round(statistics.median(values), 1) for name, values in reader_ms.items()
        },
    }


def _cpu_seconds(process: psutil.Process | _Readers | None) -> float:
    """User and system CPU seconds ``process`` (or the readers' process) has used; 0 for
    none."""
    if process is None:
        return 0.0
    measured = process.process if isinstance(process, _Readers) else process
    times = measured.cpu_times()
    return float(times.user + times.system)


def _settle(server: Server, *, quiet: float = 0.15, limit: float = 60.0) -> None:
    """Wait until the server uses less than ``quiet`` of a core over half a second."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(server.process.cpu_times()[:2])
        time.sleep(0.5)
        if sum(server.process.cpu_times()[:2]) - before < quiet * 0.5:
            return


# --- the subscribers' process -------------------------------------------------------------


@dataclass(slots=True)
class Seen:
    """What the readers had between ``begin`` and ``collect``."""

    latencies: list[float]
    resets: int


class _Readers:
    """The control end of the reading process, and the process."""

    def __init__(self, control: Connection, process: psutil.Process) -> None:
        self._control = control
        self.process = process

    def begin(self, at: float) -> None:
        """Count frames that arrive from ``at`` (wall clock) on."""
        self._control.send(("begin", at))

    def collect(self) -> Seen:
        """The frames counted since ``begin``."""
        self._control.send(("collect", None))
        latencies, resets = self._control.recv()
        return Seen(latencies, resets)


@contextmanager
def _readers(
    server: Server, tenant: Tenant, streams: Sequence[Stream], *, record: bool = True
) -> Iterator[_Readers]:
    """A process holding one open stream per ``streams``, until the block ends."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    paths = [f"/audit-logs/stream?{s.query}&{urlencode({'alerts': 'false'})}" for s in streams]
    process = multiprocessing.get_context("spawn").Process(
        target=_reading, args=(server.host, server.port, tenant.api_key, paths, theirs, record)
    )
    process.start()
    try:
        ready = ours.recv()
        if ready != "ready":
            raise RuntimeError(f"the subscribers could not connect: {ready}")
        yield _Readers(ours, psutil.Process(process.pid))
    finally:
        with contextlib.suppress(OSError):
            ours.send(("stop", None))
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def _reading(
    host: str, port: int, token: str, paths: list[str], control: Connection, record: bool
) -> None:
    with asyncio.Runner(loop_factory=_LOOP_FACTORY) as runner:
        runner.run(_read_all(host, port, token, paths, control, record))


async def _read_all(
    host: str, port: int, token: str, paths: list[str], control: Connection, record: bool
) -> None:
    latencies: list[float] = []
    state = {"from": float("inf"), "resets": 0}
    opened: list[asyncio.StreamWriter] = []
    tasks = []
    try:
        for path in paths:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(build_request("GET", path, token=token))
            status = await reader.readline()
            if b" 200 " not in status:
                control.send(f"{path}: {status!r}")
                return
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            opened.append(writer)
            tasks.append(asyncio.create_task(_frames(reader, latencies, state, record)))
        control.send("ready")
        loop = asyncio.get_running_loop()
        while True:
            command, argument = await loop.run_in_executor(None, control.recv)
            if command == "begin":
                latencies.clear()
                state["resets"] = 0
                state["from"] = argument
            elif command == "collect":
                control.send((list(latencies), state["resets"]))
            else:
                return
    finally:
        for task in tasks:
            task.cancel()
        for writer in opened:
            writer.close()


async def _frames(
    reader: asyncio.StreamReader, latencies: list[float], state: dict[str, float], record: bool
) -> None:
    """Read one chunked SSE response, noting each activity frame's latency."""
    buffer = b""
    while True:
        size_line = await reader.readline()
        if not size_line:
            return
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return
        buffer += (await reader.readexactly(size + 2))[:-2]
        *frames, buffer = buffer.split(b"\n\n")
        now = time.time()
        if not record or now < state["from"]:
            continue
        for frame in frames:
            if frame.startswith(b"event: reset") or b"\nevent: reset" in frame:
                state["resets"] += 1
            at = frame.find(b'"received_at":"')
            if at >= 0:
                stamp = frame[at + 15 : frame.index(b'"', at + 15)].decode()
                latencies.append(now - datetime.fromisoformat(stamp).timestamp())
