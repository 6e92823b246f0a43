"""Request dependencies of the events feature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from vigil.events.export import ExportSlots
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


async def get_export_slots(request: Request) -> ExportSlots:
    """The app's export slots: connections for running exports, a few at a time."""
    slots: ExportSlots = request.app.state.export_slots
    return slots


IngestDep = Annotated[Ingest, Depends(get_ingest)]
ExportSlotsDep = Annotated[ExportSlots, Depends(get_export_slots)]
