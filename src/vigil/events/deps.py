"""Request dependencies of the events feature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from vigil.core.errors import TooManyRequests
from vigil.events.export import MAX_CONCURRENT_EXPORTS
from vigil.events.writer import EventWriter


async def get_writer(request: Request) -> EventWriter:
    """The app's group-commit event writer."""
    writer: EventWriter = request.app.state.writer
    return writer


async def get_export_engine(request: Request) -> Engine:
    """The engine exports read from, refusing (429) when all its connections are streaming."""
    engine: Engine = request.app.state.export_engine
    if engine.pool.checkedout() >= MAX_CONCURRENT_EXPORTS:  # type: ignore[attr-defined]
        raise TooManyRequests(
            f"{MAX_CONCURRENT_EXPORTS} exports are already running; try again shortly",
            retry_after=10,
        )
    return engine


WriterDep = Annotated[EventWriter, Depends(get_writer)]
ExportEngineDep = Annotated[Engine, Depends(get_export_engine)]
