"""``vigil rollups``: check the hourly activity rollups against the events, or count them
again from the events."""

from __future__ import annotations

import uuid

import typer
from rich.markup import escape
from sqlalchemy import Engine

from vigil.analytics.resource_check import PairCount, ResourceTotal, compare_resource_days
from vigil.analytics.resource_rollups import CONSUMER_NAME as RESOURCE_ROLLUPS
from vigil.analytics.resource_rollups import ResourceRollupConsumer, reset_resource_days
from vigil.analytics.rollup_check import compare_rollups, reset_rollups
from vigil.analytics.rollups import CONSUMER_NAME, MICROS_PER_HOUR, RollupConsumer
from vigil.cli.catch_up import catch_up_with_progress as catch_up
from vigil.cli.common import (
    TenantOption,
    fail,
    load_settings,
    migrated_engine,
    stderr,
    tenants_named,
)
from vigil.core.clock import from_micros, utcnow
from vigil.db.engine import write_transaction
from vigil.events.wire import format_time
from vigil.people.sightings import MICROS_PER_DAY
from vigil.spine.service import ensure_cursor, last_seq
from vigil.tenants.tables import TenantRow

app = typer.Typer(
    help="The hourly activity rollups and the daily resource rollups that summaries and"
    " analytics add up.",
    no_args_is_help=True,
)


@app.command("check")
def check(tenant: TenantOption = None) -> None:
    """Compare every counter with a count of the events it stands for; exit 1 on any
    difference. Events committed after the rollups' last pass are not compared (it says
    how many). Reads each tenant's events once (seconds at 10 million)."""
    engine = migrated_engine(load_settings())
    wrong = 0
    for row in tenants_named(engine, tenant):
        hours_wrong = _check_hours(engine, row)
        resources_wrong = _check_resources(engine, row)
        wrong += max(hours_wrong, resources_wrong)
    if wrong:
        fail(f"{wrong} tenant(s) with rollups that disagree; `vigil rollups rebuild` recounts them")


def _check_hours(engine: Engine, row: TenantRow) -> int:
    """Check the tenant's hourly rollups, saying so; 1 when they disagree, else 0."""
    with engine.connect() as conn:
        found = compare_rollups(conn, tenant_id=row["id"])
        waiting = last_seq(conn, tenant_id=row["id"]) - found.through
    name = escape(row["name"])
    if found.agrees:
        # Events committed since the rollups' last pass are not compared: summaries read
        # them from the events, and a running server counts them shortly.
        behind = f"; {waiting:,} committed since not counted yet" if waiting > 0 else ""
        stderr.print(
            f"{name}: rollups agree with the events they have counted{behind}", soft_wrap=True
        )
        return 0
    stderr.print(f"[bold red]{name}: {found.differences:,} counters disagree[/]", soft_wrap=True)
    for key, counted, actual in found.examples:
        hour = format_time(from_micros(key.hour * MICROS_PER_HOUR))
        stderr.print(
            f"  {hour} {key.action} {key.resource_type} {key.status}:"
            f" counted {counted:,}, events {actual:,}",
            soft_wrap=True,
        )
    for key, counted, actual in found.day_examples:
        day = format_time(from_micros(key.hour * MICROS_PER_DAY))[:10]
        stderr.print(
            f"  {day} (the day) {key.action} {key.resource_type} {key.status}:"
            f" counted {counted:,}, events {actual:,}",
            soft_wrap=True,
        )
    return 1


def _check_resources(engine: Engine, row: TenantRow) -> int:
    """Check the tenant's resource rollups, saying so; 1 when they disagree, else 0."""
    with engine.connect() as conn:
        found = compare_resource_days(conn, tenant_id=row["id"])
        waiting = last_seq(conn, tenant_id=row["id"]) - found.through
    name = escape(row["name"])
    if found.agrees:
        behind = f"; {waiting:,} committed since not counted yet" if waiting > 0 else ""
        stderr.print(
            f"{name}: resource rollups agree with the events they have counted{behind}",
            soft_wrap=True,
        )
        return 0
    stderr.print(
        f"[bold red]{name}: {found.differences:,} resource counters disagree[/]", soft_wrap=True
    )
    for key, counted, actual in found.examples:
        day = format_time(from_micros(key.day * MICROS_PER_DAY))[:10]
        stderr.print(
            f"  {day} {key.resource_type} {escape(key.resource_id)} {key.action}:"
            f" counted {counted:,}, events {actual:,}",
            soft_wrap=True,
        )
    for (resource_type, resource_id), total, from_events in found.total_examples:
        stderr.print(
            f"  every day {resource_type} {escape(resource_id)}:"
            f" total {_total_text(total)}, events {_total_text(from_events)}",
            soft_wrap=True,
        )
    for pair, stored, events in found.pair_examples:
        stderr.print(
            f"  {pair.resource_type} {escape(pair.resource_id)} by {escape(pair.actor)}:"
            f" counted {_pair_text(stored)}, events {_pair_text(events)}",
            soft_wrap=True,
        )
    return 1


def _total_text(total: ResourceTotal) -> str:
    return f"{total.events:,} ({total.changes:,} changes, {total.actors:,} actors)"


def _pair_text(count: PairCount | None) -> str:
    """A (resource, actor) pair's events and days, as the check prints them."""
    if count is None:
        return "none"
    first, last = (format_time(from_micros(d * MICROS_PER_DAY))[:10] for d in count[1:])
    return f"{count.events:,} from {first} to {last}"


@app.command("rebuild")
def rebuild(tenant: TenantOption = None) -> None:
    """Empty the counters and count every stored event again, with a progress bar. Safe
    beside a running server: summaries read the events the rollups have not reached."""
    engine = migrated_engine(load_settings())
    chosen = tenants_named(engine, tenant)
    for row in chosen:
        with write_transaction(engine) as conn:
            ensure_cursor(conn, tenant_id=row["id"], consumer=CONSUMER_NAME, now=utcnow())
            reset_rollups(conn, tenant_id=row["id"], now=utcnow())
            ensure_cursor(conn, tenant_id=row["id"], consumer=RESOURCE_ROLLUPS, now=utcnow())
            reset_resource_days(conn, tenant_id=row["id"], now=utcnow())
    catch_up_with_progress(engine, only={row["id"] for row in chosen})


def catch_up_with_progress(engine: Engine, *, only: set[uuid.UUID] | None = None) -> None:
    """Count every event the activity and resource rollups have not reached (of the
    ``only`` tenants, or every tenant), with a progress bar on stderr."""
    catch_up(
        engine, RollupConsumer(), what="activity rollups", doing="Counting activity", only=only
    )
    catch_up(
        engine,
        ResourceRollupConsumer(),
        what="resource rollups",
        doing="Counting resources",
        only=only,
    )
