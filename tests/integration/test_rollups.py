"""The hourly activity rollups: a summary read from them is what counting the events gives,
at any moment, and every counter (the people tables' too) equals a count of its events
after concurrent ingest, a ``kill -9`` of the server mid-ingest and a restart, and a
retention purge."""

from __future__ import annotations

import random
import subprocess
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from tests.conftest import Stack, Tenant
from tests.helpers import eventually, ingest, list_all, make_event
from tests.integration.test_people import assert_people_agree, people_through
from tests.integration.test_spine_durability import durable_database
from tests.nodes import VIGIL, Node
from vigil.analytics.resource_check import compare_resource_days
from vigil.analytics.resource_rollups import CONSUMER_NAME as RESOURCE_ROLLUPS
from vigil.analytics.rollup_check import compare_rollups
from vigil.analytics.rollups import CONSUMER_NAME
from vigil.db.engine import build_engine, write_transaction
from vigil.events.tables import events
from vigil.jobs import JOBS, run_job_once
from vigil.spine.service import cursor_position, last_seq
from vigil.tenants import service as tenants_service
from vigil.tenants.service import change_tenant_settings

PURGE = next(job for job in JOBS if job.name == "purge_expired_events")

KINDS = [
    ("CREATE", "PROJECT", "SUCCESS"),
    ("UPDATE", "MODEL", "SUCCESS"),
    ("DELETE", "BENCHMARK", "SUCCESS"),
    ("LOGIN", "USER", "SUCCESS"),
    ("LOGIN_FAILED", "USER", "FAILED"),
    ("UPDATE", "ENDPOINT", "FAILED"),
]
NOW = datetime.now(UTC)
ADDRESSES = ["81.2.69.142", "2.125.160.216", "89.160.20.112", "216.160.83.56", "10.0.0.1"]


def assorted(rng: random.Random, count: int, *, hours_back: float = 72) -> list[dict[str, Any]]:
    """Events of every kind, at times spread over the last ``hours_back`` hours, by actors
    named by an id and an email, by an email alone or not at all, from several countries."""
    events = []
    for _ in range(count):
        action, resource_type, status = rng.choice(KINDS)
        moment = NOW - timedelta(seconds=rng.uniform(0, hours_back * 3600))
        named = rng.random()
        events.append(
            make_event(
                action=action,
                resource_type=resource_type,
                resource_id=f"r-{rng.randrange(30)}",
                status=status,
                timestamp=moment.isoformat(),
                user_id=f"u-{rng.randrange(25)}" if named < 0.8 else ...,
                user_email=f"p{rng.randrange(30)}@example.com" if named < 0.95 else ...,
                ip_address=rng.choice(ADDRESSES),
            )
        )
    return events


def rolled_up_through(engine: Engine, tenant_id: uuid.UUID) -> None:
    """Wait until the hourly and resource rollups have counted every event the tenant has
    committed."""

    def behind() -> int:
        with engine.connect() as conn:
            head = last_seq(conn, tenant_id=tenant_id)
            return max(
                head - cursor_position(conn, tenant_id=tenant_id, consumer=name)
                for name in (CONSUMER_NAME, RESOURCE_ROLLUPS)
            )

    eventually(behind, lambda n: n == 0, what="the rollups to catch up", timeout=30)


def assert_rollups_agree(engine: Engine, tenant_id: uuid.UUID) -> None:
    """The hourly and the resource rollups both equal a count of their events."""
    with engine.connect() as conn:
        found = compare_rollups(conn, tenant_id=tenant_id)
    assert found.agrees, found
    assert found.through > 0
    with engine.connect() as conn:
        resources = compare_resource_days(conn, tenant_id=tenant_id)
    assert resources.agrees, resources


