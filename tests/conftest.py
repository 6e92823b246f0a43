"""Shared fixtures: a real database of each kind, a live Vigil server on it, fresh tenants.

Each backend is set up once per session; every test works in tenants of its own, so tests
never see each other's events (which is itself the tenant isolation Vigil promises). When
the session's servers have stopped, the secret scan reads every stored event and the log.
"""

from __future__ import annotations

import email
import email.policy
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from tests.helpers import eventually
from tests.secret_scan import SecretScan
from vigil.accounts import service as accounts
from vigil.app import create_app
from vigil.core.permissions import Permission
from vigil.db.engine import build_engine, write_transaction
from vigil.db.migrate import upgrade_to_head
from vigil.settings import Settings
from vigil.tenants import service as tenants
from vigil.testing.postgres import Cluster, free_port, throwaway_cluster
from vigil.testing.server import live_server

BACKENDS = ("sqlite", "postgresql")


SCAN_SUMMARY = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def no_secrets_leaked(request: pytest.FixtureRequest) -> Iterator[SecretScan]:
    """Collects the log output of the whole run, tracebacks included, and each backend's scan
    of its stored events (see ``stack``); once every server has stopped, scans the log and
    fails the run if a secret was found anywhere, or if a scan could not have found one."""
    scan = SecretScan()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(scan.log)
    root.setLevel(logging.DEBUG)
    yield scan
    root.removeHandler(scan.log)
    root.setLevel(previous)
    scan.scan_log()
    request.config.stash[SCAN_SUMMARY] = scan.summary
    scan.verdict()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """What the secret scan read, so that a scan of nothing cannot go unnoticed."""
    for line in config.stash.get(SCAN_SUMMARY, []):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole run."""
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    """A scratch directory for the session's SQLite files and secrets."""
    with tempfile.TemporaryDirectory(prefix="vigil-tests-") as root:
        yield Path(root)


def make_database_url(backend: str, request: pytest.FixtureRequest, tmp_root: Path) -> str:
    """A new, empty database of ``backend``."""
    name = f"vigil_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        return f"sqlite:///{tmp_root / name}.db"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(name)


@dataclass
class Stack:
    """A migrated database and a live server on it."""

    backend: str
    engine: Engine
    base_url: str
    settings: Settings
    inbox: Inbox


class Inbox:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages received for ``address`` so far."""
        with self._lock:
            return [m for rcpt, m in self.messages if address in rcpt]

    def wait_for(self, address: str, *, timeout: float = 15.0) -> EmailMessage:
        """The first message for ``address``, waiting for it to arrive."""
        found = eventually(lambda: self.to(address), what=f"an email to {address}", timeout=timeout)
        return found[0]


@pytest.fixture(scope="session")
def inbox() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server for the whole run, and its port."""
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest,
    tmp_root: Path,
    inbox: tuple[Inbox, int],
    no_secrets_leaked: SecretScan,
) -> Iterator[Stack]:
    """A Vigil server on a fresh database, once per backend for the session; when it stops,
    after every test that used it, its stored events go through the secret scan."""
    backend = request.param
    url = make_database_url(backend, request, tmp_root)
    engine = build_engine(url)
    upgrade_to_head(engine)
    # Loopback is the trusted proxy, so a test can speak for a client address of its own
    # through X-Forwarded-For (sign-in throttling counts per address).
    settings = Settings(
        database_url=url,
        data_dir=tmp_root,
        secret_key="t" * 48,
        trusted_proxies="127.0.0.1/32",
        public_url="http://vigil.test",
        smtp_host="127.0.0.1",
        smtp_port=inbox[1],
        smtp_starttls=False,
        smtp_from="vigil@vigil.test",
        slack_webhook_hosts="127.0.0.1,hooks.slack.com",  # the tests' receiver is on loopback
    )
    app = create_app(settings, engine=engine)
    with live_server(app) as base_url:
        made = Stack(
            backend=backend, engine=engine, base_url=base_url, settings=settings, inbox=inbox[0]
        )
        yield made
        clients: list[httpx.Client] = []
        try:
            canary = no_secrets_leaked.plant_canary(new_tenant(made, clients).admin)
        finally:
            for client in clients:
                client.close()
    try:
        no_secrets_leaked.scan_events(engine, backend=backend, canary=canary)
    finally:
        engine.dispose()


@dataclass
class Tenant:
    """A fresh tenant with a client per kind of key."""

    id: uuid.UUID
    name: str
    writer: httpx.Client  # EVENTS_WRITE
    reader: httpx.Client  # USER_VIEW
    admin: httpx.Client  # every permission
    stack: Stack


def new_tenant(stack: Stack, clients: list[httpx.Client]) -> Tenant:
    """Create a tenant and keys in it; clients are closed by the caller's fixture."""
    name = f"tenant-{uuid.uuid4().hex[:10]}"
    with write_transaction(stack.engine) as conn:
        row = tenants.create_tenant(conn, name=name, retention_days=90)
        keys = {
            label: accounts.create_api_key(conn, tenant_id=row["id"], name=label, scopes=scopes)[0]
            for label, scopes in (
                ("writer", frozenset({Permission.EVENTS_WRITE})),
                ("reader", frozenset({Permission.USER_VIEW})),
                ("admin", frozenset(Permission)),
            )
        }

    def client(key: str) -> httpx.Client:
        made = httpx.Client(
            base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        clients.append(made)
        return made

    return Tenant(
        id=row["id"],
        name=name,
        writer=client(keys["writer"]),
        reader=client(keys["reader"]),
        admin=client(keys["admin"]),
        stack=stack,
    )


TenantFactory = Callable[[], Tenant]


@pytest.fixture
def tenant_factory(stack: Stack) -> Iterator[TenantFactory]:
    """Make as many fresh tenants as a test needs."""
    clients: list[httpx.Client] = []
    yield lambda: new_tenant(stack, clients)
    for made in clients:
        made.close()


@pytest.fixture
def tenant(tenant_factory: TenantFactory) -> Tenant:
    """A fresh tenant on the current backend."""
    return tenant_factory()


@pytest.fixture
def anonymous(stack: Stack) -> Iterator[httpx.Client]:
    """A client with no credential."""
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        yield client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by folder, so ``-m unit`` or ``-m integration`` select them."""
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in ("unit", "integration", "browser"):
            item.add_marker(getattr(pytest.mark, folder))
