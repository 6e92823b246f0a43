"""The after-commit spine: every committed event reaches every consumer exactly once, in
commit order per tenant, whoever wrote it (DESIGN §2)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, select

from tests.conftest import Stack, Tenant, make_database_url, new_tenant
from tests.helpers import eventually, ingest, list_all, make_event
from tests.integration.test_cli import run_vigil
from tests.integration.test_detections import ATTACKER, failed_login, listed_alerts
from vigil.app import create_app
from vigil.db.engine import build_engine, write_transaction
from vigil.db.migrate import upgrade_to_head
from vigil.events import service as events
from vigil.events.commit_log import events_after
from vigil.events.geo import NO_GEOLOCATION
from vigil.events.schemas import EventIn
from vigil.events.tables import EventRow
from vigil.events.tables import events as events_table
from vigil.spine.recent import RecentCommits
from vigil.spine.runner import ConsumerRunner
from vigil.spine.tables import consumer_cursors
from vigil.tenants.service import create_tenant
from vigil.testing.server import live_server


def recent_night() -> datetime:
    """The latest 02:00 UTC: off the default working hours, and within the last day."""
    now = datetime.now(UTC)
    night = now.replace(hour=2, minute=0, second=0, microsecond=0)
    return night if night <= now else night - timedelta(days=1)


def night_work(user: str, count: int, *, first: int = 0) -> list[dict[str, Any]]:
    """``count`` events by ``user`` at night, a millisecond apart."""
    base = recent_night()
    return [
        make_event(
            user_id=user,
            user_email=f"{user}@example.com",
            resource_id=f"night-{first + i}",
            timestamp=(base + timedelta(milliseconds=first + i)).isoformat(),
        )
        for i in range(count)
    ]


class Recorder:
    """A consumer that writes nothing and notes each event it finished, per node.

    ``refuse`` names a tenant whose events it fails on, as a consumer with a bug would.
    """

    gather_seconds = 0.0
    background = False
    batch_limit = 7  # small, so the work comes in many passes

    def __init__(self, name: str = "recorder", refuse: uuid.UUID | None = None) -> None:
        self.name = name
        self.refuse = refuse
        self.seen: list[tuple[uuid.UUID, int]] = []
        self._lock = threading.Lock()

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[Any], now: datetime
    ) -> list[tuple[uuid.UUID, int]]:
        if tenant_id == self.refuse:
            raise RuntimeError("this consumer cannot handle that tenant")
        return [(tenant_id, event["seq"]) for event in events]

    def apply(
        self,
        conn: Connection,
        *,
        tenant_id: uuid.UUID,
        plan: list[tuple[uuid.UUID, int]],
        now: datetime,
    ) -> None:
        return None

    def after_commit(self, plan: list[tuple[uuid.UUID, int]]) -> None:
        with self._lock:
            self.seen.extend(plan)

    def of(self, tenant_id: uuid.UUID) -> list[int]:
        with self._lock:
            return [seq for tenant, seq in self.seen if tenant == tenant_id]


@contextmanager
def fresh_node(
    settings_of: Stack, database_url: str, *consumers: Any
) -> Iterator[tuple[str, FastAPI]]:
    """A Vigil app in this process on ``database_url``, with ``consumers`` registered too."""
    settings = settings_of.settings.model_copy(update={"database_url": database_url})
    engine = build_engine(database_url)
    app = create_app(settings, engine=engine)
    for consumer in consumers:
        app.state.consumers.register(consumer)
    try:
        with live_server(app) as base_url:
            yield base_url, app
    finally:
        engine.dispose()


def fresh_stack(stack: Stack, request: pytest.FixtureRequest, tmp_root: Path) -> Stack:
    """A new, migrated database beside the session's, described as a stack (no server yet)."""
    url = make_database_url(stack.backend, request, tmp_root)
    engine = build_engine(url)
    upgrade_to_head(engine)
    settings = stack.settings.model_copy(update={"database_url": url})
    return Stack(stack.backend, engine, "", settings, stack.inbox)


