"""What every benchmark is given: the backend, a scratch directory, the world and the sizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.backends import Backend
from bench.world import World


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each benchmark does; ``quick`` shrinks all of it for a smoke run."""

    ingest_events: int = 200_000
    ingest_warmup_events: int = 10_000
    batch_size: int = 1000
    batch_connections: int = 4
    ingest_rounds: int = 3  # HTTP ingest and 20k-row baseline, alternately; median ratio
    single_requests: int = 24_000
    single_warmup: int = 1_600
    single_concurrency: int = 16
    baseline_single_rows: int = 3_000
    query_events: int = 1_000_000
    query_repeats: int = 60
    export_small_share: float = 0.1  # the smaller export, as a share of query_events
    live_subscribers: int = 1_000
    live_rate: int = 1_000  # events a second while the live feed's latency is measured
    live_seconds: float = 20.0

    @classmethod
    def quick(cls, *, query_events: int | None) -> Sizes:
        """Small enough that both backends finish in about a minute."""
        return cls(
            ingest_events=10_000,
            ingest_warmup_events=2_000,
            ingest_rounds=1,
            single_requests=2_000,
            single_warmup=320,
            baseline_single_rows=300,
            query_events=query_events or 20_000,
            query_repeats=6,
            live_subscribers=100,
            live_rate=200,
            live_seconds=4.0,
        )


@dataclass(frozen=True, slots=True)
class Context:
    """One backend's run."""

    backend: Backend
    workdir: Path
    world: World
    seed: int
    end: datetime  # the generated events lead up to this moment
    sizes: Sizes
