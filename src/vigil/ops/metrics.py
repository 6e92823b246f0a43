"""What ``GET /metrics`` shows, in Prometheus' text format: one registry per app.

Requests are counted by route template (``/users/{user_id}``, never the raw path, whose
values are unbounded) and method (the usual eight, anything else as ``OTHER``). What lives
in the database (consumer lag, the notification outbox) is read when Prometheus scrapes,
so every node reports the same, true figures; what lives in this process (the writer's
queue, running exports, requests served) is this node's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from vigil.events.tables import EventRow
from vigil.events.writer import EventWriter
from vigil.ops import state
from vigil.spine.consumers import ConsumerRegistry

log = logging.getLogger(__name__)

# Every name here is a classic one, so the classic text format, which every Prometheus reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
COMMIT_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000)


class ServerMetrics:
    """The metrics of one app; ``observe_request`` is on every request's path, so the
    labelled children are looked up once and kept (their number is bounded: routes,
    eight methods, the statuses Vigil answers)."""

    def __init__(
        self, *, engine: Engine, export_engine: Engine, consumers: ConsumerRegistry
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._requests = Counter(
            "vigil_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "vigil_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._ingested = Counter(
            "vigil_events_ingested",
            "Events this node's writer committed (new ones; duplicates are not counted)",
            registry=self.registry,
        )
        self._commit_sizes = Histogram(
            "vigil_writer_commit_events",
            "New events per transaction of this node's writer (its group-commit batches)",
            buckets=COMMIT_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._live = _LiveState(engine=engine, export_engine=export_engine, consumers=consumers)
        self.registry.register(self._live)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration (seconds)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            label = method if method in METHODS else "OTHER"
            children = (
                self._requests.labels(label, route, str(status)),
                self._latency.labels(label, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def watch_writer(self, writer: EventWriter) -> None:
        """Report ``writer``'s queue, and count what it commits (on its own thread)."""
        self._live.writer = writer
        writer.add_listener(self._committed)

    def _committed(self, rows: list[EventRow]) -> None:
        self._ingested.inc(len(rows))
        self._commit_sizes.observe(len(rows))

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text exposition format (version 0.0.4)."""
        return generate_latest(self.registry)


class _LiveState(Collector):
    """Gauges read at scrape time: the writer's queue, running exports, and from the
    database the consumers' lag and the notification outbox."""

    def __init__(
        self, *, engine: Engine, export_engine: Engine, consumers: ConsumerRegistry
    ) -> None:
        self.engine = engine
        self.export_engine = export_engine
        self.consumers = consumers  # read at each scrape: consumers may be added before start
        self.writer: EventWriter | None = None

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only: without this, registering would run collect() (and its queries).
        yield from _families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue, exports, lag, failures, pending, failing = _families()
        if self.writer is not None:
            queue.add_metric([], self.writer.queued)
            yield queue
        pool = self.export_engine.pool
        if isinstance(pool, QueuePool):
            exports.add_metric([], pool.checkedout())
            yield exports
        try:
            with self.engine.connect() as conn:
                consumers = state.consumer_lag(conn, names=self.consumers.names())
                outbox = state.outbox_backlog(conn)
        except Exception as error:
            log.warning("metrics: could not read the database: %s", type(error).__name__)
            return
        for name, behind in consumers.items():
            lag.add_metric([name], behind.events)
            failures.add_metric([name], behind.failing_tenants)
        for channel, backlog in outbox.items():
            pending.add_metric([channel], backlog.pending)
            failing.add_metric([channel], backlog.failing)
        yield from (lag, failures, pending, failing)


def _families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily(
            "vigil_writer_queue_depth", "Ingest requests waiting for this node's event writer"
        ),
        GaugeMetricFamily("vigil_export_streams", "Exports streaming from this node now"),
        GaugeMetricFamily(
            "vigil_consumer_lag_events",
            "Committed events an after-commit consumer has not finished with, all tenants",
            labels=["consumer"],
        ),
        GaugeMetricFamily(
            "vigil_consumer_failing_tenants",
            "Tenants whose last pass of this consumer failed (it retries with backoff)",
            labels=["consumer"],
        ),
        GaugeMetricFamily(
            "vigil_outbox_pending",
            "Notifications waiting to be delivered, by channel",
            labels=["channel"],
        ),
        GaugeMetricFamily(
            "vigil_outbox_failing",
            "Notifications waiting whose last delivery attempt failed, by channel",
            labels=["channel"],
        ),
    )
