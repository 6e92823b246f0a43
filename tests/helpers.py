"""Small helpers the integration tests share."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

BASE_TIME = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def make_event(**fields: Any) -> dict[str, Any]:
    """A valid event, with ``fields`` overriding the defaults."""
    event: dict[str, Any] = {
        "action": "CREATE",
        "resource_type": "PROJECT",
        "resource_id": "project-abc-123",
        "user_id": "user-def-456",
        "user_email": "alice@company.com",
        "ip_address": "192.168.1.100",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
        "details": {"project_name": "My AI Project"},
    }
    event.update(fields)
    return {k: v for k, v in event.items() if v is not ...}


def own_details(event: dict[str, Any]) -> dict[str, Any]:
    """The details of an event Vigil recorded itself while serving a request, without the
    request's id, which must be there (``X-Request-ID``)."""
    details = dict(event["details"])
    request_id = details.pop("request_id", "")
    assert re.fullmatch(r"[A-Za-z0-9.:+/=-]{1,64}", request_id), event
    return details


def at(minutes: float) -> str:
    """An ISO timestamp ``minutes`` after a fixed base time."""
    return (BASE_TIME + timedelta(minutes=minutes)).isoformat()


def ingest(client: httpx.Client, events: list[dict[str, Any]]) -> list[str]:
    """Store events through the batch API (in chunks of 1000) and return their ids."""
    ids: list[str] = []
    for start in range(0, len(events), 1000):
        answer = client.post("/audit-logs/batch", json={"events": events[start : start + 1000]})
        assert answer.status_code == 201, answer.text
        ids.extend(answer.json()["ids"])
    return ids


def list_all(
    client: httpx.Client, path: str = "/audit-logs/", **params: Any
) -> list[dict[str, Any]]:
    """Every matching event, following cursors."""
    items: list[dict[str, Any]] = []
    query = {"limit": 1000, **params}
    while True:
        answer = client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        query["cursor"] = page["next_cursor"]


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    what: str,
    timeout: float = 10.0,
    interval: float = 0.05,
) -> T:
    """The first value of ``probe()`` that ``until`` accepts (by default: any truthy value),
    asking again every ``interval`` seconds for at most ``timeout`` seconds.

    On timeout the test fails, naming ``what`` it waited for and the last value seen. An
    exception from ``probe`` is not retried: it fails the test at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            seen = repr(value)
            if len(seen) > 2000:
                seen = seen[:2000] + "…"
            raise AssertionError(f"waited {timeout:g} s for {what}; last seen: {seen}")
        time.sleep(interval)