def numbers_of(stack: Stack, tenant_id: uuid.UUID) -> list[int]:
    """Every ``seq`` the tenant's events hold, in order."""
    with stack.engine.connect() as conn:
        query = select(events_table.c.seq).where(events_table.c.tenant_id == tenant_id)
        return sorted(conn.execute(query).scalars())


def off_hours_alert(tenant: Tenant, subject: str) -> dict[str, Any] | None:
    found = [a for a in listed_alerts(tenant, "off_hours") if a["subject"] == subject]
    return found[0] if found else None


# --- whoever writes it, the rules see it ---


def test_demo_events_raise_their_alerts(tenant: Tenant) -> None:
    run = run_vigil(tenant.stack, "demo", "--tenant", tenant.name)
    assert run.returncode == 0, run.stderr
    stored = list_all(tenant.reader)
    expected: Counter[tuple[str, str]] = Counter()
    for event in stored:
        moment = datetime.fromisoformat(event["timestamp"])
        received = datetime.fromisoformat(event["received_at"])
        who = event["user_email"] or event["user_id"]
        office = moment.weekday() < 5 and 8 <= moment.hour < 20  # the default working hours
        if who and not office and received - moment <= timedelta(hours=24):
            expected[(event["user_email"] or event["user_id"], moment.date().isoformat())] += 1
    assert expected, "a month of demo activity has recent night or weekend work"

    def off_hours_alerts() -> dict[tuple[str, str], int] | None:
        found = {
            (alert["subject"], alert["summary"].split(" on ")[1][:10]): alert["count"]
            for alert in listed_alerts(tenant, "off_hours")
        }
        return found if found == dict(expected) else None

    eventually(off_hours_alerts, what=f"off_hours alerts for {dict(expected)}")


def test_a_cli_write_reaches_the_rules(tenant: Tenant) -> None:
    rule = {
        "name": "settings_changed",
        "filter": {"action": ["UPDATE"], "resource_type": ["SETTINGS"]},
        "threshold": 1,
        "window_minutes": 60,
        "group_by": "none",
        "severity": "MEDIUM",
    }
    assert tenant.admin.post("/security/rules", json=rule).status_code == 201
    run = run_vigil(tenant.stack, "tenant", "allow-ip", "--tenant", tenant.name, "--clear")
    assert run.returncode == 0, run.stderr
    (alert,) = eventually(lambda: listed_alerts(tenant, "settings_changed"), what="an alert")
    evidence = tenant.reader.get(f"/security/alerts/{alert['id']}").json()["evidence"]
    assert [(e["action"], e["resource_type"]) for e in evidence] == [("UPDATE", "SETTINGS")]


def test_an_account_action_reaches_the_rules(tenant: Tenant, anonymous: httpx.Client) -> None:
    # Failed sign-ins are recorded by Vigil itself, in the transaction that counts them.
    email = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    for _ in range(5):
        answer = anonymous.post(
            "/auth/login",
            json={"email": email, "password": "not it", "tenant": tenant.name},
            headers={"X-Forwarded-For": "203.0.113.77"},
        )
        assert answer.status_code == 401
    (alert,) = eventually(lambda: listed_alerts(tenant, "brute_force"), what="an alert")
    assert alert["subject"] == "203.0.113.77"
    assert alert["count"] == 5


# --- exactly once, in order, on several nodes ---


