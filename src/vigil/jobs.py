"""Background jobs: plain functions registered by name here, run per tenant on a schedule.

Every job is safe to run on several nodes at once (its work is idempotent), so nothing
coordinates the nodes beyond the database itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from vigil.core.clock import utcnow
from vigil.db.engine import write_transaction
from vigil.events.jobs import purge_expired
from vigil.live.signals import purge_signals
from vigil.tenants.service import list_tenants
from vigil.tenants.tables import TenantRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Work done for each tenant every ``interval_seconds``."""

    name: str
    interval_seconds: float
    run_for_tenant: Callable[[Engine, TenantRow], int]


def purge_tenant(engine: Engine, tenant: TenantRow) -> int:
    """Remove the tenant's events older than its retention, a chunk per transaction."""
    removed = 0
    while True:
        with write_transaction(engine) as conn:
            chunk = purge_expired(
                conn,
                tenant_id=tenant["id"],
                retention_days=tenant["retention_days"],
                now=utcnow(),
            )
        removed += chunk
        if chunk == 0:
            return removed


def purge_tenant_signals(engine: Engine, tenant: TenantRow) -> int:
    """Remove the tenant's live feed signals once no stream needs them."""
    with write_transaction(engine) as conn:
        return purge_signals(conn, tenant_id=tenant["id"], now=utcnow())


JOBS = (
    Job(name="purge_expired_events", interval_seconds=3600, run_for_tenant=purge_tenant),
    Job(name="purge_live_signals", interval_seconds=600, run_for_tenant=purge_tenant_signals),
)


def run_job_once(engine: Engine, job: Job) -> int:
    """Run ``job`` for every tenant; one tenant's failure does not stop the others."""
    with engine.connect() as conn:
        every_tenant = list_tenants(conn)
    done = 0
    for tenant in every_tenant:
        try:
            done += job.run_for_tenant(engine, tenant)
        except Exception:
            log.exception("job %s failed for tenant %s", job.name, tenant["name"])
    if done:
        log.info("job %s: %d items", job.name, done)
    return done


async def run_jobs_forever(engine: Engine) -> None:
    """Run every job at its interval, first shortly after start, until cancelled."""
    next_run = dict.fromkeys((job.name for job in JOBS), 0.0)
    loop = asyncio.get_running_loop()
    while True:
        now = loop.time()
        for job in JOBS:
            if now >= next_run[job.name]:
                next_run[job.name] = now + job.interval_seconds
                try:
                    await asyncio.to_thread(run_job_once, engine, job)
                except Exception:
                    log.exception("job %s failed", job.name)
        await asyncio.sleep(min(next_run.values()) - loop.time() + 0.01)