def expected_summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the summary must say of ``events`` (as listed), hour by hour, and its ten
    resources most touched (ties by type and id)."""
    hours = Counter(e["timestamp"][:13] for e in events)
    resources = Counter((e["resource_type"], e["resource_id"]) for e in events if e["resource_id"])
    ranked = sorted(resources.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "top_resources": [(kind, name, n) for (kind, name), n in ranked[:10]],
        "total": len(events),
        "by_action": Counter(e["action"] for e in events),
        "by_resource_type": Counter(e["resource_type"] for e in events),
        "by_status": Counter(e["status"] for e in events),
        "hours": {hour: n for hour, n in hours.items()},
    }


def summary_of(tenant: Tenant, **params: Any) -> dict[str, Any]:
    answer = tenant.reader.get("/audit-logs/summary", params={"bucket": "hour", **params})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {
        "top_resources": [
            (r["resource_type"], r["resource_id"], r["count"]) for r in body["top_resources"]
        ],
        "total": body["total"],
        "by_action": Counter(body["by_action"]),
        "by_resource_type": Counter(body["by_resource_type"]),
        "by_status": Counter(body["by_status"]),
        "hours": {p["start"][:13]: p["count"] for p in body["timeline"] if p["count"]},
    }


def ranges() -> list[dict[str, Any]]:
    """Ranges on and off the hour, open at either end, and within one hour."""
    on_hour = NOW.replace(minute=0, second=0, microsecond=0)
    return [
        {},
        {"start_date": (on_hour - timedelta(hours=30)).isoformat()},
        {"end_date": (NOW - timedelta(hours=20, minutes=17)).isoformat()},
        {
            "start_date": (NOW - timedelta(hours=50, minutes=41, seconds=3)).isoformat(),
            "end_date": (NOW - timedelta(hours=2, minutes=5)).isoformat(),
        },
        {
            "start_date": (on_hour - timedelta(hours=12, minutes=-10)).isoformat(),
            "end_date": (on_hour - timedelta(hours=12, minutes=-50)).isoformat(),
        },
    ]


FILTERS: list[dict[str, Any]] = [
    {},
    {"action": ["UPDATE", "DELETE"]},
    {"resource_type": "USER", "status": "FAILED"},
]


def test_a_summary_from_the_rollups_is_what_counting_the_events_gives(tenant: Tenant) -> None:
    rng = random.Random(5)
    ingest(tenant.writer, assorted(rng, 600))
    # At once (the rollups may not have counted them yet), and once they have.
    for moment in ("just committed", "rolled up"):
        if moment == "rolled up":
            rolled_up_through(tenant.stack.engine, tenant.id)
        for filters in FILTERS:
            for bounds in ranges():
                params = {**filters, **bounds}
                listed = list_all(tenant.reader, "/audit-logs/", **params)
                assert summary_of(tenant, **params) == expected_summary(listed), (moment, params)
    assert_rollups_agree(tenant.stack.engine, tenant.id)


def test_events_committed_past_the_rollups_are_counted_once(tenant: Tenant) -> None:
    """Counters and cursor are read in one snapshot: while passes commit beside a stream of
    summaries, each summary counts every event once, never twice nor not at all."""
    rng = random.Random(8)
    ingest(tenant.writer, assorted(rng, 200, hours_back=5))
    stop = threading.Event()
    sent = [200]

    def writer() -> None:
        while not stop.is_set():
            ingest(tenant.writer, assorted(rng, 25, hours_back=5))
            sent[0] += 25

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = []
        for _ in range(40):
            before = sent[0]
            total = summary_of(tenant)["total"]
            after = sent[0]
            # Each write is acknowledged before ``sent`` moves: a summary counts at least the
            # events acknowledged before it and at most those sent by its end, and a batch is
            # one transaction, so never a part of one.
            assert before <= total <= after + 25
            assert total % 25 == 0
            seen.append(total)
    finally:
        stop.set()
        thread.join()
    assert seen == sorted(seen)
    rolled_up_through(tenant.stack.engine, tenant.id)
    assert summary_of(tenant)["total"] == sent[0]
    assert_rollups_agree(tenant.stack.engine, tenant.id)


def test_the_rollups_equal_the_events_after_writers_a_kill_a_restart_and_a_purge(
    stack: Stack, tmp_path: Path
) -> None:
    with durable_database(stack.backend, tmp_path) as url:
        node = Node(url, tmp_path, secret_key="r" * 48, admin_password="rollup-admin-password-1")
        node.start()
        engine = build_engine(url)
        try:
            key = node.cli(
                "apikey", "create", "--tenant", "Default", "--name", "rollups",
                "--scopes", "EVENTS_WRITE,USER_VIEW",
            )  # fmt: skip
            with engine.connect() as conn:
                tenant = tenants_service.get_tenant_by_name(conn, name="Default")
            assert tenant is not None
            acknowledged = [0] * 8
            killed = threading.Event()

            def write(writer: int) -> None:
                rng = random.Random(writer)
                with httpx.Client(
                    base_url=node.base, headers={"Authorization": f"Bearer {key}"}, timeout=30
                ) as client:
                    for _ in range(200):  # bounded: the kill comes long before the end
                        # Some events older than the retention set below, most within it.
                        batch = assorted(rng, 40, hours_back=24 * 12)
                        try:
                            answer = client.post("/audit-logs/batch", json={"events": batch})
                        except httpx.TransportError:
                            return  # the server was killed under this request
                        assert answer.status_code == 201, answer.text
                        acknowledged[writer] += 40
                        if killed.is_set():
                            return

            writers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
            for thread in writers:
                thread.start()
            eventually(lambda: sum(acknowledged), lambda n: n >= 4_000, what="4,000 events written")
            node.kill()  # mid-ingest: requests in flight, passes of the rollups unfinished
            killed.set()
            for thread in writers:
                thread.join(timeout=60)
            with engine.connect() as conn:
                committed = last_seq(conn, tenant_id=tenant["id"])
            assert committed >= sum(acknowledged)

            node.start()  # a new process counts what the dead one had not
            rolled_up_through(engine, tenant["id"])
            assert_rollups_agree(engine, tenant["id"])
            people_through(engine, tenant["id"])
            assert_people_agree(engine, tenant["id"])

            with write_transaction(engine) as conn:
                change_tenant_settings(conn, tenant_id=tenant["id"], retention_days=10)
            assert run_job_once(engine, PURGE) > 0
            with engine.connect() as conn:
                left = conn.execute(
                    select(func.count())
                    .select_from(events)
                    .where(events.c.tenant_id == tenant["id"])
                ).scalar_one()
            assert 0 < left < committed  # some were older than ten days, most were not
            assert_rollups_agree(engine, tenant["id"])
            assert_people_agree(engine, tenant["id"])
            check = subprocess.run(
                [VIGIL, "rollups", "check"], env=node.env, capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            assert check.returncode == 0, check.stderr
            assert "Default: rollups agree with the events they have counted" in check.stderr
            assert "Default: resource rollups agree with the events" in check.stderr
            check = subprocess.run(
                [VIGIL, "people", "check"], env=node.env, capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            assert check.returncode == 0, check.stderr
            assert "Default: people agree with the events they have counted" in check.stderr
        finally:
            node.stop()
            engine.dispose()
