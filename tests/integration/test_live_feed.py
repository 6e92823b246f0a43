"""The live feed (``GET /audit-logs/stream``): every matching event as it commits, resumable
with ``Last-Event-ID`` with nothing skipped or repeated, each tenant its own, a slow
reader reset without holding up a fast one, a revoked key's stream closed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from httpx_sse import EventSource

from tests.conftest import Stack, Tenant, TenantFactory
from tests.helpers import eventually, ingest, make_event
from tests.integration.test_detections import ATTACKER, failed_login
from tests.integration.test_notifications import session
from tests.integration.test_search_index import PURGE
from tests.integration.test_sign_in import make_user
from vigil.app import create_app
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction
from vigil.jobs import run_job_once
from vigil.tenants.service import change_tenant_settings
from vigil.testing.server import live_server


@dataclass
class Received:
    """What one stream delivered, read by a thread of its own."""

    events: list[tuple[str, str, Any]] = field(default_factory=list)  # (event, id, data)
    headers: httpx.Headers | None = None
    retry: int | None = None
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, kind: str) -> list[tuple[str, Any]]:
        with self.lock:
            return [(ident, data) for event, ident, data in self.events if event == kind]

    def ids(self) -> list[str]:
        return [data["id"] for _, data in self.of("activity")]


@contextmanager
def streaming(
    client: httpx.Client, *, params: dict[str, Any] | None = None, last_id: str | None = None
) -> Iterator[Received]:
    """Read ``GET /audit-logs/stream`` in a thread until the block ends."""
    received = Received()
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    opened = threading.Event()
    responses: list[httpx.Response] = []

    def read() -> None:
        try:
            with client.stream(
                "GET", "/audit-logs/stream", params=params or {}, headers=headers, timeout=60
            ) as response:
                responses.append(response)
                received.headers = response.headers
                opened.set()
                for sse in EventSource(response).iter_sse():
                    if sse.retry is not None:
                        received.retry = sse.retry
                    if sse.event in ("activity", "reset", "alert", "notification"):
                        with received.lock:
                            received.events.append((sse.event, sse.id, orjson.loads(sse.data)))
        except Exception:  # closed under it when the block ends  # noqa: S110
            pass
        finally:
            received.closed = True
            opened.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(10), "the stream did not open"
    try:
        yield received
    finally:
        for response in responses:
            response.close()
        reader.join(timeout=5)


def one(**fields: Any) -> dict[str, Any]:
    return make_event(**fields)


def test_an_event_reaches_a_subscriber_as_the_list_shows_it(tenant: Tenant) -> None:
    with streaming(tenant.reader) as received:
        assert received.headers is not None
        assert received.headers["content-type"].startswith("text/event-stream")
        assert received.headers["cache-control"] == "no-cache"
        assert received.headers["x-accel-buffering"] == "no"
        sent = time.monotonic()
        [event_id] = ingest(tenant.writer, [one(action="DELETE", resource_id="live-1")])
        found = eventually(received.ids, lambda ids: event_id in ids, what="the event, live")
        assert time.monotonic() - sent < 1.0
        listed = tenant.reader.get(f"/audit-logs/{event_id}").json()
        [(ident, data)] = received.of("activity")
        assert data == listed
        assert found == [event_id]
        assert received.retry == 3000
        assert ident.isdigit()


def test_filters_and_tenants_decide_what_a_stream_gets(tenant_factory: TenantFactory) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    params = {"action": "DELETE", "q": "resource:MODEL -user:bot"}
    with streaming(mine.reader, params=params) as received:
        ingest(theirs.writer, [one(action="DELETE", resource_type="MODEL")])  # another tenant
        ingest(mine.writer, [one(action="UPDATE", resource_type="MODEL")])  # another action
        ingest(mine.writer, [one(action="DELETE", resource_type="MODEL", user_id="bot")])
        ingest(mine.writer, [one(action="DELETE", resource_type="PROJECT")])
        # The positive control, sent after the ones that must not arrive.
        [wanted] = ingest(mine.writer, [one(action="DELETE", resource_type="MODEL")])
        eventually(received.ids, lambda ids: wanted in ids, what="the matching event")
        assert received.ids() == [wanted]


def test_a_reconnect_with_last_event_id_misses_nothing_and_repeats_nothing(
    tenant: Tenant,
) -> None:
    sent: list[str] = []
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set() and n < 400:
            sent.extend(ingest(tenant.writer, [one(resource_id=f"r-{n + k}") for k in range(5)]))
            n += 5

    writer = threading.Thread(target=keep_writing, daemon=True)
    with streaming(tenant.reader) as first:
        writer.start()
        eventually(first.ids, lambda ids: len(ids) >= 40, what="a first part of the events")
    [last_id, *_] = [ident for ident, _ in first.of("activity")][-1:]
    got = first.ids()
    with streaming(tenant.reader, last_id=last_id) as second:
        writer.join(timeout=60)
        stop.set()
        assert len(sent) == 400
        eventually(
            lambda: got + second.ids(),
            lambda ids: len(ids) >= len(sent),
            what="every event, across the reconnect",
            timeout=20,
        )
        assert got + second.ids() == sent


def test_a_cursor_before_retention_gets_a_reset_then_the_oldest_kept(tenant: Tenant) -> None:
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    ingest(tenant.writer, [one(resource_id="old", timestamp=old) for _ in range(3)])
    kept = ingest(tenant.writer, [one(resource_id="kept") for _ in range(2)])
    with streaming(tenant.reader, last_id="0") as received:
        eventually(received.ids, lambda ids: len(ids) == 5, what="the replay from the start")
    assert received.of("reset") == []  # nothing purged yet
    with write_transaction(tenant.stack.engine) as conn:
        change_tenant_settings(conn, tenant_id=tenant.id, retention_days=30)
    run_job_once(tenant.stack.engine, PURGE)
    with streaming(tenant.reader, last_id="1") as received:
        eventually(received.ids, lambda ids: len(ids) == 2, what="the events kept")
        [(ident, reset)] = received.of("reset")
        assert (reset["reason"], reset["resume_after"], ident) == ("expired_cursor", 3, "3")
        assert received.ids() == kept
    # A cursor still within what is kept replays without a reset.
    with streaming(tenant.reader, last_id="4") as received:
        eventually(received.ids, lambda ids: ids == kept[1:], what="the last event")
        assert received.of("reset") == []


def test_bad_cursors_and_too_many_streams_are_refused(tenant: Tenant) -> None:
    bad = tenant.reader.get("/audit-logs/stream", params={"after": "yesterday"})
    assert bad.status_code == 422
    assert "after" in bad.json()["detail"]
    bad = tenant.reader.get("/audit-logs/stream", params={"action": "EXPLODE"})
    assert bad.status_code == 422
    assert tenant.writer.get("/audit-logs/stream").status_code == 403


def test_a_revoked_key_s_stream_is_closed(tenant: Tenant) -> None:
    made = tenant.admin.post("/api-keys", json={"name": "live", "scopes": ["USER_VIEW"]}).json()
    with (
        httpx.Client(
            base_url=tenant.stack.base_url, headers={"Authorization": f"Bearer {made['key']}"}
        ) as client,
        streaming(client) as received,
    ):
        [first] = ingest(tenant.writer, [one()])
        eventually(received.ids, lambda ids: first in ids, what="an event before")
        revoked_at = time.monotonic()
        assert tenant.admin.delete(f"/api-keys/{made['id']}").status_code in (200, 204)
        eventually(lambda: received.closed, what="the stream to close", timeout=8)
        assert time.monotonic() - revoked_at <= 5.5
        assert [data["reason"] for _, data in received.of("reset")] == ["revoked"]


def test_a_slow_reader_is_reset_while_a_fast_one_keeps_up(stack: Stack, tenant: Tenant) -> None:
    if stack.backend != "sqlite":
        # The queues and their reset are the hub's, in memory, whatever the database; the
        # hub's reading on PostgreSQL is what the other node's test covers.
        pytest.skip("the same in-memory queues on both databases; once is enough")
    # A node whose streams may fall 3,000 events behind (three batches); 10,000 events of
    # 4 KB fill the stalled stream's socket buffers (some MB on loopback), then its queue.
    # The fast reader is a process of its own: it waits on nothing of this one's.
    small = create_app(stack.settings.model_copy(update={"live_queue_events": 3_000}))
    token = tenant.reader.headers["authorization"].removeprefix("Bearer ")
    with (
        live_server(small) as node_url,
        httpx.Client(base_url=node_url, headers=tenant.reader.headers) as slow,
        slow.stream("GET", "/audit-logs/stream", timeout=60) as stalled,
        subprocess.Popen(
            [sys.executable, "-m", "tests.sse_reader", f"{node_url}/audit-logs/stream", token,
             "10000"],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        ) as quick,
    ):  # fmt: skip
        assert quick.stdout is not None
        assert orjson.loads(quick.stdout.readline()) == {"ready": True}
        big = "x" * 4_000
        fast: list[dict[str, Any]] = []
        ids: list[str] = []
        for batch in range(10):  # each batch once the fast reader has the one before
            events = [one(details={"blob": big, "n": n}) for n in range(1_000)]
            ids += ingest(tenant.writer, events)
            while len(fast) < len(ids) and (line := quick.stdout.readline()):
                fast.append(orjson.loads(line))
                assert fast[-1]["event"] == "activity", f"the fast reader was reset: {batch=}"
        assert [item["event_id"] for item in fast] == ids  # all, in order, once each
        # Only now read what the stalled stream was sent: its end is a reset.
        kinds = []
        for sse in EventSource(stalled).iter_sse():
            kinds.append(sse.event)
            if sse.event == "reset":
                assert orjson.loads(sse.data)["reason"] == "behind"
                break
            assert kinds.count("activity") < 10_000, "the stalled stream was never reset"
        assert kinds[-1] == "reset"


def test_a_subscriber_on_another_node_gets_what_this_one_wrote(
    stack: Stack, tenant: Tenant
) -> None:
    if stack.backend != "postgresql":
        pytest.skip("one node per SQLite file")
    other = create_app(stack.settings)
    with live_server(other) as other_url:
        key = tenant.reader.headers["authorization"]
        with (
            httpx.Client(base_url=other_url, headers={"Authorization": key}) as client,
            streaming(client) as received,
        ):
            written = ingest(tenant.writer, [one(resource_id=f"n-{k}") for k in range(20)])
            eventually(received.ids, lambda ids: len(ids) == 20, what="the other node's")
            assert received.ids() == written


def test_a_credential_past_its_streams_is_answered_429(tenant: Tenant) -> None:
    limit = tenant.stack.settings.live_max_per_credential
    opened = [streaming(tenant.reader) for _ in range(limit)]
    for stream in opened:
        stream.__enter__()
    try:
        refused = tenant.reader.get("/audit-logs/stream")
        assert refused.status_code == 429
        assert "VIGIL_LIVE_MAX_PER_CREDENTIAL" in refused.json()["detail"]
    finally:
        for stream in opened:
            stream.__exit__(None, None, None)
    # Each closed stream gave its place back.

    def a_new_stream() -> int:
        with tenant.reader.stream("GET", "/audit-logs/stream") as response:
            return response.status_code

    eventually(a_new_stream, lambda status: status == 200, what="a stream to open again")


def test_an_alert_and_a_person_s_notification_reach_their_streams(tenant: Tenant) -> None:
    viewer = make_user(tenant, role=Role.ADMIN)
    with (
        closing(session(tenant, viewer)) as signed_in,
        streaming(signed_in) as theirs,
        streaming(tenant.reader, params={"alerts": "false"}) as quiet,
    ):
        ingest(tenant.writer, [failed_login(ATTACKER, f"a{i}@example.com") for i in range(5)])
        # Only the brute force's: after working hours the sign-ins raise off_hours too.
        [(_, alert)] = eventually(
            lambda: [a for a in theirs.of("alert") if a[1]["rule"] == "brute_force"],
            what="the alert, live",
        )
        assert (alert["rule"], alert["change"], alert["severity"]) == (
            "brute_force",
            "opened",
            "HIGH",
        )
        assert alert["url"] == f"/ui/security/alerts/{alert['id']}"
        [(_, notice)] = eventually(
            lambda: [n for n in theirs.of("notification") if n[1]["alert_id"] == alert["id"]],
            what="the notification",
        )
        assert notice["alert_id"] == alert["id"]
        assert notice["title"].startswith("[HIGH] brute_force: 5 failed logins")
        # A stream that asked for no alerts, and an API key's (no inbox), get neither: the
        # control is an event sent after the alert was already out.
        [control_id] = ingest(tenant.writer, [one(resource_id="after-the-alert")])
        eventually(quiet.ids, lambda ids: control_id in ids, what="the control event")
        assert quiet.of("alert") == []
        assert quiet.of("notification") == []
