"""Two Vigil processes on one PostgreSQL, hit by the same attack at once, open one alert."""

from __future__ import annotations

import threading
import uuid
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import eventually
from tests.integration.test_detections import (
    ATTACKER,
    control_event,
    failed_login,
    listed_alerts,
)
from tests.nodes import running_node

pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)


def node(tenant: Tenant, workdir: Path) -> AbstractContextManager[str]:
    """``vigil serve`` in a process of its own, on the tenant's database."""
    settings = tenant.stack.settings
    return running_node(settings.database_url, workdir, secret_key=settings.secret_key)


def test_two_nodes_receiving_one_attack_open_one_alert(tenant: Tenant, tmp_path: Path) -> None:
    key = tenant.writer.headers["Authorization"]
    with ExitStack() as stack:
        nodes = [stack.enter_context(node(tenant, tmp_path / name)) for name in ("a", "b")]
        start = threading.Barrier(len(nodes) * 5)

        def attack(base: str, attempt: int) -> None:
            event = failed_login(ATTACKER, f"target{attempt}@example.com")
            start.wait(timeout=30)
            answer = httpx.post(f"{base}/audit-logs/", json=event, headers={"Authorization": key})
            assert answer.status_code == 201, answer.text

        threads = [
            threading.Thread(target=attack, args=(base, attempt))
            for base in nodes
            for attempt in range(5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        eventually(
            lambda: listed_alerts(tenant, "brute_force"),
            lambda found: sum(alert["count"] for alert in found) >= 10,
            what="brute_force alerts counting all ten failures",
        )
        # A positive control through each node: a node evaluates the events it commits in
        # commit order, so once both controls have raised their alerts, neither node has
        # anything of the attack left to evaluate (or a second alert to open).
        controls = {base: f"control-{uuid.uuid4().hex[:8]}" for base in nodes}
        for base, subject in controls.items():
            event = control_event(subject)
            answer = httpx.post(f"{base}/audit-logs/", json=event, headers={"Authorization": key})
            assert answer.status_code == 201, answer.text
        eventually(
            lambda: {a["subject"] for a in listed_alerts(tenant, "privilege_escalation")},
            lambda subjects: subjects >= set(controls.values()),
            what=f"the control alerts of both nodes ({', '.join(controls.values())})",
        )
        found = listed_alerts(tenant, "brute_force")
    assert len(found) == 1
    assert found[0]["count"] == 10
