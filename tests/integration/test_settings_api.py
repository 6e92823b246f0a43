"""Tenant settings over the API, each change recorded."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant, TenantFactory
from tests.helpers import own_details

DEFAULTS = {
    "retention_days": 90,
    "ip_allowlist": [],
    "require_2fa_for_admins": False,
    "timezone": "UTC",
    "working_hours": {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "20:00"},
}


def test_settings_read_and_change_with_a_record(tenant: Tenant) -> None:
    assert tenant.reader.get("/settings").json() == DEFAULTS
    changed = tenant.admin.patch("/settings", json={"retention_days": 365, "ip_allowlist": []})
    assert changed.status_code == 200
    assert changed.json() == {**DEFAULTS, "retention_days": 365}
    assert tenant.reader.get("/settings").json() == {**DEFAULTS, "retention_days": 365}
    (event,) = tenant.reader.get("/audit-logs/", params={"resource_type": "SETTINGS"}).json()[
        "items"
    ]
    assert event["action"] == "UPDATE"
    assert own_details(event) == {
        "changed_fields": ["retention_days"],
        "old_value": 90,
        "new_value": 365,
    }
    tenant.admin.patch("/settings", json={"retention_days": 365, "ip_allowlist": []})
    assert (
        tenant.reader.get("/audit-logs/", params={"resource_type": "SETTINGS"}).json()["total"] == 1
    )


def test_settings_belong_to_one_tenant(tenant_factory: TenantFactory) -> None:
    mine, theirs = tenant_factory(), tenant_factory()
    mine.admin.patch("/settings", json={"retention_days": 7})
    assert theirs.reader.get("/settings").json() == DEFAULTS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"retention_days": -1}, "retention_days"),
        ({"retention_days": "long"}, "retention_days"),
        ({"retention_days": None}, "retention_days"),
        ({"colour": "blue"}, "colour"),
        ({"require_2fa_for_admins": "perhaps"}, "require_2fa_for_admins"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        (
            {"working_hours": {"days": [7], "start": "08:00", "end": "18:00"}},
            "working_hours.days[0]",
        ),
        ({"working_hours": {"days": [0], "start": "8am", "end": "18:00"}}, "working_hours.start"),
        ({"working_hours": {"days": [0], "start": "18:00", "end": "08:00"}}, "working_hours"),
    ],
)
def test_bad_settings_name_the_field(tenant: Tenant, body: dict[str, object], field: str) -> None:
    answer = tenant.admin.patch("/settings", json=body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == field
    assert tenant.reader.get("/settings").json() == DEFAULTS


def test_working_hours_and_time_zone(tenant: Tenant) -> None:
    hours = {"days": [4, 0, 1], "start": "09:30", "end": "17:00"}
    changed = tenant.admin.patch(
        "/settings", json={"timezone": "Europe/Paris", "working_hours": hours}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Europe/Paris"
    assert changed.json()["working_hours"] == {"days": [0, 1, 4], "start": "09:30", "end": "17:00"}
    (event,) = tenant.reader.get("/audit-logs/", params={"resource_type": "SETTINGS"}).json()[
        "items"
    ]
    assert event["details"]["changes"]["working_hours"]["new"]["days"] == [0, 1, 4]
    assert event["details"]["changes"]["timezone"] == {"old": "UTC", "new": "Europe/Paris"}
