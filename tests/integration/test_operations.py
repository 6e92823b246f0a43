"""Running Vigil: metrics for Prometheus, request ids, JSON request logs, liveness and
readiness probes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from tests.conftest import Stack, Tenant, new_tenant
from tests.helpers import eventually, ingest, make_event
from tests.integration.test_detections import ATTACKER, failed_login
from tests.integration.test_notifications import SlackReceiver, configure
from tests.integration.test_spine import Recorder, fresh_node, fresh_stack
from tests.nodes import Node
from tests.secret_scan import secrets_in
from vigil.accounts import service as accounts
from vigil.app import create_app
from vigil.core.permissions import Permission
from vigil.db.engine import build_engine, write_transaction
from vigil.db.migrate import MIGRATION_LOCK_KEY, alembic_config, upgrade_to_head
from vigil.testing.postgres import throwaway_cluster
from vigil.testing.server import live_server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def key_with(stack: Stack, tenant: Tenant, *scopes: Permission) -> httpx.Client:
    """A client holding a new key of ``tenant`` with exactly ``scopes``."""
    with write_transaction(stack.engine) as conn:
        key, _row = accounts.create_api_key(
            conn, tenant_id=tenant.id, name="prometheus", scopes=frozenset(scopes)
        )
    return httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


@pytest.fixture
def prometheus(stack: Stack, tenant: Tenant) -> Iterator[httpx.Client]:
    """What Prometheus holds: a key with METRICS_READ alone."""
    with key_with(stack, tenant, Permission.METRICS_READ) as client:
        yield client


def scrape(client: httpx.Client) -> Samples:
    """Every sample of ``GET /metrics``, by name and labels."""
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- /metrics ---


def test_metrics_answer_only_a_credential_with_metrics_read(
    stack: Stack, tenant: Tenant, anonymous: httpx.Client, prometheus: httpx.Client
) -> None:
    assert anonymous.get("/metrics").status_code == 401
    refused = tenant.reader.get("/metrics")  # USER_VIEW reads activity, not metrics
    assert refused.status_code == 403
    assert "METRICS_READ" in refused.json()["detail"]
    with key_with(stack, tenant, Permission.EVENTS_WRITE) as writer:
        assert writer.get("/metrics").status_code == 403
    assert "vigil_http_requests_total" in prometheus.get("/metrics").text


def test_requests_and_ingest_are_counted_by_route_template(
    tenant: Tenant, prometheus: httpx.Client
) -> None:
    before = scrape(prometheus)
    for i in range(3):
        answer = tenant.writer.post("/audit-logs/", json=make_event(resource_id=f"m-{i}"))
        assert answer.status_code == 201, answer.text
    ingest(tenant.writer, [make_event(resource_id=f"b-{i}") for i in range(5)])
    unknown = str(uuid.uuid4())
    assert tenant.admin.get(f"/users/{unknown}").status_code == 404
    stray = f"/no-such-page-{uuid.uuid4().hex}"
    assert tenant.reader.get(stray).status_code == 404
    after = scrape(prometheus)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    single = {"method": "POST", "route": "/audit-logs/", "status": "201"}
    assert grew("vigil_http_requests_total", **single) == 3
    batch = {"method": "POST", "route": "/audit-logs/batch", "status": "201"}
    assert grew("vigil_http_requests_total", **batch) == 1
    one_user = {"method": "GET", "route": "/users/{user_id}", "status": "404"}
    assert grew("vigil_http_requests_total", **one_user) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert grew("vigil_http_requests_total", **unmatched) == 1
    timed = {"method": "POST", "route": "/audit-logs/"}
    assert grew("vigil_http_request_duration_seconds_count", **timed) == 3
    assert grew("vigil_http_request_duration_seconds_sum", **timed) > 0
    # Routes by template: no raw path reaches a label.
    labels = {v for _name, pairs in after for _k, v in pairs}
    assert unknown not in str(labels)
    assert stray not in labels
    # Eight events in (at least) one commit each of the four requests' transactions.
    assert grew("vigil_events_ingested_total") >= 8
    assert grew("vigil_writer_commit_events_sum") >= 8
    assert 1 <= grew("vigil_writer_commit_events_count") <= 4
    assert value(after, "vigil_writer_queue_depth") >= 0
    assert ("vigil_export_streams", frozenset()) in after


def test_outbox_backlog_and_failures_follow_a_failing_delivery(
    tenant: Tenant, prometheus: httpx.Client
) -> None:
    slack = SlackReceiver(failures=1)
    try:
        before = scrape(prometheus)
        configure(tenant, slack_url=slack.url)
        ingest(tenant.writer, [failed_login(ATTACKER, f"o{i}@example.com") for i in range(5)])
        # The first attempt fails (500): the message waits, marked as failing.
        eventually(
            lambda: scrape(prometheus),
            lambda now: (
                value(now, "vigil_outbox_failing", channel="slack")
                > value(before, "vigil_outbox_failing", channel="slack")
            ),
            what="the failed Slack delivery counted",
            timeout=15,
        )
        # The retry succeeds: backlog and failures are back where they were.
        slack.wait_for(1, timeout=20)
        eventually(
            lambda: scrape(prometheus),
            lambda now: all(
                value(now, name, channel="slack") == value(before, name, channel="slack")
                for name in ("vigil_outbox_pending", "vigil_outbox_failing")
            ),
            what="the Slack backlog drained",
        )
    finally:
        slack.close()


def test_consumer_lag_shows_events_a_failing_consumer_has_not_handled(
    stack: Stack, request: pytest.FixtureRequest, tmp_root: Path
) -> None:
    fresh = fresh_stack(stack, request, tmp_root)
    clients: list[httpx.Client] = []
    stuck = Recorder(name="stuck")
    try:
        with fresh_node(fresh, fresh.settings.database_url, stuck) as (base, _app):
            fresh.base_url = base
            broken, healthy = new_tenant(fresh, clients), new_tenant(fresh, clients)
            stuck.refuse = broken.id
            ingest(broken.writer, [make_event(resource_id=f"x-{i}") for i in range(5)])
            ingest(healthy.writer, [make_event(resource_id=f"y-{i}") for i in range(3)])
            lagging = eventually(
                lambda: scrape(healthy.admin),
                lambda now: (
                    value(now, "vigil_consumer_failing_tenants", consumer="stuck") == 1
                    and value(now, "vigil_consumer_lag_events", consumer="detections") == 0
                ),
                what="the stuck consumer's failure and the detections caught up",
            )
            # The healthy tenant's three events were handled; the broken one's five were not.
            assert value(lagging, "vigil_consumer_lag_events", consumer="stuck") == 5
            stuck.refuse = None  # fixed: the next retry catches up
            eventually(
                lambda: scrape(healthy.admin),
                lambda now: (
                    value(now, "vigil_consumer_lag_events", consumer="stuck") == 0
                    and value(now, "vigil_consumer_failing_tenants", consumer="stuck") == 0
                ),
                what="the stuck consumer to catch up",
                timeout=30,
            )
    finally:
        for client in clients:
            client.close()
        fresh.engine.dispose()


# --- request ids ---

REQUEST_ID = re.compile(r"[A-Za-z0-9.:+/=-]{1,64}")


def test_a_request_id_is_echoed_or_made(tenant: Tenant, anonymous: httpx.Client) -> None:
    made = anonymous.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert anonymous.get("/healthz").headers["x-request-id"] != made
    given = anonymous.get("/healthz", headers={"X-Request-ID": "trace-4bf92f3577b3.1"})
    assert given.headers["x-request-id"] == "trace-4bf92f3577b3.1"
    # The fast path's answers carry it too.
    posted = tenant.writer.post("/audit-logs/", json=make_event(), headers={"X-Request-ID": "p-1"})
    assert posted.headers["x-request-id"] == "p-1"


def test_a_hostile_request_id_is_cut_and_cleaned(anonymous: httpx.Client) -> None:
    hostile = '<script>alert("x")</script>; vk_' + "A" * 40 + " " + "z" * 5000
    echoed = anonymous.get("/healthz", headers={"X-Request-ID": hostile}).headers["x-request-id"]
    assert REQUEST_ID.fullmatch(echoed), echoed
    assert echoed.startswith("scriptalertx/scriptvkAAAA")
    assert len(echoed) == 64
    nothing_left = anonymous.get("/healthz", headers={"X-Request-ID": "<>;_\"'"})
    assert re.fullmatch(r"[0-9a-f]{32}", nothing_left.headers["x-request-id"])


def test_events_vigil_records_carry_the_request_id(tenant: Tenant) -> None:
    email = f"rid-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "name": "Rid", "role": "DEVELOPER", "password": "hunter2hunter2"}
    created = tenant.admin.post("/users", json=body, headers={"X-Request-ID": "create-7f3a"})
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == "create-7f3a"
    login = {"email": email, "password": "hunter2hunter2"}
    with httpx.Client(base_url=tenant.stack.base_url) as client:
        signed_in = client.post("/auth/login", json=login, headers={"X-Request-ID": "login-7f3a"})
    assert signed_in.status_code == 200, signed_in.text
    user_id = created.json()["id"]
    found = tenant.reader.get("/audit-logs/", params={"resource_id": user_id}).json()["items"]
    by_action = {event["action"]: event["details"] for event in found}
    assert by_action["CREATE"]["request_id"] == "create-7f3a"
    assert by_action["LOGIN"]["request_id"] == "login-7f3a"
    # A producer's own events are stored as sent: Vigil adds nothing to them.
    mine = tenant.writer.post("/audit-logs/", json=make_event(details={"a": 1}))
    assert mine.json()["details"] == {"a": 1}


# --- JSON logs from vigil serve ---


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # the log is the same on both
def test_vigil_serve_logs_one_json_line_per_request(stack: Stack, tmp_path: Path) -> None:
    password = "correct horse battery"
    log_path = tmp_path / "vigil.log"
    node = Node(
        f"sqlite:///{tmp_path / 'serve.db'}",
        tmp_path,
        secret_key="s" * 48,
        admin_password=password,
        log_path=log_path,
    )
    node.env["VIGIL_LOG_LEVEL"] = "info"
    node.start()
    try:
        login = {"email": "admin@example.com", "password": password}
        with httpx.Client(base_url=node.base, timeout=30) as client:
            answer = client.post("/auth/login", json=login, headers={"X-Request-ID": "login-1"})
            assert answer.status_code == 200, answer.text
            token = answer.json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            users = client.get("/users/" + str(uuid.uuid4()), params={"token": "vk_" + "Q" * 43})
            assert users.status_code == 404
            probe = client.get("/readyz")

        def access_lines() -> list[dict[str, Any]]:
            lines = [json.loads(line) for line in log_path.read_text().splitlines() if line]
            return [line for line in lines if line["logger"] == "vigil.access"]

        logged = eventually(
            access_lines,
            lambda found: any(line.get("route") == "/readyz" for line in found),
            what="the probe's log line",
        )
        (signed_in,) = [line for line in logged if line["request_id"] == "login-1"]
        assert signed_in["method"] == "POST"
        assert signed_in["route"] == "/auth/login"
        assert signed_in["path"] == "/auth/login"
        assert signed_in["status"] == 200
        assert signed_in["level"] == "INFO"
        assert isinstance(signed_in["duration_ms"], float)
        assert signed_in["duration_ms"] > 0
        assert "time" in signed_in
        (looked_up,) = [line for line in logged if line["route"] == "/users/{user_id}"]
        assert looked_up["status"] == 404
        assert looked_up["request_id"] == users.headers["x-request-id"]
        (probed,) = [line for line in logged if line["route"] == "/readyz"]
        assert probed["request_id"] == probe.headers["x-request-id"]
        # No credential, password or query string in the log, whatever the requests held.
        log_text = log_path.read_text()
        assert secrets_in(log_text, [password, token]) == []
        assert "QQQQ" not in log_text
    finally:
        node.stop()


# --- probes ---


def stamp(engine: Any, revision: str) -> None:
    """Record ``revision`` as the schema's, as a migration's last step does."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.stamp(config, revision)


