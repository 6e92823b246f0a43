"""Account flows in the browser: two-factor sign-in and setup, a forgotten password, and an
admin adding, changing and disabling a user."""

from __future__ import annotations

import re
import time

import httpx
import pyotp
from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, Person, add_person, screenshot, sign_in
from tests.conftest import Tenant
from vigil.core.permissions import Role

pytestmark = ON_SQLITE


def code_at(secret: str, steps_ahead: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def turn_on_two_factor(tenant: Tenant, person: Person) -> str:
    """2FA on through the API; the secret, as the person's authenticator app holds it."""
    with httpx.Client(base_url=tenant.stack.base_url) as client:
        login = client.post(
            "/auth/login", json={"email": person.email, "password": person.password}
        )
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        secret = client.post("/auth/2fa/setup").json()["secret"]
        assert client.post("/auth/2fa/enable", json={"code": code_at(secret, 0)}).is_success
    return str(secret)


def test_sign_in_asks_for_the_code_on_a_second_step(page: Page, tenant: Tenant) -> None:
    person = add_person(tenant, name="Tess Tester", role=Role.ADMIN)
    secret = turn_on_two_factor(tenant, person)
    page.goto(f"{tenant.stack.base_url}/ui/login")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    screenshot(page, "sign-in-code")
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("That code did not work")
    page.get_by_label("Authenticator code").fill(code_at(secret, 1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    failed = tenant.reader.get("/audit-logs/", params={"action": "LOGIN_FAILED"}).json()["items"]
    assert [e["details"]["reason"] for e in failed] == ["invalid two-factor code"]


def test_setting_up_two_factor_from_my_profile(page: Page, tenant: Tenant) -> None:
    person = add_person(tenant, name="Sam Secure", role=Role.DEVELOPER)
    sign_in(page, tenant, person)
    page.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.locator(".qr svg")).to_be_visible()
    screenshot(page, "two-factor-setup")
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Authenticator code").fill(code_at(secret, 0))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".recovery-codes li")).to_have_count(10)
    assert tenant.reader.get(f"/users/{person.id}").json()["two_factor_enabled"] is True


def test_required_two_factor_sends_an_admin_to_set_it_up(page: Page, tenant: Tenant) -> None:
    tenant.admin.patch("/settings", json={"require_2fa_for_admins": True})
    person = add_person(tenant, name="Ari Admin", role=Role.ADMIN)
    sign_in(page, tenant, person)
    expect(page).to_have_url(re.compile(r"/ui/me"))
    expect(page.get_by_text("requires two-factor authentication for admins")).to_be_visible()
    page.goto(f"{tenant.stack.base_url}/ui/activity")
    expect(page).to_have_url(re.compile(r"/ui/me\?notice=two-factor"))
    page.get_by_role("button", name="Set up two-factor authentication").click()
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Authenticator code").fill(code_at(secret, 0))
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("link", name="Continue to the console").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_a_forgotten_password_is_reset_from_the_emailed_link(page: Page, tenant: Tenant) -> None:
    person = add_person(tenant, name="Fay Forgetful", role=Role.DEVELOPER)
    page.goto(f"{tenant.stack.base_url}/ui/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(person.email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_contain_text("is on its way")
    message = tenant.stack.inbox.wait_for(person.email)
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"http://vigil\.test(/ui/reset-password\?token=vr_[\w-]+)", body)
    assert link, body
    page.goto(tenant.stack.base_url + link.group(1))
    new_password = "a fresh console passphrase"
    page.get_by_label("New password").fill(new_password)
    page.get_by_label("Repeat it").fill(new_password)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    sign_in(page, tenant, Person(person.id, person.email, person.name, new_password))
    expect(page).to_have_url(re.compile(r"/ui/me"))


def test_an_admin_adds_changes_resets_and_disables_a_user(admin_page: Page, tenant: Tenant) -> None:
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/users")
    page.get_by_text("Add user").click()
    form = page.locator("details.add-user")
    form.get_by_label("Email").fill("newcomer@example.com")
    form.get_by_label("Name").fill("Nia Newcomer")
    form.get_by_label("Role").select_option("DEVELOPER")
    form.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("User created.")
    user_id = page.url.rsplit("/", 1)[-1].split("?")[0]

    page.get_by_label("Role").select_option("TESTER")
    page.get_by_label("USER_VIEW").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Changes saved.")
    shown = tenant.reader.get(f"/users/{user_id}").json()
    assert shown["role"] == "TESTER"
    assert "USER_VIEW" in shown["permissions"]
    update = tenant.reader.get(
        "/audit-logs/", params={"action": "UPDATE", "resource_id": user_id}
    ).json()["items"][0]
    assert update["details"]["changed_fields"] == ["permissions", "role"]
    assert update["details"]["changes"]["role"] == {"old": "DEVELOPER", "new": "TESTER"}
    screenshot(page, "user-profile-admin")

    page.get_by_role("button", name="Send password reset").click()
    expect(page.get_by_role("status")).to_contain_text("password reset link is on its way")
    tenant.stack.inbox.wait_for("newcomer@example.com")

    page.get_by_text("Disable user…").click()
    page.get_by_role("button", name="Disable newcomer@example.com").click()
    expect(page.get_by_role("status")).to_contain_text("The user is disabled")
    assert tenant.reader.get(f"/users/{user_id}").json()["status"] == "DISABLED"


def test_a_form_mistake_is_explained_and_nothing_is_written(
    admin_page: Page, tenant: Tenant
) -> None:
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/users")
    page.get_by_text("Add user").click()
    page.get_by_label("Email").fill("short-password@example.com")
    page.get_by_label("Name").fill("Shorty")
    # Past the browser's own length check, to see the server's answer.
    page.get_by_label("Password (optional)").evaluate("field => field.removeAttribute('minlength')")
    page.get_by_label("Password (optional)").fill("tiny")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("alert")).to_contain_text("password: must be at least 12 characters")
    expect(page.get_by_label("Email")).to_have_value("short-password@example.com")
    assert tenant.reader.get("/users", params={"q": "short-password"}).json()["total"] == 0
