"""Request dependencies shared by every feature, as typed aliases routes can read.

The accessors are ``async`` because FastAPI runs plain ``def`` dependencies in its thread
pool: a needless thread hop on every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine

from vigil.db.engine import one_snapshot
from vigil.settings import Settings


async def get_engine(request: Request) -> Engine:
    """The app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


async def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_read_connection(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Connection]:
    """A connection for the request's reads, released when the response is sent."""
    with engine.connect() as conn:
        yield conn


def get_snapshot_connection(
    engine: Annotated[Engine, Depends(get_engine)],
) -> Iterator[Connection]:
    """A connection whose reads all see one snapshot of the database (``one_snapshot``)."""
    with engine.connect() as conn:
        yield one_snapshot(conn)


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ReadConnDep = Annotated[Connection, Depends(get_read_connection)]
SnapshotConnDep = Annotated[Connection, Depends(get_snapshot_connection)]
