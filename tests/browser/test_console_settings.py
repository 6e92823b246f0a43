"""Settings in the browser: the index, each page saving and showing its value (as the API
reads it back), the allowlist's lock-out warning, and API keys created and revoked."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, screenshot
from tests.conftest import Tenant
from tests.helpers import eventually

pytestmark = ON_SQLITE


def saved(page: Page) -> None:
    expect(page.get_by_role("status")).to_have_text("Changes saved.")


def test_settings_has_an_index_and_the_breadcrumb_leads_back(
    admin_page: Page, tenant: Tenant
) -> None:
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/settings/notifications")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(r"/ui/settings$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    expect(page.locator("[data-setting=retention]")).to_have_text("Events are kept 90 days.")
    screenshot(page, "settings-index")
    for name, heading in (
        ("Retention", "Retention"),
        ("IP allowlist", "IP allowlist"),
        ("Two-factor authentication", "Two-factor authentication"),
        ("Time zone and working hours", "Time zone and working hours"),
        ("API keys", "API keys"),
        ("Notifications", "Notifications"),
    ):
        page.goto(f"{tenant.stack.base_url}/ui/settings")
        page.locator("main .settings-index").get_by_role(
            "link", name=re.compile(f"^{name}")
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def test_retention_two_factor_and_working_hours_save_and_show(
    admin_page: Page, tenant: Tenant
) -> None:
    page, base = admin_page, tenant.stack.base_url
    page.goto(f"{base}/ui/settings/retention")
    page.get_by_label("Keep events for (days)").fill("400")
    page.get_by_role("button", name="Save retention").click()
    saved(page)
    expect(page.locator("[data-current]")).to_have_text("Events are kept 400 days.")

    page.goto(f"{base}/ui/settings/working-hours")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_label("From", exact=True).fill("08:30")
    page.get_by_label("Until").fill("17:00")
    page.get_by_label("Friday").uncheck()
    page.get_by_role("button", name="Save working hours").click()
    saved(page)
    expect(page.locator("[data-current]")).to_have_text(
        "08:30\u201317:00, Monday, Tuesday, Wednesday, Thursday, in Europe/Paris."
    )
    page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Save working hours").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown time zone 'Mars/Olympus_Mons'")

    page.goto(f"{base}/ui/settings/two-factor")
    page.get_by_label("Require two-factor authentication for admins").check()
    page.get_by_role("button", name="Save").click()
    # The admin saving it has no second factor yet: the console sends them to set it up.
    expect(page).to_have_url(re.compile(r"/ui/me\?notice=two-factor"))

    shown = tenant.reader.get("/settings").json()
    assert shown["retention_days"] == 400
    assert shown["require_2fa_for_admins"] is True
    assert shown["timezone"] == "Europe/Paris"
    assert shown["working_hours"] == {"days": [0, 1, 2, 3], "start": "08:30", "end": "17:00"}
    changes = tenant.reader.get("/audit-logs/", params={"resource_type": "SETTINGS"}).json()
    assert len(changes["items"]) == 3  # the refused time zone wrote nothing


def test_an_allowlist_without_my_address_needs_my_confirmation(
    admin_page: Page, tenant: Tenant
) -> None:
    page, base = admin_page, tenant.stack.base_url
    page.goto(f"{base}/ui/settings/allowlist")
    expect(page.locator("[data-your-address]")).to_have_text("127.0.0.1")
    field = page.get_by_label("Allowed addresses and ranges")
    field.fill("127.0.0.0/8\n10.0.0.0/8")
    page.get_by_role("button", name="Save allowlist").click()
    saved(page)  # my address is inside: no question asked
    expect(page.locator("[data-current]")).to_contain_text("127.0.0.0/8, 10.0.0.0/8")

    field.fill("203.0.113.0/24")
    page.get_by_role("button", name="Save allowlist").click()
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("This list leaves out your own address (127.0.0.1)")
    screenshot(page, "settings-allowlist-warning")
    assert tenant.reader.get("/settings").json()["ip_allowlist"] == ["127.0.0.0/8", "10.0.0.0/8"]

    page.get_by_label("I understand: save it and lock myself out").check()
    page.get_by_role("button", name="Save allowlist").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text("not on this tenant's IP allowlist")
    # The API keys of the tenant are outside it too, from this address.
    assert tenant.reader.get("/settings").status_code == 403


def test_an_api_key_is_shown_once_then_revoked(admin_page: Page, tenant: Tenant) -> None:
    page, base = admin_page, tenant.stack.base_url
    page.goto(f"{base}/ui/settings/api-keys")
    page.get_by_label("Name").fill("billing-service")
    page.get_by_label("USER_VIEW").check()
    expect(page.get_by_label("EVENTS_WRITE")).to_have_count(0)  # an ADMIN does not hold it
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("[data-secret]").inner_text()
    assert re.fullmatch(r"vk_[A-Za-z0-9_-]{40,}", secret)
    row = page.locator("tr", has_text="billing-service")
    expect(row).to_contain_text("USER_VIEW")
    expect(row).to_contain_text(secret[:10])
    expect(row.locator(".badge")).to_have_text("Active")
    screenshot(page, "settings-api-keys-created")

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as client:
        assert client.get("/audit-logs/").status_code == 200
        page.goto(f"{base}/ui/settings/api-keys")  # coming back: the secret is shown no more
        expect(page.locator("[data-secret]")).to_have_count(0)
        assert secret not in page.content()

        row.get_by_role("button", name="Revoke billing-service").click()
        expect(page.get_by_role("status")).to_contain_text("API key revoked.")
        expect(row.locator(".badge")).to_have_text("Revoked")
        assert client.get("/audit-logs/").status_code == 401

    actions = eventually(
        lambda: tenant.reader.get("/audit-logs/", params={"resource_type": "API_KEY"}).json(),
        lambda page: len(page["items"]) == 2,
        what="the key's creation and revocation recorded",
    )
    assert [item["action"] for item in actions["items"]] == ["DELETE", "CREATE"]
    assert secret not in str(actions)
