"""The API reference pages work with no internet: every asset comes from Vigil itself."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import ON_SQLITE, screenshot
from tests.conftest import Stack

pytestmark = ON_SQLITE
REDOC_BADGE = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def loopback_only(page: Page, base_url: str) -> list[str]:
    """Refuse every request that is not to Vigil's own server; the list fills with them."""
    refused: list[str] = []
    origin = urlsplit(base_url).netloc

    def handle(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == origin or url.startswith("data:"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", handle)
    return refused


def test_swagger_ui_renders_every_operation_from_local_assets(page: Page, stack: Stack) -> None:
    refused = loopback_only(page, stack.base_url)
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    page.goto(f"{stack.base_url}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/audit-logs/export")).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    assert page.locator(".opblock").count() >= 40
    screenshot(page, "api-docs-swagger")
    assert f"{stack.base_url}/docs/assets/swagger-ui-bundle.js" in loaded
    assert refused == []


def test_redoc_renders_the_reference_from_local_assets(page: Page, stack: Stack) -> None:
    refused = loopback_only(page, stack.base_url)
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    page.goto(f"{stack.base_url}/redoc")
    expect(page.get_by_role("heading", name="Record one event").first).to_be_visible()
    screenshot(page, "api-docs-redoc")
    assert f"{stack.base_url}/docs/assets/redoc.standalone.js" in loaded
    # ReDoc's bundle links its own "API docs by Redocly" badge from its CDN; the reference
    # renders without it (above), and that image is all that was asked of the internet.
    assert refused in ([], [REDOC_BADGE])
