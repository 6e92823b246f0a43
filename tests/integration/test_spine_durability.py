"""The spine is durable: a server killed right after a commit leaves nothing undone, and a
database from before the spine keeps its history in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from tests.conftest import Stack
from tests.helpers import eventually
from tests.integration.test_detections import failed_login
from tests.integration.test_spine import night_work
from tests.nodes import Node
from vigil.core.clock import new_id, utcnow
from vigil.db.engine import build_engine, write_transaction
from vigil.db.migrate import upgrade_to, upgrade_to_head
from vigil.detections.tables import alerts
from vigil.events.tables import event_sequences, events
from vigil.notifications.tables import inbox
from vigil.spine.tables import consumer_cursors
from vigil.tenants import service as tenants_service
from vigil.testing.postgres import throwaway_cluster

ADMIN_PASSWORD = "crash-test-admin-password-1"


@contextmanager
def durable_database(backend: str, root: Path) -> Iterator[str]:
    """An empty database of ``backend`` with durable commits (PostgreSQL with fsync on)."""
    if backend == "sqlite":
        yield f"sqlite:///{root / 'durable.db'}"
        return
    with throwaway_cluster(fsync=True) as cluster:
        yield cluster.create_database("vigil_durable")


def detection_position(engine: Engine, tenant_id: uuid.UUID) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(consumer_cursors.c.position).where(
                consumer_cursors.c.tenant_id == tenant_id,
                consumer_cursors.c.consumer == "detections",
            )
        ).scalar_one_or_none()
    return int(found or 0)


def alerts_in(engine: Engine, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(alerts).where(alerts.c.tenant_id == tenant_id)).mappings()
        return [dict(row) for row in rows]


def test_killed_between_commit_and_detection_the_alert_appears_once(
    stack: Stack, tmp_path: Path
) -> None:
    with durable_database(stack.backend, tmp_path) as url:
        node = Node(url, tmp_path, secret_key="d" * 48, admin_password=ADMIN_PASSWORD)
        node.start()
        try:
            key = node.cli(
                "apikey", "create", "--tenant", "Default", "--name", "crash",
                "--scopes", "EVENTS_WRITE,USER_VIEW",
            )  # fmt: skip
            engine = build_engine(url)
            with engine.connect() as conn:
                tenant = tenants_service.get_tenant_by_name(conn, name="Default")
            assert tenant is not None
            reader = httpx.Client(base_url=node.base, headers={"Authorization": f"Bearer {key}"})
            # The kill lands within a millisecond of the answer; detections wait 50 ms for
            # more commits before a pass. Should a pass ever win that race, go again.
            for attempt in range(5):
                address, owl = f"198.51.100.{10 + attempt}", f"crash-owl-{attempt}"
                batch = [failed_login(address, f"v{i}@example.com") for i in range(5)]
                batch += night_work(owl, 3)
                answer = httpx.post(
                    f"{node.base}/audit-logs/batch",
                    json={"events": batch},
                    headers={"Authorization": f"Bearer {key}"},
                )
                node.kill()
                assert answer.status_code == 201, answer.text
                with engine.connect() as conn:
                    last = conn.execute(
                        select(event_sequences.c.last_seq).where(
                            event_sequences.c.tenant_id == tenant["id"]
                        )
                    ).scalar_one()
                if detection_position(engine, tenant["id"]) < last:
                    break  # committed, not yet detected: the case under test
                node.start()
            else:
                pytest.fail("detection always finished before the kill")
            assert not [a for a in alerts_in(engine, tenant["id"]) if a["subject"] == address]

            node.start()  # a new process: it catches up on what the dead one left
            reader = httpx.Client(base_url=node.base, headers={"Authorization": f"Bearer {key}"})

            def raised() -> list[dict[str, Any]] | None:
                found = reader.get("/security/alerts", params={"limit": 100}).json()["items"]
                mine = [a for a in found if a["subject"] in (address, f"{owl}@example.com")]
                return mine if len(mine) == 2 else None

            eventually(raised, what="the brute-force and off-hours alerts", timeout=20)
            # A positive control, later in commit order: once it alerts, everything before
            # it has been evaluated, so the counts below are final.
            control = night_work("control-owl", 1)
            assert (
                httpx.post(
                    f"{node.base}/audit-logs/",
                    json=control[0],
                    headers={"Authorization": f"Bearer {key}"},
                ).status_code
                == 201
            )
            eventually(
                lambda: [
                    a for a in alerts_in(engine, tenant["id"]) if "control-owl" in a["subject"]
                ],
                what="the control's alert",
            )
            found = alerts_in(engine, tenant["id"])
            brute = [a for a in found if a["subject"] == address]
            owl_alerts = [a for a in found if a["subject"] == f"{owl}@example.com"]
            assert [(a["rule"], a["count"]) for a in brute] == [("brute_force", 5)]
            assert [(a["rule"], a["count"]) for a in owl_alerts] == [("off_hours", 3)]
            with engine.connect() as conn:  # the admin was told once, not once per attempt
                told = conn.execute(
                    select(func.count())
                    .select_from(inbox)
                    .where(inbox.c.tenant_id == tenant["id"], inbox.c.alert_id == brute[0]["id"])
                ).scalar_one()
            assert told == 1
            reader.close()
            engine.dispose()
        finally:
            node.stop()


def test_events_from_before_the_spine_keep_their_order_and_are_not_judged_again(
    stack: Stack, tmp_path: Path
) -> None:
    with durable_database(stack.backend, tmp_path) as url:
        engine = build_engine(url)
        upgrade_to(engine, "0008")
        now = utcnow()
        with write_transaction(engine) as conn:
            tenants = [
                tenants_service.create_tenant(conn, name=f"old-{n}", retention_days=90)["id"]
                for n in range(2)
            ]
            # Five failed sign-ins from one address, a brute force the rules judged before
            # the upgrade; stored out of the order Vigil received them in.
            for tenant_id in tenants:
                for minute in (3, 1, 2, 5, 4):
                    conn.execute(
                        events.insert().values(
                            tenant_id=tenant_id,
                            id=new_id(),
                            timestamp=now - timedelta(minutes=10),
                            action="LOGIN_FAILED",
                            resource_type="USER",
                            ip_address="198.51.100.99",
                            details=f'{{"minute": {minute}}}',
                            status="FAILED",
                            received_at=now - timedelta(minutes=10 - minute),
                        )
                    )
        upgrade_to_head(engine)
        with engine.connect() as conn:
            for tenant_id in tenants:
                numbered = conn.execute(
                    select(events.c.seq, events.c.details)
                    .where(events.c.tenant_id == tenant_id)
                    .order_by(events.c.seq)
                ).all()
                assert numbered == [(n, f'{{"minute": {n}}}') for n in range(1, 6)]
            assert dict(conn.execute(select(event_sequences)).all()) == dict.fromkeys(tenants, 5)
        node = Node(url, tmp_path, secret_key="d" * 48, admin_password=ADMIN_PASSWORD)
        node.start()
        try:
            key = node.cli(
                "apikey", "create", "--tenant", "old-0", "--name", "k",
                "--scopes", "EVENTS_WRITE,USER_VIEW",
            )  # fmt: skip
            control = night_work("new-owl", 1)[0]
            answer = httpx.post(
                f"{node.base}/audit-logs/", json=control, headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 201
            assert answer.json()["id"]
            eventually(
                lambda: [a for a in alerts_in(engine, tenants[0]) if a["rule"] == "off_hours"],
                what="the new event's off-hours alert",
            )
            # Everything before the control has been judged by now: the old brute force
            # raised nothing again, and the new event was numbered after the old ones.
            assert [a["rule"] for a in alerts_in(engine, tenants[0])] == ["off_hours"]
            with engine.connect() as conn:
                newest = conn.execute(
                    select(func.max(events.c.seq)).where(events.c.tenant_id == tenants[0])
                ).scalar_one()
            assert newest == 7  # 5 old, the key's creation, the control
            assert detection_position(engine, tenants[0]) == 7
        finally:
            node.stop()
            engine.dispose()
