"""Bringing one consumer of committed events up to every stored event from the command
line, with a progress bar (``vigil migrate``, ``vigil rollups rebuild``, ``vigil people
rebuild``)."""

from __future__ import annotations

import uuid
from typing import Any

from rich.progress import Progress
from sqlalchemy import Engine

from vigil.cli.common import fail, stderr
from vigil.cli.db import progress_columns
from vigil.spine.consumers import Consumer
from vigil.spine.runner import ConsumerRunner
from vigil.spine.service import events_behind


def catch_up_with_progress(
    engine: Engine,
    consumer: Consumer[Any],
    *,
    what: str,
    doing: str,
    only: set[uuid.UUID] | None = None,
) -> None:
    """Run ``consumer`` over every event it has not reached (of the ``only`` tenants, or
    every tenant), with a progress bar on stderr; ``what`` names it in the report ("activity
    rollups"), ``doing`` on the bar ("Counting activity"). Exits 130 when interrupted
    (what was done is kept)."""
    with engine.connect() as conn:
        behind = events_behind(conn, consumer=consumer.name, only=only)
    if not behind:
        stderr.print(f"{what}: up to date")
        return
    runner = ConsumerRunner(engine, consumer, yield_to_writers=False)
    with Progress(*progress_columns(), console=stderr) as progress:
        task = progress.add_task(doing, total=behind)
        try:
            done = runner.catch_up(on_pass=lambda n: progress.advance(task, n), only=only)
        except KeyboardInterrupt:
            fail(
                "interrupted; what was counted is kept, and a new run goes on from there", code=130
            )
        progress.update(task, completed=behind)  # a running server may have taken passes
    if done < behind:
        stderr.print(f"{what}: {done:,} events counted here, the others by a running server")
    else:
        stderr.print(f"{what}: {done:,} events counted")
