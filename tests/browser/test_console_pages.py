"""An admin's first tour of the console: sign in, find a user, read their activity."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ON_SQLITE,
    Person,
    add_person,
    screenshot,
    seed_activity,
    sign_in,
)
from tests.conftest import Tenant
from vigil.core.permissions import Role

pytestmark = ON_SQLITE


def test_sign_in_find_a_user_and_open_their_activity(
    page: Page, tenant: Tenant, admin: Person
) -> None:
    dana = add_person(tenant, name="Dana Developer", role=Role.DEVELOPER)
    seed_activity(tenant, dana)
    page.goto(f"{tenant.stack.base_url}/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    screenshot(page, "sign-in")
    sign_in(page, tenant, admin)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    sidebar = page.get_by_role("navigation", name="Main")
    for item in ("Dashboard", "Activity", "User Management"):
        expect(sidebar.get_by_role("link", name=item)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot(page, "dashboard")

    sidebar.get_by_role("link", name="User Management").click()
    expect(page.get_by_role("heading", name="User Management")).to_be_visible()
    page.get_by_label("Search").fill("Dana")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.users tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Developer")
    screenshot(page, "user-management")

    page.get_by_role("link", name=dana.email).click()
    expect(page.get_by_role("heading", name=re.compile("Dana Developer"))).to_be_visible()
    tabs = page.get_by_role("navigation", name="User")
    expect(tabs.get_by_role("link", name="Profile")).to_have_attribute("aria-current", "page")
    screenshot(page, "user-profile")

    tabs.get_by_role("link", name="Activity").click()
    expect(page).to_have_url(re.compile(rf"/ui/users/{dana.id}/activity"))
    for heading in ("Recent Actions", "Action Timeline", "Action Summary", "Resource Breakdown"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    events = page.locator("details.event")
    expect(events).to_have_count(24)  # Dana's own, not someone else's
    expect(page.locator("[data-total]")).to_have_attribute("data-total", "24")
    screenshot(page, "user-activity")


def test_a_row_opens_to_every_field_and_pretty_details(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    seed_activity(tenant, admin, count=3)
    admin_page.goto(f"{tenant.stack.base_url}/ui/activity?action=UPDATE")
    first = admin_page.locator("details.event").first
    expect(first.locator(".event-body")).to_be_hidden()
    first.locator("summary").click()
    body = first.locator(".event-body")
    expect(body).to_be_visible()
    for field in ("id", "timestamp", "resource_type", "user_agent", "country"):
        expect(body.locator("dt", has_text=re.compile(f"^{field}$"))).to_be_visible()
    details = body.locator("pre.details")
    expect(details).to_contain_text('"changed_fields": [\n    "replicas"\n  ]')
    # Keyboard: the row's summary takes focus and Enter closes it again.
    first.locator("summary").focus()
    admin_page.keyboard.press("Enter")
    expect(body).to_be_hidden()


def test_markup_in_details_shows_as_text_and_never_runs(admin_page: Page, tenant: Tenant) -> None:
    payload = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    answer = tenant.writer.post(
        "/audit-logs/",
        json={
            "action": "UPDATE",
            "resource_type": "PROJECT",
            "resource_id": "<b>bold</b>",
            "user_email": "mallory@example.com",
            "details": {"note": payload},
        },
    )
    assert answer.status_code == 201
    admin_page.goto(f"{tenant.stack.base_url}/ui/activity?q=mallory")
    row = admin_page.locator("details.event").first
    row.locator("summary").click()
    expect(row.locator("pre.details")).to_contain_text("<script>window.pwned = 1</script>")
    expect(row.locator("summary")).to_contain_text("<b>bold</b>")
    assert admin_page.evaluate("window.pwned") is None
    assert admin_page.locator("details.event script, details.event img").count() == 0


def test_a_developer_signs_in_to_their_profile_and_is_refused_the_logs(
    page: Page, tenant: Tenant
) -> None:
    dev = add_person(tenant, name="Devon Dev", role=Role.DEVELOPER)
    sign_in(page, tenant, dev)
    expect(page).to_have_url(re.compile(r"/ui/me$"))
    expect(page.get_by_text("need the USER_VIEW or USER_MANAGE permission")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity")
    ).to_have_count(0)
    screenshot(page, "developer-profile")
    for path in ("/ui/activity", "/ui/dashboard", "/ui/users"):
        answer = page.goto(f"{tenant.stack.base_url}{path}")
        assert answer is not None
        assert answer.status == 403
        expect(page.get_by_text("needs the USER_MANAGE or USER_VIEW permission")).to_be_visible()
    screenshot(page, "developer-refused")
    answer = page.goto(f"{tenant.stack.base_url}/audit-logs/")
    assert answer is not None
    assert answer.status == 403


def test_signing_out_ends_the_session(admin_page: Page, tenant: Tenant) -> None:
    admin_page.get_by_role("button", name="Sign out").click()
    expect(admin_page).to_have_url(re.compile(r"/ui/login\?signed_out=1"))
    expect(admin_page.get_by_text("You are signed out.")).to_be_visible()
    admin_page.goto(f"{tenant.stack.base_url}/ui/dashboard")
    expect(admin_page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fdashboard"))


def test_a_wrong_password_says_so_once_for_every_cause(
    page: Page, tenant: Tenant, admin: Person
) -> None:
    page.goto(f"{tenant.stack.base_url}/ui/login")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")
    expect(page.get_by_label("Email")).to_have_value(admin.email)
    page.get_by_label("Email").fill("nobody-at-all@example.com")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid email or password.")


# Every field a person can see has a label they can see (closed <details> hide theirs).
UNLABELLED_FIELDS = """() => [
    ...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(field => field.checkVisibility())
    .filter(field => ![...field.labels].some(label => label.checkVisibility()
                                                       && label.innerText.trim() !== ''))
    .map(field => field.outerHTML)"""


def test_every_page_fits_1024_pixels_and_labels_every_field(
    page: Page, tenant: Tenant, admin: Person
) -> None:
    seed_activity(tenant, admin)
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{tenant.stack.base_url}/ui/login")
    assert page.evaluate(UNLABELLED_FIELDS) == []
    sign_in(page, tenant, admin)
    for path in (
        "/ui/dashboard",
        "/ui/activity",
        "/ui/users",
        f"/ui/users/{admin.id}",
        f"/ui/users/{admin.id}/activity",
        "/ui/me",
        "/ui/settings",
        "/ui/settings/retention",
        "/ui/settings/allowlist",
        "/ui/settings/two-factor",
        "/ui/settings/working-hours",
        "/ui/settings/api-keys",
    ):
        page.goto(f"{tenant.stack.base_url}{path}")
        page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024, path
        assert page.evaluate(UNLABELLED_FIELDS) == [], path
        if path == "/ui/activity":
            screenshot(page, "activity-at-1024px")


def test_a_new_organisation_is_shown_how_to_send_events(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    first_steps = admin_page.get_by_role("region", name="Send your first events")
    expect(first_steps).to_be_visible()
    expect(first_steps).to_contain_text(f'vigil apikey create --tenant "{tenant.name}"')
    screenshot(admin_page, "dashboard-first-steps")
    seed_activity(tenant, admin, count=2)
    admin_page.reload()
    expect(first_steps).to_have_count(0)
