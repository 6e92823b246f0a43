"""Every filter of the activity views: the list, the summary and the timeline agree with the
API given the same filters, the URL keeps them, and the export downloads exactly them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ON_SQLITE, Person, add_person, screenshot, seed_activity
from tests.conftest import Tenant
from tests.helpers import eventually, list_all
from vigil.core.permissions import Role

pytestmark = ON_SQLITE


def shown(page: Page) -> dict[str, Any]:
    """What the page says: the total, the rows, the action summary and the timeline."""
    return {
        "total": int(page.locator("[data-total]").get_attribute("data-total") or -1),
        "ids": page.locator("details.event").evaluate_all(
            "rows => rows.map(row => row.dataset.eventId)"
        ),
        "by_action": {
            row.get_attribute("data-action"): int(row.get_attribute("data-count") or -1)
            for row in page.locator("[data-widget=action-summary] tbody tr").all()
        },
        "timeline": page.locator("svg.timeline .bar").evaluate_all(
            "bars => bars.map(bar => [bar.dataset.start, Number(bar.dataset.count)])"
        ),
    }


def from_api(tenant: Tenant, params: dict[str, str]) -> dict[str, Any]:
    """The same, as the API answers for ``params``."""
    page = tenant.reader.get("/audit-logs/", params={**params, "limit": 50}).json()
    summary = tenant.reader.get("/audit-logs/summary", params=params).json()
    return {
        "total": page["total"],
        "ids": [item["id"] for item in page["items"]],
        "by_action": summary["by_action"],
        "timeline": [
            [point["start"].replace(".000000Z", "Z"), point["count"]]
            for point in summary["timeline"]
        ],
    }


def week_ago() -> str:
    return (datetime.now(UTC) - timedelta(days=7)).isoformat()


def choose_action(page: Page, _person: Person) -> dict[str, str]:
    page.get_by_label("Action", exact=True).select_option("UPDATE")
    return {"action": "UPDATE", "start_date": week_ago()}


def choose_resource(page: Page, _person: Person) -> dict[str, str]:
    page.get_by_label("Resource", exact=True).select_option("MODEL")
    return {"resource_type": "MODEL", "start_date": week_ago()}


def search_text(page: Page, _person: Person) -> dict[str, str]:
    page.get_by_label("Search", exact=True).fill("llama")
    return {"q": "llama", "start_date": week_ago()}


def choose_dates(page: Page, _person: Person) -> dict[str, str]:
    today = datetime.now(UTC).date()
    start = (today - timedelta(days=2)).isoformat()
    page.get_by_label("From", exact=True).fill(start)
    page.get_by_label("To", exact=True).fill(today.isoformat())
    return {"start_date": start, "end_date": today.isoformat()}


def choose_user(page: Page, person: Person) -> dict[str, str]:
    user = page.get_by_label("User", exact=True)
    user.fill(person.name.split()[0])
    # The suggestions come from the users API as one types: name or email finds them.
    expect(page.locator(f"#user-options option[value='{person.email}']")).to_have_count(1)
    user.fill(person.email)
    return {"user_email": person.email, "start_date": week_ago()}


FILTERS: dict[str, Callable[[Page, Person], dict[str, str]]] = {
    "action": choose_action,
    "resource": choose_resource,
    "search": search_text,
    "dates": choose_dates,
    "user": choose_user,
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_agrees_with_the_api(
    admin_page: Page, tenant: Tenant, admin: Person, name: str
) -> None:
    dana = add_person(tenant, name="Dana Developer", role=Role.DEVELOPER)
    seed_activity(tenant, dana)
    admin_page.goto(f"{tenant.stack.base_url}/ui/activity")
    params = FILTERS[name](admin_page, dana)
    admin_page.get_by_role("button", name="Apply").click()
    admin_page.wait_for_load_state()
    expected = from_api(tenant, params)
    assert 0 < expected["total"] < api_everything(tenant)  # the filter selects something
    assert shown(admin_page) == expected
    screenshot(admin_page, f"activity-filter-{name}")


def api_everything(tenant: Tenant) -> int:
    return int(tenant.reader.get("/audit-logs/", params={"limit": 1}).json()["total"])


def test_the_last_24_hours_and_the_dashboard_agree_with_the_api(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    seed_activity(tenant, admin)
    base = tenant.stack.base_url
    admin_page.goto(f"{base}/ui/dashboard")
    admin_page.get_by_role("link", name="Last 24 hours").click()
    expect(admin_page).to_have_url(re.compile(r"range=24h"))
    expected = from_api(
        tenant, {"start_date": (datetime.now(UTC) - timedelta(hours=24)).isoformat()}
    )
    assert shown(admin_page) == expected
    assert expected["timeline"]
    hours = [start for start, _count in expected["timeline"]]
    assert all(re.fullmatch(r".*T\d\d:00:00Z", start) for start in hours)  # drawn by the hour


def test_the_url_keeps_the_filters_and_back_restores_them(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    seed_activity(tenant, admin)
    admin_page.goto(f"{tenant.stack.base_url}/ui/activity")
    admin_page.get_by_label("Action", exact=True).select_option("UPDATE")
    admin_page.get_by_role("button", name="Apply").click()
    expect(admin_page).to_have_url(re.compile(r"action=UPDATE"))
    admin_page.get_by_label("Resource", exact=True).select_option("CLUSTER")
    admin_page.get_by_label("Search", exact=True).fill("gpu")
    admin_page.get_by_role("button", name="Apply").click()
    expect(admin_page).to_have_url(re.compile(r"resource=CLUSTER"))
    narrowed = shown(admin_page)["total"]

    admin_page.go_back()
    expect(admin_page.get_by_label("Action", exact=True)).to_have_value("UPDATE")
    expect(admin_page.get_by_label("Resource", exact=True)).to_have_value("")
    expect(admin_page.get_by_label("Search", exact=True)).to_have_value("")
    assert shown(admin_page)["total"] > narrowed

    # A bookmarked view opens as it was left.
    admin_page.go_forward()
    bookmarked = admin_page.url
    admin_page.goto(f"{tenant.stack.base_url}/ui/dashboard")
    admin_page.goto(bookmarked)
    expect(admin_page.get_by_label("Resource", exact=True)).to_have_value("CLUSTER")
    expect(admin_page.get_by_label("Search", exact=True)).to_have_value("gpu")
    assert shown(admin_page)["total"] == narrowed


def test_export_downloads_exactly_the_filtered_rows(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    dana = add_person(tenant, name="Dana Developer", role=Role.DEVELOPER)
    seed_activity(tenant, dana)
    admin_page.goto(f"{tenant.stack.base_url}/ui/users/{dana.id}/activity?action=UPDATE")
    with admin_page.expect_download() as download_info:
        admin_page.get_by_role("link", name="CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))

    href = admin_page.get_by_role("link", name="CSV").get_attribute("href") or ""
    query = {key: values[0] for key, values in parse_qs(urlsplit(href).query).items()}
    assert query["person"] == dana.id  # her events, however producers named her
    assert query["action"] == "UPDATE"
    listed = list_all(
        tenant.reader, "/audit-logs/", user_id=dana.id, action="UPDATE", start_date=week_ago()
    )
    assert [row["id"] for row in rows] == [event["id"] for event in listed]
    assert rows
    assert all(row["action"] == "UPDATE" for row in rows)

    with admin_page.expect_download() as json_info:
        admin_page.get_by_role("link", name="JSON", exact=True).click()
    assert json_info.value.suggested_filename.endswith(".json")
    json_info.value.path()  # the whole download
    assert recorded_exports(tenant, 2) == [admin.email, admin.email]  # recorded, and by whom


def recorded_exports(tenant: Tenant, expected: int) -> list[str]:
    """Who the EXPORT events name; each is written as its download ends, so allow a moment."""
    items = eventually(
        lambda: tenant.reader.get("/audit-logs/", params={"action": "EXPORT"}).json()["items"],
        lambda found: len(found) >= expected,
        what=f"{expected} EXPORT event(s)",
        interval=0.1,
    )
    return [item["user_email"] for item in items]


def test_a_network_and_countries_select_the_events_from_there(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    # Germany (5.9.x and 46.4.x), France, Great Britain; a private address has no country.
    addresses = ["5.9.0.1", "5.9.200.7", "46.4.0.1", "51.15.0.1", "81.2.69.160", "10.0.0.1"]
    events = [
        {"action": "UPDATE", "resource_type": "MODEL", "resource_id": f"model-{n}",
         "user_id": admin.id, "ip_address": address,
         "timestamp": (now - timedelta(hours=n + 1)).isoformat()}
        for n, address in enumerate(addresses * 2)
    ]  # fmt: skip
    assert tenant.writer.post("/audit-logs/batch", json={"events": events}).status_code == 201
    admin_page.goto(f"{tenant.stack.base_url}/ui/activity")
    admin_page.get_by_label("IP address", exact=True).fill("5.9.0.0/16")
    admin_page.get_by_label("Country", exact=True).fill("de, fr")
    admin_page.get_by_role("button", name="Apply").click()
    expect(admin_page).to_have_url(re.compile(r"ip=5\.9\.0\.0%2F16.*country=de"))
    expected = from_api(
        tenant, {"ip_address": "5.9.0.0/16", "country": "DE,FR", "start_date": week_ago()}
    )
    assert expected["total"] == 4  # two addresses in the network, each twice
    assert shown(admin_page) == expected
    screenshot(admin_page, "activity-filter-network-country")

    # A network written with its host's bits shows the error the way other fields do.
    admin_page.get_by_label("IP address", exact=True).fill("5.9.200.7/16")
    admin_page.get_by_role("button", name="Apply").click()
    expect(admin_page.get_by_role("alert")).to_contain_text("IP address")
    expect(admin_page.get_by_role("alert")).to_contain_text("5.9.0.0/16")
    expect(admin_page.get_by_label("IP address", exact=True)).to_have_value("5.9.200.7/16")


def test_a_query_in_the_search_box_selects_what_the_api_does_and_errors_point_at_the_token(
    admin_page: Page, tenant: Tenant, admin: Person
) -> None:
    dana = add_person(tenant, name="Dana Developer", role=Role.DEVELOPER)
    seed_activity(tenant, dana)
    admin_page.goto(f"{tenant.stack.base_url}/ui/activity")
    query = "action:UPDATE,DELETE -resource:USER"
    admin_page.get_by_label("Search", exact=True).fill(query)
    admin_page.get_by_role("button", name="Apply").click()
    admin_page.wait_for_load_state()
    expected = from_api(tenant, {"q": query, "start_date": week_ago()})
    assert 0 < expected["total"] < api_everything(tenant)
    assert shown(admin_page) == expected

    # The help lists every field with an example.
    admin_page.get_by_role("button", name="How to search").click()
    help_box = admin_page.get_by_role("dialog", name="How to search")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text('details.reason:"invalid credentials"')
    expect(help_box).to_contain_text("ip:10.0.0.0/8")
    admin_page.keyboard.press("Escape")

    # A mistake: the message under the box says what and where; the box keeps the text.
    typo = 'resource:ENDPOINT action:DELET "production'
    admin_page.get_by_label("Search", exact=True).fill(typo)
    admin_page.get_by_role("button", name="Apply").click()
    error = admin_page.locator("#q-error")
    expect(error).to_contain_text("unknown value 'DELET' for action")
    expect(error).to_contain_text("at character 26")
    expect(error.locator("mark")).to_have_text("DELET")
    expect(admin_page.get_by_label("Search", exact=True)).to_have_value(typo)
    expect(admin_page.get_by_label("Search", exact=True)).to_have_attribute("aria-invalid", "true")
    screenshot(admin_page, "activity-search-error")