def test_two_nodes_and_eight_writers_each_event_seen_once(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    fresh = fresh_stack(stack, request, tmp_root)
    recorders = [Recorder(), Recorder()]
    per_writer, writers = 40, 8
    with ExitStack() as nodes:
        bases = [
            nodes.enter_context(fresh_node(fresh, fresh.settings.database_url, recorder))[0]
            for recorder in recorders
        ]
        clients: list[httpx.Client] = []
        fresh.base_url = bases[0]
        tenant = new_tenant(fresh, clients)
        key = tenant.writer.headers["Authorization"]
        start = threading.Barrier(writers)
        failures: list[str] = []

        def write(number: int) -> None:
            base = bases[number % 2]
            mine = night_work("night-owl", per_writer, first=number * per_writer)
            start.wait(timeout=30)
            with httpx.Client(base_url=base, headers={"Authorization": key}) as client:
                for index in range(0, per_writer, 4):  # singles and small batches
                    chunk = mine[index : index + 4]
                    if index % 8 == 0:
                        answer = client.post("/audit-logs/batch", json={"events": chunk})
                    else:
                        answers = [client.post("/audit-logs/", json=e) for e in chunk]
                        answer = next((a for a in answers if a.status_code != 201), answers[0])
                    if answer.status_code != 201:
                        failures.append(answer.text)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        total = per_writer * writers
        numbers = numbers_of(fresh, tenant.id)
        assert numbers == list(range(1, total + 1))  # no gaps, no repeats

        eventually(
            lambda: sum(len(r.of(tenant.id)) for r in recorders) >= total,
            what=f"the recorders to reach {total} events",
        )
        seen = recorders[0].of(tenant.id) + recorders[1].of(tenant.id)
        assert sorted(seen) == numbers  # every event once, across both nodes
        for recorder in recorders:  # and each node took its passes in commit order
            assert recorder.of(tenant.id) == sorted(recorder.of(tenant.id))

        # The detection consumer counted each event once: the off-hours count is exact.
        alert = eventually(
            lambda: (
                (a := off_hours_alert(tenant, "night-owl@example.com"))
                and a["count"] >= total
                and a
            ),
            what="the night owl's off-hours alert to count every event",
        )
        control = night_work("control", 1)
        ingest(tenant.writer, control)
        eventually(lambda: off_hours_alert(tenant, "control@example.com"), what="the control")
        assert off_hours_alert(tenant, "night-owl@example.com")["count"] == total  # type: ignore[index]
        assert alert["count"] == total
        for client in clients:
            client.close()
    fresh.engine.dispose()


def test_a_consumer_that_raises_stops_neither_the_others_nor_the_writer(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    fresh = fresh_stack(stack, request, tmp_root)
    clients: list[httpx.Client] = []
    flaky = Recorder(name="flaky")  # fails on one tenant's events, as a buggy consumer would
    with fresh_node(fresh, fresh.settings.database_url, flaky) as (base, _):
        fresh.base_url = base
        broken, healthy = new_tenant(fresh, clients), new_tenant(fresh, clients)
        flaky.refuse = broken.id
        ingest(broken.writer, [failed_login(ATTACKER, f"t{i}@example.com") for i in range(5)])
        ingest(healthy.writer, [make_event(resource_id=f"fine-{i}") for i in range(3)])
        # The writer answered; the rules still run for the tenant the consumer fails on...
        (alert,) = eventually(lambda: listed_alerts(broken, "brute_force"), what="an alert")
        assert alert["count"] == 5
        # ...and the failing consumer itself goes on with the other tenant.
        healthy_numbers = numbers_of(fresh, healthy.id)
        eventually(
            lambda: flaky.of(healthy.id) == healthy_numbers, what="the healthy tenant's events"
        )
        assert flaky.of(broken.id) == []

        def noted_failure() -> dict[str, Any] | None:
            with fresh.engine.connect() as conn:
                row = (
                    conn.execute(
                        select(consumer_cursors).where(
                            consumer_cursors.c.tenant_id == broken.id,
                            consumer_cursors.c.consumer == "flaky",
                        )
                    )
                    .mappings()
                    .first()
                )
            return dict(row) if row and row["failures"] >= 1 else None

        cursor = eventually(noted_failure, what="the failure noted on the cursor")
        assert cursor["position"] == 0  # nothing was skipped: it will be tried again
        assert "cannot handle that tenant" in cursor["last_error"]
    for client in clients:
        client.close()
    fresh.engine.dispose()


@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
def test_a_later_commit_waits_for_the_earlier_numbers(tenant: Tenant) -> None:
    """On PostgreSQL a reader must never see seq n+1 before n: the second transaction to
    number a tenant's events waits until the first has committed."""
    engine = tenant.stack.engine
    event = EventIn.model_validate(make_event(resource_id="first"))
    second_done = threading.Event()
    second_row: dict[str, Any] = {}

    def second() -> None:
        with write_transaction(engine) as conn:
            row, _ = events.record(
                conn,
                tenant_id=tenant.id,
                event=EventIn.model_validate(make_event(resource_id="second")),
                geo=NO_GEOLOCATION,
            )
        second_row.update(row)
        second_done.set()

    with write_transaction(engine) as conn:
        first_row, _ = events.record(conn, tenant_id=tenant.id, event=event, geo=NO_GEOLOCATION)
        thread = threading.Thread(target=second)
        thread.start()

        def second_is_waiting() -> bool:
            with engine.connect() as probe:
                waiting = probe.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND query LIKE '%%event_sequences%%'"
                ).scalar_one()
            return bool(waiting)

        eventually(second_is_waiting, what="the second transaction to wait for the first")
        assert not second_done.is_set()
    thread.join(timeout=30)
    assert second_done.is_set()
    assert second_row["seq"] == first_row["seq"] + 1
    with engine.connect() as conn:
        after = events_after(conn, tenant_id=tenant.id, after_seq=0, limit=10)
    assert [row["resource_id"] for row in after] == ["first", "second"]


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_a_pass_takes_no_event_its_snapshot_cannot_see(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    """On SQLite a pass plans in one read snapshot: events the process committed after that
    snapshot began (already in its recent commits) wait for the next pass, or the rules
    would judge them against windows that cannot see them."""
    fresh = fresh_stack(stack, request, tmp_root)
    with write_transaction(fresh.engine) as conn:
        tenant_id = create_tenant(conn, name="snapshot", retention_days=90)["id"]
        for n in range(3):
            event = EventIn.model_validate(make_event(resource_id=f"seen-{n}"))
            events.record(conn, tenant_id=tenant_id, event=event, geo=NO_GEOLOCATION)
    with fresh.engine.connect() as conn:
        committed = events_after(conn, tenant_id=tenant_id, after_seq=0, limit=10)
    later = [cast(EventRow, {**row, "seq": row["seq"] + 3}) for row in committed[:2]]
    recent = RecentCommits(readers=["recorder"])
    recent.add([*committed, *later])  # 4 and 5 "committed" after the pass's snapshot
    recorder = Recorder()
    ConsumerRunner(fresh.engine, recorder, recent).catch_up()
    assert recorder.of(tenant_id) == [1, 2, 3]
    fresh.engine.dispose()


class SlowWriter(Recorder):
    """A consumer whose writes take half a millisecond an event, holding SQLite's write
    lock meanwhile, as the search index's do in a database of millions of events."""

    batch_limit = 8_000

    def apply(
        self,
        conn: Connection,
        *,
        tenant_id: uuid.UUID,
        plan: list[tuple[uuid.UUID, int]],
        now: datetime,
    ) -> None:
        time.sleep(0.0005 * len(plan))


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_a_consumer_catching_up_keeps_sqlite_s_write_lock_briefly(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    # 8,000 events in one pass would hold the lock 4 s; every write, ingest's or an
    # alert's, would wait that long. Passes shrink to about 0.25 s of writing instead.
    fresh = fresh_stack(stack, request, tmp_root)
    with write_transaction(fresh.engine) as conn:
        tenant_id = create_tenant(conn, name="backlog", retention_days=90)["id"]
        backlog = [EventIn.model_validate(make_event()) for _ in range(8_000)]
        events.record_many(conn, tenant_id=tenant_id, events=backlog, geo=NO_GEOLOCATION)
    slow = SlowWriter()
    catching_up = threading.Thread(target=ConsumerRunner(fresh.engine, slow).catch_up)
    catching_up.start()
    waits = []
    while catching_up.is_alive():
        started = time.monotonic()
        with write_transaction(fresh.engine) as conn:
            event = EventIn.model_validate(make_event(resource_id="meanwhile"))
            events.record(conn, tenant_id=tenant_id, event=event, geo=NO_GEOLOCATION)
        waits.append(time.monotonic() - started)
    catching_up.join()
    assert len(waits) >= 5, waits  # the writer got in between passes, again and again
    assert max(waits) < 1.5, waits
    consumed = slow.of(tenant_id)
    assert consumed[:8_000] == list(range(1, 8_001))
    assert consumed == sorted(set(consumed))
    fresh.engine.dispose()
