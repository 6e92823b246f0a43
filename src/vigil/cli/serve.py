"""``vigil serve`` and ``vigil migrate``."""

from __future__ import annotations

import gc
import secrets
import sys
from typing import Annotated

import typer
import uvicorn
from rich.panel import Panel
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from vigil.accounts import service as accounts
from vigil.accounts.passwords import check_password_rules
from vigil.app import create_app
from vigil.cli import people, rollups
from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.cli.db import BACKFILL_HELP, backfill_with_progress, index_with_progress
from vigil.db.engine import write_transaction
from vigil.ops.log_format import log_json_to_stdout
from vigil.settings import Settings
from vigil.tenants import service as tenants

BOOTSTRAP_TENANT = "Default"
BOOTSTRAP_ADMIN = "admin@example.com"


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on")] = None,
) -> None:
    """Apply migrations, then serve the API (and create an admin on an empty database)."""
    settings = load_settings()
    # JSON lines on standard output, from the migrations on (docs/operations.md).
    log_json_to_stdout(settings.log_level)
    engine = migrated_engine(settings)
    bootstrap_if_empty(engine, settings)
    # The event writer's thread and the event loop pass work back and forth, and the
    # writer waits for the GIL after every round trip to the database: a switch interval
    # of 30 µs instead of the default 5 ms lets it run sooner. Single-event ingest on
    # PostgreSQL measured about 2,250 events/s at 0.5 ms, 2,400 at 0.1 ms and 2,600 to 3,400
    # at 30 µs, with batch ingest unchanged (BENCHMARKS.md).
    sys.setswitchinterval(0.00003)
    # Ingest allocates some twenty short-lived objects per event; with the default
    # threshold (700) the collector ran hundreds of times a second and took about a fifth
    # of the server's CPU under batch ingest (BENCHMARKS.md §1). Cycles are rare here:
    # almost everything is freed by reference counting, so collect less often.
    gc.set_threshold(10_000, 10, 10)
    host, port = host or settings.host, port or settings.port
    stderr.print(
        f"Console: [bold]http://{host}:{port}/ui/[/]   API docs: http://{host}:{port}/docs\n"
        f"Example activity to explore: [bold]vigil demo --tenant {BOOTSTRAP_TENANT}[/] "
        "(in .venv/bin)"
    )
    uvicorn.run(
        create_app(settings, engine=engine),
        host=host,
        port=port,
        log_level=settings.log_level,
        # Logging is set up above; vigil.access logs each request, with its route and id.
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


MIGRATE_HELP = (
    "Apply database migrations, then fill the columns they added in stored events, with a"
    f" progress bar; exit. {BACKFILL_HELP}"
)


def migrate(
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill/--no-backfill",
            help="Fill the columns the migrations added in stored events, and bring the search"
            " index, the activity rollups and the people up to them (or leave it to `vigil db"
            " backfill`, `vigil db index`, `vigil rollups rebuild` and `vigil people rebuild`,"
            " or to `vigil serve`, which does it all after it starts)",
        ),
    ] = True,
) -> None:
    """Apply database migrations, then fill the columns they added in stored events; exit."""
    engine = migrated_engine(load_settings())
    stderr.print("Database schema is up to date.")
    if backfill:
        backfill_with_progress(engine)
        index_with_progress(engine)
        rollups.catch_up_with_progress(engine)
        people.catch_up_with_progress(engine)


def bootstrap_if_empty(engine: Engine, settings: Settings) -> None:
    """On a database with no tenant, create ``Default`` and its ADMIN, printing the password."""
    password = settings.admin_password or secrets.token_urlsafe(18)
    try:
        check_password_rules(password, email=BOOTSTRAP_ADMIN)
    except ValueError as error:
        fail(f"VIGIL_ADMIN_PASSWORD {error}")
    try:
        with write_transaction(engine) as conn:
            if tenants.count_tenants(conn) > 0:
                return
            accounts.create_tenant_with_admin(
                conn,
                tenant_name=BOOTSTRAP_TENANT,
                admin_email=BOOTSTRAP_ADMIN,
                admin_password=password,
                retention_days=settings.retention_days,
            )
    except IntegrityError:
        return  # another node starting at the same moment bootstrapped first
    shown = "(from VIGIL_ADMIN_PASSWORD)" if settings.admin_password else password
    stderr.print(
        Panel.fit(
            f"Created tenant [bold]{BOOTSTRAP_TENANT}[/] and its ADMIN\n"
            f"  email:    {BOOTSTRAP_ADMIN}\n"
            f"  password: {shown}\n"
            "This password is shown only once.",
            title="Vigil first start",
        )
    )
