"""The console's live feed in Chromium: the Live page shows an event posted through the API
within a second, pauses and resumes, applies the Activity filters, pops up a HIGH alert
linking to it, says when the session behind it ended; the header's unread count and the
Dashboard's Recent Actions follow without a reload."""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, Person, screenshot, sign_in
from tests.conftest import Tenant
from tests.helpers import ingest, make_event
from tests.integration.test_detections import ATTACKER, failed_login

pytestmark = ON_SQLITE

ROWS = "[data-live-list] details.event"


def post(tenant: Tenant, **fields: str) -> str:
    """Post one event through the API; its resource id (unique unless given)."""
    resource_id = fields.pop("resource_id", f"live-{uuid.uuid4().hex[:8]}")
    ingest(tenant.writer, [make_event(resource_id=resource_id, **fields)])
    return resource_id


def open_live(page: Page, tenant: Tenant, query: str = "") -> None:
    page.goto(f"{tenant.stack.base_url}/ui/live{query}")
    expect(page.locator("[data-live-status]")).to_have_text("Live")


def test_an_event_appears_within_a_second_and_pause_holds_new_ones(
    admin_page: Page, tenant: Tenant
) -> None:
    page = admin_page
    open_live(page, tenant)
    first = post(tenant, action="CREATE", resource_type="PROJECT")
    posted = time.monotonic()
    top = page.locator(ROWS).first
    expect(top.locator(".resource")).to_contain_text(first, timeout=1_000)
    assert time.monotonic() - posted < 1.0
    expect(top.locator(".badge.tone-create")).to_have_text("CREATE")
    top.locator("summary").click()  # a row opens to every field
    expect(top.locator('[data-field="resource_id"]')).to_have_text(first)

    page.get_by_role("button", name="Pause").click()
    screenshot(page, "live")
    held = [post(tenant, action="DELETE", resource_type="MODEL") for _ in range(2)]
    expect(page.locator("[data-live-held]")).to_have_text("2 new")
    expect(page.locator(ROWS).first.locator(".resource")).to_contain_text(first)
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(ROWS).first.locator(".resource")).to_contain_text(held[1])
    expect(page.locator(ROWS).nth(1).locator(".resource")).to_contain_text(held[0])
    expect(page.locator("[data-live-held]")).to_be_hidden()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()


def test_the_activity_filters_apply(admin_page: Page, tenant: Tenant) -> None:
    page = admin_page
    open_live(page, tenant, "?action=DELETE")
    expect(page.get_by_label("Action")).to_have_value("DELETE")
    skipped = post(tenant, action="CREATE", resource_type="PROJECT")
    shown = post(tenant, action="DELETE", resource_type="PROJECT")  # the positive control
    expect(page.locator(ROWS).first.locator(".resource")).to_contain_text(shown)
    expect(page.locator(ROWS).filter(has_text=skipped)).to_have_count(0)


def test_a_high_alert_pops_up_and_the_unread_count_follows(
    admin_page: Page, tenant: Tenant
) -> None:
    page = admin_page
    open_live(page, tenant)
    ingest(tenant.writer, [failed_login(ATTACKER, f"a{i}@example.com") for i in range(5)])
    notice = page.locator("[data-live-notices] .live-notice")
    expect(notice).to_contain_text("HIGH alert opened")
    expect(notice).to_contain_text("5 failed logins")
    screenshot(page, "live-alert")
    expect(page.locator(".inbox-link .badge.unread")).to_have_text("1 unread")
    notice.get_by_role("link", name="Open the alert").click()
    expect(page).to_have_url(re.compile(r"/ui/security/alerts/[0-9a-f-]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("5 failed logins")


def test_the_dashboard_s_recent_actions_follow(admin_page: Page, tenant: Tenant) -> None:
    page = admin_page
    post(tenant, action="UPDATE", resource_type="CLUSTER")  # so the list is there
    page.goto(f"{tenant.stack.base_url}/ui/dashboard")
    rows = page.locator("[data-live-list] details.event")
    expect(rows.first).to_be_visible()
    arrived = post(tenant, action="CREATE", resource_type="ENDPOINT")
    expect(rows.first.locator(".resource")).to_contain_text(arrived)


def test_a_session_ended_elsewhere_is_said(page: Page, tenant: Tenant, admin: Person) -> None:
    sign_in(page, tenant, admin)
    open_live(page, tenant)
    other = page.context.new_page()  # the same browser: signing out there ends this session
    other.goto(f"{tenant.stack.base_url}/ui/me")
    other.get_by_role("button", name="Sign out").click()
    expect(page.locator("[data-live-status]")).to_have_text(
        re.compile("your session has ended"), timeout=10_000
    )


def test_a_row_shows_details_as_stored_and_who_tried(admin_page: Page, tenant: Tenant) -> None:
    # A 400-digit number is stored as written (a JSON parser of doubles could not read it
    # back), and a failed sign-in by no one known is shown by what was typed: live as on
    # the Activity page.
    page = admin_page
    open_live(page, tenant)
    digits = "7" * 400
    ingest(tenant.writer, [make_event(resource_id="big-number", details={"n": int(digits)})])
    tried = make_event(action="LOGIN_FAILED", resource_type="USER", resource_id=None,
                       user_id=None, user_email=None, status="FAILED",
                       details={"attempted_email": "mallory@example.com"})  # fmt: skip
    ingest(tenant.writer, [tried])
    expect(page.locator(ROWS).first.locator(".actor")).to_have_text("tried mallory@example.com")
    row = page.locator(ROWS).nth(1)
    row.locator("summary").click()
    expect(row.locator("pre.details")).to_contain_text(digits)
