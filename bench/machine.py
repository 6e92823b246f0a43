"""Where the figures were measured: hardware, versions, and the code's revision."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from vigil import __version__

REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


CALIBRATION_LOOPS = 5_000_000


def cpu_calibration_ms() -> float:
    """Milliseconds one core takes for a fixed pure-Python loop (best of three).

    The same shared virtual machine has run this loop at very different speeds on
    different days (the raw baselines move with it), so every run records it: figures
    from runs whose calibrations differ much compare only as ratios to their baselines.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for n in range(CALIBRATION_LOOPS):
            total += n
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def describe() -> dict[str, Any]:
    """The machine and software this run measured."""
    return {
        "cpu_calibration_ms": cpu_calibration_ms(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "vigil": __version__,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_src_changes": _git("status", "--porcelain", "src") != "",
    }
