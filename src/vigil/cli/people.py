"""``vigil people``: check the people tables against the events, or count them again from
the events."""

from __future__ import annotations

import uuid

import typer
from rich.markup import escape
from sqlalchemy import Engine

from vigil.cli.catch_up import catch_up_with_progress as catch_up
from vigil.cli.common import (
    TenantOption,
    fail,
    load_settings,
    migrated_engine,
    stderr,
    tenants_named,
)
from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction
from vigil.people.check import compare_people, reset_people
from vigil.people.consumer import CONSUMER_NAME, PeopleConsumer
from vigil.spine.service import ensure_cursor, last_seq

app = typer.Typer(
    help="The people seen in events: who they are, when and how much they act.",
    no_args_is_help=True,
)


@app.command("check")
def check(tenant: TenantOption = None) -> None:
    """Compare every person's counts and times with the events; exit 1 on any difference.
    Events committed after the consumer's last pass are not compared (it says how many).
    Reads each tenant's events once (seconds per million)."""
    engine = migrated_engine(load_settings())
    wrong = 0
    for row in tenants_named(engine, tenant):
        with engine.connect() as conn:
            found = compare_people(conn, tenant_id=row["id"])
            waiting = last_seq(conn, tenant_id=row["id"]) - found.through
        name = escape(row["name"])
        if found.agrees:
            behind = f"; {waiting:,} committed since not counted yet" if waiting > 0 else ""
            stderr.print(
                f"{name}: people agree with the events they have counted{behind}", soft_wrap=True
            )
            continue
        wrong += 1
        stderr.print(f"[bold red]{name}: {found.differences:,} differences[/]", soft_wrap=True)
        for example in found.examples:
            stderr.print(f"  {escape(example)}", soft_wrap=True)
    if wrong:
        fail(f"{wrong} tenant(s) whose people disagree; `vigil people rebuild` counts them again")


@app.command("rebuild")
def rebuild(tenant: TenantOption = None) -> None:
    """Empty the people tables and count every stored event again, with a progress bar.
    Beside a running server, people lists are incomplete until it ends. A person keeps
    their id unless retention purged the event that first named them."""
    engine = migrated_engine(load_settings())
    chosen = tenants_named(engine, tenant)
    for row in chosen:
        with write_transaction(engine) as conn:
            ensure_cursor(conn, tenant_id=row["id"], consumer=CONSUMER_NAME, now=utcnow())
            reset_people(conn, tenant_id=row["id"], now=utcnow())
    catch_up_with_progress(engine, only={row["id"] for row in chosen})


def catch_up_with_progress(engine: Engine, *, only: set[uuid.UUID] | None = None) -> None:
    """Count every event the people tables have not reached (of the ``only`` tenants, or
    every tenant), with a progress bar on stderr."""
    catch_up(engine, PeopleConsumer(), what="people", doing="Counting people", only=only)
