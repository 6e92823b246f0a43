"""What every command shares: settings, a migrated engine, and error reporting to stderr."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from vigil.db.engine import build_engine
from vigil.db.migrate import upgrade_to_head
from vigil.settings import Settings, get_settings
from vigil.tenants import service as tenants
from vigil.tenants.tables import TenantRow

# stdout is for results scripts read (an API key, a password); everything else goes here.
stderr = Console(stderr=True, highlight=False)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Name of one tenant (default: every tenant)")
]


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


def tenants_named(engine: Engine, name: str | None) -> list[TenantRow]:
    """The tenant called ``name``, or every tenant for None; a clean exit when no tenant
    has that name."""
    with engine.connect() as conn:
        if name is None:
            return tenants.list_tenants(conn)
        found = tenants.get_tenant_by_name(conn, name=name, required=False)
    if found is None:
        fail(f"tenant {escape(repr(name))} not found")
    return [found]
