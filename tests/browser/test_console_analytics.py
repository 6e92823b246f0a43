"""The Analytics page shows what the analytics API says, in a 1024 px window: overview
tiles, the peak-usage heatmap (hover and focus give a cell's count), popular features,
power and inactive users linking to their Activity tab, resource activity per type, and a
CSV download for every table."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, screenshot
from tests.conftest import Tenant
from tests.helpers import eventually, ingest, make_event

pytestmark = ON_SQLITE

KINDS = [
    ("CREATE", "PROJECT"), ("UPDATE", "PROJECT"), ("UPDATE", "MODEL"), ("DELETE", "ENDPOINT"),
    ("UPDATE", "CLUSTER"), ("LOGIN", "USER"),
]  # fmt: skip


def seed(tenant: Tenant) -> None:
    """Two weeks of work by six people, the first of them busiest."""
    rng = random.Random(3)
    now = datetime.now(UTC)
    events = []
    for n in range(400):
        action, resource_type = rng.choice(KINDS)
        person = min(int(rng.expovariate(0.6)), 5)
        events.append(
            make_event(
                action=action,
                resource_type=resource_type,
                resource_id=f"{resource_type.lower()}-{rng.randrange(5)}",
                user_id=f"analyst-{person}",
                user_email=f"analyst{person}@example.com",
                timestamp=(now - timedelta(minutes=50 * n + rng.randrange(40))).isoformat(),
            )
        )
    ingest(tenant.writer, events)


def api(tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    answer = tenant.reader.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_analytics_page_shows_the_api_numbers(admin_page: Page, tenant: Tenant) -> None:
    page = admin_page
    seed(tenant)
    eventually(
        lambda: api(tenant, "/analytics/overview")["active_users"]["value"],
        lambda n: n >= 7,  # six analysts and the admin who signed in
        what="the analysts to be counted",
    )
    page.set_viewport_size({"width": 1024, "height": 800})
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    overview = api(tenant, "/analytics/overview")
    for key in ("active_users", "total_actions", "resource_changes", "sign_ins"):
        expect(page.locator(f'[data-figure="{key}"]')).to_have_attribute(
            "data-value", str(overview[key]["value"])
        )

    peak = api(tenant, "/analytics/peak-times")
    cells = page.locator("svg.heatmap .cell")
    expect(cells).to_have_count(7 * 24)
    busiest = peak["busiest"][0]
    cell = page.locator(
        f'svg.heatmap .cell[data-weekday="{busiest["weekday"]}"][data-hour="{busiest["hour"]}"]'
    )
    expect(cell).to_have_attribute("data-count", str(busiest["events"]))
    tip = page.locator("[data-chart-tip]")
    cell.hover()
    expect(tip).to_contain_text(f"{busiest['events']:,} event")
    second = peak["busiest"][1]
    page.locator(
        f'svg.heatmap .cell[data-weekday="{second["weekday"]}"][data-hour="{second["hour"]}"]'
    ).focus()
    expect(tip).to_contain_text(f": {second['events']:,} event")

    features = api(tenant, "/analytics/features")
    rows = page.locator('[data-widget="features"] tbody tr')
    expect(rows).to_have_count(len(features["by_resource_type"]))
    for n, feature in enumerate(features["by_resource_type"]):
        expect(rows.nth(n)).to_have_attribute("data-count", str(feature["events"]))
        expect(rows.nth(n)).to_contain_text(f"{feature['share_percent']}%")

    power = api(tenant, "/analytics/users", kind="power", limit=10)["items"]
    power_rows = page.locator('[data-widget="power-users"] tbody tr')
    expect(power_rows).to_have_count(len(power))
    expect(power_rows.first).to_have_attribute("data-events", str(power[0]["period_events"]))
    inactive = api(tenant, "/analytics/users", kind="inactive", limit=1000)
    expect(page.get_by_text(f"{inactive['total']:,} with no sign-in in 30 days")).to_be_visible()

    # Fits 1024 px: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "analytics")

    # Every table has a CSV download that answers with the API's figures.
    links = page.get_by_role("link", name=re.compile(r"^CSV"))
    expect(links).to_have_count(6)
    for n in range(6):
        href = links.nth(n).get_attribute("href")
        assert href is not None
        answer = tenant.reader.get(href)
        assert answer.status_code == 200, href
        assert answer.headers["content-type"].startswith("text/csv")

    # The resource type switch.
    page.get_by_label("Resource type").select_option("MODEL")
    expect(page).to_have_url(re.compile(r"type=MODEL"))
    models = api(tenant, "/analytics/resources", resource_type="MODEL")
    accessed = page.locator('[data-widget="most_accessed"] tbody tr')
    expect(accessed).to_have_count(len(models["most_accessed"]))
    expect(accessed.first).to_have_attribute(
        "data-resource-id", models["most_accessed"][0]["resource_id"]
    )

    # A period of the last 7 days, and a power user's Activity tab.
    page.get_by_role("link", name="Last 7 days").click()
    week = api(
        tenant,
        "/analytics/overview",
        start_date=(datetime.now(UTC) - timedelta(days=6)).date().isoformat(),
    )
    expect(page.locator('[data-figure="total_actions"]')).to_have_attribute(
        "data-value", str(week["total_actions"]["value"])
    )
    page.locator('[data-widget="power-users"] tbody tr a').first.click()
    expect(page).to_have_url(re.compile(r"/ui/users/[0-9a-f-]+/activity"))
    expect(
        page.get_by_role("navigation", name="User").get_by_role("link", name="Activity")
    ).to_have_attribute("aria-current", "page")


def test_a_bad_period_is_explained(admin_page: Page, tenant: Tenant) -> None:
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/analytics?from=2020-01-01&to=2026-01-01")
    expect(page.get_by_role("alert")).to_contain_text("From: a period is at most 366 days")
    expect(page.get_by_label("From")).to_have_value("2020-01-01")
