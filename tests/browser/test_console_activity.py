"""The Activity page's Status and IP address filters, its NDJSON download, its column
headers, and actors shown in full: people by email, API keys by their name."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, Person, add_person, api_total, seed_activity
from tests.conftest import Tenant
from tests.helpers import list_all
from vigil.core.permissions import Role

pytestmark = ON_SQLITE

OTHER_ADDRESS = "203.0.113.44"


def week_ago() -> str:
    return (datetime.now(UTC) - timedelta(days=7)).isoformat()


def shown_total(page: Page) -> int:
    return int(page.locator("[data-total]").get_attribute("data-total") or -1)


def test_status_and_ip_address_narrow_the_list(admin_page: Page, tenant: Tenant) -> None:
    dana = add_person(tenant, name="Dana Developer", role=Role.DEVELOPER)
    seed_activity(tenant, dana)
    answer = tenant.writer.post(
        "/audit-logs/",
        json={"action": "LOGIN", "resource_type": "USER", "ip_address": OTHER_ADDRESS,
              "user_email": "ivan@example.com", "status": "FAILED"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/activity")
    everything = shown_total(page)

    page.get_by_label("Status", exact=True).select_option("FAILED")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"status=FAILED"))
    failed = api_total(tenant, status="FAILED", start_date=week_ago())
    assert 1 < failed < everything
    expect(page.locator("[data-total]")).to_have_attribute("data-total", str(failed))
    expect(page.locator("details.event .badge.status-ok")).to_have_count(0)

    page.get_by_label("IP address", exact=True).fill(OTHER_ADDRESS)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"ip={re.escape(OTHER_ADDRESS)}"))
    expect(page.locator("details.event")).to_have_count(1)
    expect(page.locator("details.event .ip")).to_have_text(OTHER_ADDRESS)
    expect(page.get_by_label("IP address", exact=True)).to_have_value(OTHER_ADDRESS)

    page.get_by_label("IP address", exact=True).fill("not an address")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("alert")).to_contain_text("IP address")


def test_ndjson_downloads_one_event_a_line_for_the_filters(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    seed_activity(tenant, admin)
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/activity?status=FAILED")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="NDJSON").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".ndjson")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    listed = list_all(tenant.reader, "/audit-logs/", status="FAILED", start_date=week_ago())
    assert rows
    assert [row["id"] for row in rows] == [event["id"] for event in listed]
    assert {row["status"] for row in rows} == {"FAILED"}


def test_columns_have_headers_and_actors_are_whole(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    long_email = "maximiliana.vandersloot-fitzgerald.operations@example.com"
    answer = tenant.writer.post(
        "/audit-logs/",
        json={"action": "UPDATE", "resource_type": "PROJECT", "resource_id": "proj-apollo",
              "user_email": long_email, "ip_address": "2001:db8::1"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    # An API key changes a setting: the key, by its name, is who did it.
    assert tenant.admin.patch("/settings", json={"retention_days": 45}).status_code == 200
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/activity")
    head = page.locator(".events-head")
    expect(head).to_have_text(re.compile(r"Time\s*Action\s*Resource\s*Actor\s*IP address\s*Status"))

    row = page.locator(f"details.event[data-event-id='{answer.json()['id']}']")
    expect(row.locator(".actor")).to_have_attribute("title", long_email)
    row.locator("summary").click()
    expect(row.locator(".actor-full")).to_have_text(long_email)
    assert row.locator(".actor-full").evaluate("e => e.scrollWidth <= e.clientWidth")

    by_key = page.locator("details.event", has_text="Settings")
    expect(by_key.locator(".actor")).to_have_text("API key admin")
    by_key.locator("summary").click()
    expect(by_key.locator(".actor-full")).to_have_text("API key admin")
    expect(by_key.locator("dd[data-field=user_id]")).to_have_text(re.compile(r"^apikey:"))
