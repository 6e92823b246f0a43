"""``vigil demo``: fill a tenant with a few weeks of a believable team's activity."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import Engine

from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.core.clock import utcnow
from vigil.core.errors import Conflict
from vigil.db.engine import write_transaction
from vigil.demo.people import cast, demo_domain
from vigil.demo.story import timeline
from vigil.demo.users import enlist, stamp_last_sign_ins
from vigil.events.geo import Geolocator
from vigil.events.schemas import MAX_BATCH_EVENTS, EventIn
from vigil.events.service import record_many
from vigil.tenants import service as tenants
from vigil.tenants.tables import TenantRow


def demo(
    tenant: Annotated[str, typer.Option("--tenant", help="Name of an existing tenant to fill")],
    days: Annotated[
        int, typer.Option("--days", min=1, max=365, help="Days of activity, ending now")
    ] = 30,
    users: Annotated[
        int, typer.Option("--users", min=3, max=500, help="People in the demo team")
    ] = 25,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same story")] = 7,
) -> None:
    """Fill a tenant with demo people and weeks of their activity, incidents included.

    Makes --users accounts without passwords, so nobody can sign in as them,
    with emails at the tenant's demo domain (alex.kim@acme.demo.example for Acme).
    Records their sign-ins and their work on projects, models, endpoints,
    clusters and benchmarks, with a password-spraying burst, a bulk deletion,
    a role escalation, a sign-in from an unusual country, and late-night and
    weekend work.

    Run it again to add more activity: the people are always the same, so their
    accounts are reused (more --users adds the rest of the team). The same
    --seed repeats the same story; pass another one for different activity.
    """
    settings = load_settings()
    engine = migrated_engine(settings)
    tenant_row = _existing_tenant(engine, tenant)
    domain = demo_domain(tenant_row["name"])
    people = cast(count=users, domain=domain)
    try:
        with write_transaction(engine) as conn:
            members = enlist(conn, tenant_id=tenant_row["id"], people=people)
    except Conflict as error:
        fail(str(error))
    events = timeline(members, days=days, now=utcnow(), seed=seed)
    geo = Geolocator(enabled=settings.geoip_enabled)
    stored = _store(engine, tenant_id=tenant_row["id"], events=events, geo=geo)
    with write_transaction(engine) as conn:
        stamp_last_sign_ins(conn, tenant_id=tenant_row["id"], events=events)
    made = sum(member.created for member in members)
    reused = f", reused {len(members) - made}," if made < len(members) else ""
    stderr.print(
        f"Added {_count(made, 'user')}{reused} and {_count(stored, 'event')} over "
        f"{_count(days, 'day')} to tenant [bold]{escape(tenant_row['name'])}[/] "
        f"(people at @{domain})",
        soft_wrap=True,
    )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _existing_tenant(engine: Engine, name: str) -> TenantRow:
    with engine.connect() as conn:
        found = tenants.get_tenant_by_name(conn, name=name, required=False)
    if found is None:
        fail(f"tenant {escape(repr(name))} not found (vigil init creates one)")
    return found


def _store(engine: Engine, *, tenant_id: uuid.UUID, events: list[EventIn], geo: Geolocator) -> int:
    """Record the events a batch per transaction, so a running server is never held up long."""
    stored = 0
    for start in range(0, len(events), MAX_BATCH_EVENTS):
        with write_transaction(engine) as conn:
            batch = events[start : start + MAX_BATCH_EVENTS]
            stored += record_many(conn, tenant_id=tenant_id, events=batch, geo=geo)
    return stored
