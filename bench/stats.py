"""Percentiles, and a watcher of the server process's CPU time and memory during a run."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import psutil


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) by the nearest-rank method; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies given in seconds, in milliseconds."""
    return {
        f"p{q}" if q < 100 else "max": round(percentile(seconds, q) * 1000, 2)
        for q in (50, 95, 99, 100)
    }


def _memory(process: psutil.Process) -> tuple[int, int, int]:
    """Resident set size, and its anonymous (heap) and file-backed (mapped) parts, in bytes."""
    info = process.memory_info()
    return info.rss, info.rss - info.shared, info.shared


def memory_mb(process: psutil.Process) -> dict[str, float]:
    """A process's resident memory now, in MiB: total, heap (anonymous) and mapped files."""
    rss, anon, mapped = _memory(process)
    return {"rss": round(rss / 2**20, 1), "anon": round(anon / 2**20, 1),
            "file": round(mapped / 2**20, 1)}  # fmt: skip


@dataclass(slots=True)
class Usage:
    """What a process used while watched: CPU seconds and memory peaks, in bytes."""

    cpu_seconds: float = 0.0
    rss_before: int = 0
    rss_peak: int = 0
    anon_before: int = 0
    anon_peak: int = 0
    file_peak: int = 0


class ProcessWatch:
    """Samples a process's memory every few milliseconds and its CPU time at the ends."""

    def __init__(self, process: psutil.Process, *, interval: float = 0.01) -> None:
        self._process = process
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self.usage = Usage()
        self._cpu_start = 0.0

    def _cpu(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                rss, anon, mapped = _memory(self._process)
            except psutil.Error:  # the server died; the benchmark reports that itself
                return
            usage = self.usage
            usage.rss_peak = max(usage.rss_peak, rss)
            usage.anon_peak = max(usage.anon_peak, anon)
            usage.file_peak = max(usage.file_peak, mapped)
            self._stop.wait(self._interval)

    def __enter__(self) -> ProcessWatch:
        rss, anon, _ = _memory(self._process)
        self.usage = Usage(rss_before=rss, rss_peak=rss, anon_before=anon, anon_peak=anon)
        self._cpu_start = self._cpu()
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.usage.cpu_seconds = self._cpu() - self._cpu_start
