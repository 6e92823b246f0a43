"""Text a client sent is shown as it is: a right-to-left override, a zero-width space or a
control character cannot reorder or hide what an admin reads, in the row or its detail."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ON_SQLITE, screenshot
from tests.conftest import Tenant

pytestmark = ON_SQLITE

RLO = "\u202e"

# Where each character of ``word`` is drawn, left to right on the screen, in the first text
# node of the element that holds it: the order a reader sees, not the order stored.
DRAWN_ORDER = """(element, word) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(word);
    if (at < 0) continue;
    const range = document.createRange();
    const lefts = [];
    for (let i = 0; i < word.length; i++) {
      range.setStart(node, at + i);
      range.setEnd(node, at + i + 1);
      lefts.push([word[i], range.getBoundingClientRect().left]);
    }
    return lefts.sort((a, b) => a[1] - b[1]).map(pair => pair[0]).join("");
  }
  return null;
}"""


def drawn(locator: Locator, word: str) -> str | None:
    """``word`` as the screen shows it inside ``locator``."""
    found = locator.evaluate(DRAWN_ORDER, word)
    return None if found is None else str(found)


def test_overrides_and_invisible_characters_are_shown_for_what_they_are(
    admin_page: Page, tenant: Tenant
) -> None:
    answer = tenant.writer.post(
        "/audit-logs/",
        json={
            "action": "LOGIN",
            "resource_type": "USER",
            "resource_id": "proj-\u200bsecret",
            "user_id": f"x-invoice-{RLO}gpj.exe",
            "user_agent": f"curl/8.0 {RLO}SUCCESS",
            "ip_address": "203.0.113.9",
            "status": "FAILED",
            "details": {"note": f"paid{RLO}diapnu", "tab": "a\tb"},
        },
    )
    assert answer.status_code == 201, answer.text
    # A resource named to look like a picture (the Top resources list shows it too), and a
    # number written as a producer wrote it.
    raw = (
        '{"action": "UPDATE", "resource_type": "ENDPOINT", "resource_id": "x-invoice-'
        + "\\u202e"
        + 'gpj.exe", "user_id": "u-1", "details": {"amount": 1E+2, "rate": 0.1234567890123456789}}'
    )
    spoof = tenant.writer.post(
        "/audit-logs/", content=raw, headers={"Content-Type": "application/json"}
    )
    assert spoof.status_code == 201, spoof.text
    page = admin_page
    page.goto(f"{tenant.stack.base_url}/ui/activity")
    row = page.locator(f"details.event[data-event-id='{answer.json()['id']}']")
    actor = row.locator("summary .actor bdi")
    # Isolated from the columns beside it, and the override written out, not obeyed.
    assert actor.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    expect(actor).to_have_text("x-invoice-U+202Egpj.exe")
    assert drawn(actor, "gpj.exe") == "gpj.exe"
    expect(row.locator("summary .badge.status-failed")).to_have_text("FAILED")
    top = page.locator("ol.top-resources")
    expect(top).to_contain_text("x-invoice-U+202Egpj.exe")
    assert drawn(top, "gpj.exe") == "gpj.exe"
    assert RLO not in page.evaluate("document.body.innerText")

    spoofed = page.locator(f"details.event[data-event-id='{spoof.json()['id']}']")
    spoofed.locator("summary").click()
    numbers = spoofed.locator(".event-body pre.details")
    expect(numbers).to_contain_text('"amount": 1E+2')
    expect(numbers).to_contain_text('"rate": 0.1234567890123456789')

    row.locator("summary").click()
    body = row.locator(".event-body")
    agent = body.locator("dd[data-field=user_agent]")
    expect(agent).to_have_text("curl/8.0 U+202ESUCCESS")
    assert drawn(agent, "SUCCESS") == "SUCCESS"
    marker = agent.locator(".invisible-char")
    expect(marker).to_have_attribute("title", "RIGHT-TO-LEFT OVERRIDE")
    expect(marker).to_be_visible()
    expect(body.locator("dd[data-field=resource_id]")).to_have_text("proj-U+200Bsecret")
    expect(body.locator("dd[data-field=resource_id] .invisible-char")).to_have_attribute(
        "title", "ZERO WIDTH SPACE"
    )
    details = body.locator("pre.details")
    expect(details).to_contain_text('"note": "paidU+202Ediapnu"')
    expect(details).to_contain_text('"tab": "a\\tb"')  # JSON already spells C0 controls out
    screenshot(page, "activity-invisible-characters")
