"""Browser tests: Debian's Chromium, driven by Playwright, against the test session's server."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import Tenant
from vigil.accounts import users
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-background-networking",  # no reaching for hosts this machine cannot reach
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "console test passphrase"

# The console is one code path whatever the database, and the API tests cover both backends:
# each browser test module runs on SQLite with this mark.
ON_SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the browser tests; stopped after them, because Playwright's
    sync API keeps an event loop running while it is up, and other tests run their own."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no cookies) at a laptop's width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@dataclass(frozen=True)
class Person:
    """A console user and the password they sign in with."""

    id: str
    email: str
    name: str
    password: str


def add_person(tenant: Tenant, *, name: str, role: Role, password: str | None = PASSWORD) -> Person:
    """A user of ``tenant`` who can sign in to the console."""
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com"
    with write_transaction(tenant.stack.engine) as conn:
        row = users.create_user(
            conn, tenant_id=tenant.id, email=email, name=name, role=role, password=password
        )
    return Person(id=str(row["id"]), email=email, name=name, password=password or "")


def sign_in(page: Page, tenant: Tenant, person: Person) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{tenant.stack.base_url}/ui/login")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/ui/(dashboard|me).*"))


@pytest.fixture
def admin(tenant: Tenant) -> Person:
    """An ADMIN of the tenant."""
    return add_person(tenant, name="Ada Admin", role=Role.ADMIN)


@pytest.fixture
def admin_page(page: Page, tenant: Tenant, admin: Person) -> Page:
    """A page signed in as the tenant's ADMIN."""
    sign_in(page, tenant, admin)
    return page


def screenshot(page: Page, name: str) -> None:
    """Keep a full-page picture of what the test saw, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def api_total(tenant: Tenant, **params: Any) -> int:
    """How many events the API lists for these filters."""
    answer = tenant.reader.get("/audit-logs/", params={**params, "limit": 1})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


def seed_activity(tenant: Tenant, actor: Person, *, count: int = 24) -> list[dict[str, Any]]:
    """A few days of varied events by ``actor`` (and one by someone else), newest last."""
    now = datetime.now(UTC).replace(microsecond=0)
    kinds = [
        ("CREATE", "PROJECT", "proj-apollo"),
        ("UPDATE", "PROJECT", "proj-apollo"),
        ("CREATE", "MODEL", "model-llama-7b"),
        ("DELETE", "ENDPOINT", "ep-frankfurt-2"),
        ("UPDATE", "CLUSTER", "cluster-gpu-a"),
        ("CREATE", "BENCHMARK", "bench-latency-9"),
    ]
    events = []
    for index in range(count):
        action, resource_type, resource_id = kinds[index % len(kinds)]
        events.append(
            {
                "action": action,
                "resource_type": resource_type,
                "resource_id": resource_id,
                "user_id": actor.id,
                "user_email": actor.email,
                "ip_address": "198.51.100.7",
                "timestamp": (now - timedelta(hours=5 * (count - index))).isoformat(),
                "details": {
                    "changed_fields": ["replicas"],
                    "old_value": index,
                    "new_value": index + 1,
                },
                "status": "FAILED" if index % 7 == 3 else "SUCCESS",
            }
        )
    events.append(
        {
            "action": "LOGIN",
            "resource_type": "USER",
            "user_id": "someone-else",
            "user_email": "zed@elsewhere.example",
            "timestamp": (now - timedelta(hours=1)).isoformat(),
        }
    )
    answer = tenant.writer.post("/audit-logs/batch", json={"events": events})
    assert answer.status_code == 201, answer.text
    return events
