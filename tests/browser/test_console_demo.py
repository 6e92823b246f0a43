"""After ``vigil demo``, the Security page shows what the README promises: an alert of each
kind, raised by the running server's detections from the demo's latest incidents."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, screenshot
from tests.conftest import Tenant
from tests.helpers import eventually
from tests.integration.test_cli import run_vigil

pytestmark = ON_SQLITE

# A rule of each kind: threshold (two of them), distributed_brute_force,
# unexpected_location, off_hours and privilege_escalation.
EVERY_KIND = {
    "brute_force",
    "bulk_delete",
    "brute_force_distributed",
    "unexpected_location",
    "off_hours",
    "privilege_escalation",
}


def test_the_demo_leaves_an_alert_of_each_kind(admin_page: Page, tenant: Tenant) -> None:
    run = run_vigil(tenant.stack, "demo", "--tenant", tenant.name, "--days", "3", "--users", "8")
    assert run.returncode == 0, run.stderr
    page = admin_page

    def rules_listed() -> set[str]:
        page.goto(f"{tenant.stack.base_url}/ui/security?status=OPEN")
        return set(page.locator("table.alerts tbody tr td code").all_inner_texts())

    listed = eventually(
        rules_listed,
        lambda found: found >= EVERY_KIND,
        what="an open alert of every kind on the Security page",
        timeout=30,
        interval=0.5,
    )
    assert listed == EVERY_KIND
    expect(page.locator("tr[data-alert-id] .badge.severity-high").first).to_be_visible()
    screenshot(page, "security-after-demo")
