"""Retention: events older than the tenant's retention are purged, the rest kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Tenant
from tests.helpers import ingest, list_all, make_event
from vigil.db.engine import write_transaction
from vigil.jobs import JOBS, run_job_once
from vigil.tenants.service import change_tenant_settings

PURGE = next(job for job in JOBS if job.name == "purge_expired_events")


def set_retention(tenant: Tenant, days: int) -> None:
    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, retention_days=days)


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def test_purge_removes_only_expired_events(tenant_factory) -> None:  # type: ignore[no-untyped-def]
    short, forever = tenant_factory(), tenant_factory()
    set_retention(short, 30)
    set_retention(forever, 0)
    for tenant in (short, forever):
        ingest(
            tenant.writer,
            [make_event(timestamp=days_ago(d), resource_id=f"d{d}") for d in (1, 29, 31, 400)],
        )
    run_job_once(short.stack.engine, PURGE)
    kept = {e["resource_id"] for e in list_all(short.reader)}
    assert kept == {"d1", "d29"}
    assert {e["resource_id"] for e in list_all(forever.reader)} == {"d1", "d29", "d31", "d400"}


def test_purge_works_through_a_backlog_in_chunks(tenant: Tenant) -> None:
    set_retention(tenant, 7)
    ingest(tenant.writer, [make_event(timestamp=days_ago(10)) for _ in range(6000)])
    ingest(tenant.writer, [make_event(timestamp=days_ago(1))])
    run_job_once(tenant.stack.engine, PURGE)
    assert tenant.reader.get("/audit-logs/").json()["total"] == 1
