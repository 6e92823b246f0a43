"""What every command shares: settings, a migrated engine, and error reporting to stderr."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine

from vigil.db.engine import build_engine
from vigil.db.migrate import upgrade_to_head
from vigil.settings import Settings, get_settings

# stdout is for results scripts read (an API key, a password); everything else goes here.
stderr = Console(stderr=True, highlight=False)


def load_settings() -> Settings:
    """Settings from the environment, or a clean exit saying what is wrong."""
    try:
        return get_settings()
    except ValueError as error:
        fail(f"invalid configuration: {error}")


def migrated_engine(settings: Settings) -> Engine:
    """An engine on a database whose schema is up to date."""
    engine = build_engine(settings.database_url, pool_size=2)
    try:
        upgrade_to_head(engine)
    except Exception as error:
        fail(f"could not prepare the database at {_safe_url(settings.database_url)}: {error}")
    return engine


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit with ``code``."""
    stderr.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
