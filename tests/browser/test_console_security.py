"""The Security page, an alert's page, the notification inbox, and Settings → Notifications."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, Person, screenshot
from tests.conftest import Tenant
from tests.helpers import eventually, ingest
from tests.integration.test_detections import ATTACKER, alerts_of, failed_login
from tests.integration.test_notifications import SlackReceiver

pytestmark = ON_SQLITE


def attack(tenant: Tenant) -> dict[str, object]:
    ingest(tenant.writer, [failed_login(ATTACKER, f"t{i}@example.com") for i in range(5)])
    (alert,) = alerts_of(tenant, "brute_force")
    return alert  # type: ignore[no-any-return]


def test_an_alert_from_the_list_to_resolved(admin_page: Page, tenant: Tenant) -> None:
    page = admin_page
    alert = attack(tenant)
    page.goto(f"{tenant.stack.base_url}/ui/security")
    row = page.locator(f"tr[data-alert-id='{alert['id']}']")
    expect(row.locator(".badge.severity-high")).to_have_text("HIGH")
    expect(row).to_contain_text(f"5 failed logins from {ATTACKER}")
    screenshot(page, "security")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("5 failed logins")
    expect(page.locator("details.event")).to_have_count(5)
    screenshot(page, "security-alert")

    page.get_by_label("Note").fill("Blocked at the firewall")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_have_text("Alert acknowledged.")
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("Alert resolved.")
    shown = tenant.reader.get(f"/security/alerts/{alert['id']}").json()
    assert shown["status"] == "RESOLVED"
    assert shown["note"] == "Blocked at the firewall"

    page.get_by_role("link", name="See this in Activity").click()
    expect(page).to_have_url(re.compile(rf"ip={re.escape(ATTACKER)}"))
    expect(page.locator("details.event")).to_have_count(5)


def test_the_header_counts_unread_alerts(admin_page: Page, tenant: Tenant, admin: Person) -> None:
    page = admin_page
    attack(tenant)

    def unread_badges() -> int:
        page.goto(f"{tenant.stack.base_url}/ui/dashboard")
        return page.locator("[data-unread]").count()

    eventually(unread_badges, what="the header's unread count on a fresh page", interval=0.1)
    expect(page.locator("[data-unread]")).to_have_text("1 unread")
    page.get_by_role("link", name=re.compile("^Notifications")).click()
    expect(page.locator(".inbox li.unread")).to_contain_text("brute_force")
    page.get_by_role("button", name="Open").click()
    expect(page).to_have_url(re.compile(r"/ui/security/alerts/"))
    expect(page.locator("[data-unread]")).to_have_count(0)


def test_settings_channels_test_message_and_rules(admin_page: Page, tenant: Tenant) -> None:
    page = admin_page
    slack = SlackReceiver()
    try:
        page.goto(f"{tenant.stack.base_url}/ui/settings/notifications")
        page.get_by_label("Post alerts to Slack").check()
        page.get_by_label("Incoming webhook URL").fill(slack.url)
        page.get_by_role("button", name="Save channels").click()
        expect(page.get_by_role("status")).to_have_text("Notification channels saved.")
        assert tenant.reader.get("/settings/notifications").json()["slack"]["enabled"] is True

        page.get_by_role("button", name="Send test").click()
        expect(page.locator(".test-results li[data-channel='slack']")).to_contain_text("Sent")
        assert "Test message from Vigil" in slack.wait_for(1, timeout=5)[0]["text"]

        form = page.locator("form[action='/ui/settings/rules']")
        form.get_by_label("Name").fill("many_exports")
        form.get_by_label("Action").select_option("EXPORT")
        form.get_by_label("Search query").fill("ip:10.0.0.0/33")
        form.get_by_role("button", name="Add rule").click()
        expect(page.get_by_role("alert")).to_contain_text("at character 4")
        expect(form.get_by_label("Search query")).to_have_value("ip:10.0.0.0/33")
        form.get_by_label("Search query").fill("-user:deploy-bot")
        form.get_by_label("Action").select_option("EXPORT")
        form.get_by_label("Threshold (events)").fill("3")
        form.get_by_label("Window (minutes)").fill("60")
        form.get_by_label("Count per").select_option("user")
        form.get_by_role("button", name="Add rule").click()
        expect(page.get_by_role("status")).to_contain_text("Rule added.")
        expect(page.locator("tr[data-rule='many_exports']")).to_contain_text(
            "3 in 60 min, per user"
        )
        expect(page.locator("tr[data-rule='many_exports']")).to_contain_text(
            "Matching -user:deploy-bot"
        )
        screenshot(page, "settings-notifications")

        brute = page.locator("tr[data-rule='brute_force']")
        brute.get_by_text("Change…").click()
        brute.get_by_label("Threshold (events)").fill("8")
        brute.get_by_role("button", name="Save brute_force").click()
        expect(page.get_by_role("status")).to_have_text("Rule saved.")
        rules = {r["name"]: r for r in tenant.reader.get("/security/rules").json()["items"]}
        assert rules["brute_force"]["threshold"] == 8
        assert rules["many_exports"]["filter"]["action"] == ["EXPORT"]
        assert rules["many_exports"]["group_by"] == "user"
        assert rules["many_exports"]["filter"]["query"] == "-user:deploy-bot"
    finally:
        slack.close()


def test_the_inbox_names_the_severity_once_in_a_badge_its_own_size(
    admin_page: Page, tenant: Tenant
) -> None:
    page = admin_page
    attack(tenant)

    def inbox_items() -> int:
        page.goto(f"{tenant.stack.base_url}/ui/notifications")
        return page.locator("ul.inbox li").count()

    eventually(inbox_items, what="the alert in the inbox", interval=0.1)
    item = page.locator("ul.inbox li").first
    badge = item.locator(".badge")
    expect(badge).to_have_text("HIGH")
    expect(item.locator(".inbox-title")).to_have_text(
        re.compile(rf"^brute_force: 5 failed logins from {re.escape(ATTACKER)}")
    )
    assert "[HIGH]" not in item.inner_text()
    # The badge is as wide as its word, not stretched across its column.
    badge_width = badge.evaluate("b => b.getBoundingClientRect().width")
    word_width = badge.evaluate(
        "b => { const r = document.createRange(); r.selectNodeContents(b);"
        " return r.getBoundingClientRect().width; }"
    )
    assert badge_width < word_width + 20, (badge_width, word_width)
    screenshot(page, "notifications-inbox")
