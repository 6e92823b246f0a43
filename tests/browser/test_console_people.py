"""User Management lists the people producers send as well as the accounts: a platform
user who is not an account has an Activity tab, and becomes an account with one click."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, screenshot
from tests.conftest import Tenant
from tests.helpers import eventually, ingest, make_event

pytestmark = ON_SQLITE


def test_a_platform_user_is_listed_has_activity_and_becomes_an_account(
    admin_page: Page, tenant: Tenant
) -> None:
    page = admin_page
    now = datetime.now(UTC).replace(microsecond=0)
    email = f"alice-{uuid.uuid4().hex[:6]}@company.com"  # one account per email, installation-wide
    ingest(
        tenant.writer,
        [
            make_event(
                user_id="user-abc-123",
                user_email=email,
                action=action,
                resource_type="PROJECT",
                timestamp=(now - timedelta(hours=n)).isoformat(),
            )
            for n, action in enumerate(["CREATE", "UPDATE", "UPDATE", "DELETE", "UPDATE"])
        ],
    )
    eventually(
        lambda: tenant.reader.get("/people", params={"q": "user-abc-123"}).json()["items"],
        lambda items: len(items) == 1 and items[0]["events"] == 5,
        what="the people tables to hold Alice",
    )
    page.goto(f"{tenant.stack.base_url}/ui/users")
    page.get_by_label("Search").fill(email.upper())
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.users tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Not an account")
    expect(rows.first).to_contain_text("5")
    screenshot(page, "people-list")

    rows.first.get_by_role("link", name="user-abc-123").click()
    expect(page.get_by_role("heading", name="user-abc-123")).to_be_visible()
    tabs = page.get_by_role("navigation", name="User")
    expect(tabs.get_by_role("link", name="Activity")).to_have_attribute("aria-current", "page")
    expect(tabs.get_by_role("link", name="Profile")).to_have_count(0)
    expect(page.get_by_text(email).first).to_be_visible()
    expect(page.locator("details.event")).to_have_count(5)
    expect(page.locator("[data-total]")).to_have_attribute("data-total", "5")
    # The export link names the same person, and gives the same five events.
    export = page.get_by_role("link", name=re.compile("CSV")).first.get_attribute("href")
    assert export is not None
    assert "person=" in export
    exported = tenant.reader.get(export)
    assert exported.status_code == 200, exported.text
    assert len(exported.text.strip().splitlines()) == 1 + 5
    screenshot(page, "person-activity")

    page.get_by_role("link", name="Create account").click()
    form = page.locator("details.add-user")
    expect(form.get_by_label("Email")).to_have_value(email)
    form.get_by_label("Name").fill("Alice Liddell")
    form.get_by_label("Role").select_option("DEVELOPER")
    form.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("User created.")
    # Her account is her person: its Activity tab holds her five events.
    page.get_by_role("navigation", name="User").get_by_role("link", name="Activity").click()
    expect(page.locator("[data-total]")).to_have_attribute("data-total", "5")
    page.goto(f"{tenant.stack.base_url}/ui/users?q={email}")
    rows = page.locator("table.users tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Developer")
    expect(rows.first).to_contain_text("Alice Liddell")
