"""Request dependencies of the events feature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from vigil.core.errors import TooManyRequests
from vigil.events.export import MAX_CONCURRENT_EXPORTS
from vigil.events.geo import Geolocator
from vigil.events.writer import EventWriter


@dataclass(frozen=True, slots=True)
class Ingest:
    """What storing events takes: the app's group-commit writer and its geolocator.

    One dependency for both, since ingest routes resolve it on every request.
    """

    writer: EventWriter
    geo: Geolocator


async def get_ingest(request: Request) -> Ingest:
    """The app's ingest path (set up when the app starts)."""
    ingest: Ingest = request.app.state.ingest
    return ingest


async def get_export_engine(request: Request) -> Engine:
    """The engine exports read from, refusing (429) when all its connections are streaming."""
    engine: Engine = request.app.state.export_engine
    if engine.pool.checkedout() >= MAX_CONCURRENT_EXPORTS:  # type: ignore[attr-defined]
        raise TooManyRequests(
            f"{MAX_CONCURRENT_EXPORTS} exports are already running; try again shortly",
            retry_after=10,
        )
    return engine


IngestDep = Annotated[Ingest, Depends(get_ingest)]
ExportEngineDep = Annotated[Engine, Depends(get_export_engine)]