def test_readyz_fails_while_migrations_are_due_or_running(
    stack: Stack, anonymous: httpx.Client
) -> None:
    assert anonymous.get("/readyz").json() == {"status": "ok", "database": "ok"}
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    try:
        stamp(stack.engine, previous)  # as if this version's last migration had not run
        pending = anonymous.get("/readyz")
        assert pending.status_code == 503
        assert pending.json() == {"status": "unavailable", "database": "not migrated"}
        assert anonymous.get("/healthz").status_code == 200
        if stack.backend == "postgresql":
            # Another node migrating: it holds the migration lock until it commits.
            config = alembic_config()
            with stack.engine.connect() as conn, conn.begin():
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = conn
                command.stamp(config, "head")
                running = anonymous.get("/readyz")
                assert running.status_code == 503
                assert running.json()["database"] == "migrating"
                assert anonymous.get("/healthz").status_code == 200
    finally:
        stamp(stack.engine, "head")  # the schema itself was at head all along
    assert anonymous.get("/readyz").status_code == 200


@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
def test_readyz_fails_while_the_database_is_down_and_healthz_does_not(stack: Stack) -> None:
    with throwaway_cluster() as cluster:
        url = cluster.create_database("vigil_probe")
        engine = build_engine(url)
        upgrade_to_head(engine)
        settings = stack.settings.model_copy(update={"database_url": url})
        pg_ctl = [str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-w"]
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        try:
            with live_server(create_app(settings, engine=engine)) as base:
                assert httpx.get(f"{base}/readyz").status_code == 200
                subprocess.run(
                    [*as_postgres, *pg_ctl, "-m", "fast", "stop"], check=True, timeout=60
                )
                down = httpx.get(f"{base}/readyz", timeout=30)
                assert down.status_code == 503
                assert down.json() == {"status": "unavailable", "database": "unreachable"}
                assert httpx.get(f"{base}/healthz").status_code == 200
                # Back up (with the options it ran with): ready again.
                log = str(cluster.data_dir.parent / "postgres.log")
                subprocess.run(
                    [*as_postgres, *pg_ctl, "-l", log, "restart"],
                    check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
                )  # fmt: skip
                eventually(
                    lambda: httpx.get(f"{base}/readyz", timeout=30).status_code == 200,
                    what="readiness once the database is back",
                    timeout=30,
                )
        finally:
            engine.dispose()
