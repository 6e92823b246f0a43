"""The built-in rules find what they are named for, in ingested events and in Vigil's own
sign-ins, and say so in a sentence a person understands."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.helpers import eventually, ingest, make_event
from tests.integration.test_sign_in import address

ATTACKER = "198.51.100.42"


def listed_alerts(tenant: Tenant, rule: str) -> list[Any]:
    """The tenant's alerts of ``rule``, as listed now."""
    listed = tenant.reader.get("/security/alerts", params={"rule": rule})
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]  # type: ignore[no-any-return]


def alerts_of(tenant: Tenant, rule: str, *, at_least: int = 1) -> list[Any]:
    """The tenant's alerts of ``rule``, once detections have raised ``at_least`` of them."""
    return eventually(
        lambda: listed_alerts(tenant, rule),
        lambda found: len(found) >= at_least,
        what=f"{at_least} {rule} alert(s)",
    )


def control(tenant: Tenant) -> dict[str, Any]:
    """A positive control for "no alert was raised": an event that must raise an alert of
    its own (privilege_escalation, for a subject of its own), ingested after the events under
    test; returns its alert once it exists.

    Detections evaluate a tenant's committed events in commit order, so when the control's
    alert exists, everything ingested before it has been evaluated: an alert those events
    should not have raised would be there too.
    """
    subject = f"control-{uuid.uuid4().hex[:8]}"
    ingest(tenant.writer, [control_event(subject)])
    (alert,) = eventually(
        lambda: [
            a for a in listed_alerts(tenant, "privilege_escalation") if a["subject"] == subject
        ],
        what=f"the control alert (privilege_escalation of {subject})",
    )
    return alert  # type: ignore[no-any-return]


def control_event(subject: str) -> dict[str, Any]:
    """A role raised to ADMIN for ``subject``: one privilege_escalation alert, nothing else."""
    raise_role = {"changed_fields": ["role"], "old_value": "DEVELOPER", "new_value": "ADMIN"}
    return escalation("controller", subject, raise_role)


def failed_login(ip: str, account: str, **fields: Any) -> dict[str, Any]:
    event = {
        "action": "LOGIN_FAILED",
        "resource_type": "USER",
        "resource_id": None,
        "user_id": None,
        "user_email": None,
        "ip_address": ip,
        "status": "FAILED",
        "details": {"reason": "invalid password", "attempted_email": account},
    }
    return make_event(**{**event, **fields})


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def test_brute_force_from_one_address(tenant: Tenant) -> None:
    accounts = ["ana@example.com", "ben@example.com", "cy@example.com"]
    ingest(
        tenant.writer,
        [failed_login(ATTACKER, accounts[i % 3], timestamp=ago(4 - i)) for i in range(5)],
    )
    (alert,) = alerts_of(tenant, "brute_force")
    assert alert["severity"] == "HIGH"
    assert alert["status"] == "OPEN"
    assert alert["subject"] == ATTACKER
    assert alert["count"] == 5
    assert alert["summary"] == f"5 failed logins from {ATTACKER} in 4 minutes, against 3 accounts"
    shown = tenant.reader.get(f"/security/alerts/{alert['id']}").json()
    assert len(shown["evidence"]) == 5
    assert {e["action"] for e in shown["evidence"]} == {"LOGIN_FAILED"}

    # More of the same updates the open alert instead of opening another.
    ingest(tenant.writer, [failed_login(ATTACKER, "dee@example.com")])
    (updated,) = eventually(
        lambda: listed_alerts(tenant, "brute_force"),
        lambda found: len(found) != 1 or found[0]["count"] >= 6,
        what="the brute_force alert to count the sixth failure",
    )
    assert updated["id"] == alert["id"]
    assert updated["count"] == 6
    assert "against 4 accounts" in updated["summary"]


def test_brute_force_from_many_addresses_at_once(tenant: Tenant) -> None:
    # More than three addresses in one pass: they are counted together, grouped by address.
    attackers = [f"198.51.100.{n}" for n in range(20, 25)] + ["2001:db8::bad"]
    bystanders = [f"198.51.100.{n}" for n in range(30, 34)]
    events = [failed_login(ip, "ana@example.com") for ip in attackers for _ in range(5)]
    events += [failed_login(ip, "ana@example.com") for ip in bystanders for _ in range(2)]
    ingest(tenant.writer, events)
    found = alerts_of(tenant, "brute_force", at_least=len(attackers))
    control(tenant)
    assert sorted(a["subject"] for a in listed_alerts(tenant, "brute_force")) == sorted(attackers)
    assert {a["count"] for a in found} == {5}


def test_four_failures_or_spread_out_ones_raise_nothing(tenant: Tenant) -> None:
    ingest(tenant.writer, [failed_login("198.51.100.7", "ana@example.com") for _ in range(4)])
    ingest(
        tenant.writer,
        [failed_login("198.51.100.8", "ana@example.com", timestamp=ago(15 * i)) for i in range(5)],
    )
    control(tenant)
    assert listed_alerts(tenant, "brute_force") == []


def test_vigils_own_failed_sign_ins_are_watched_too(tenant: Tenant) -> None:
    ip = address()
    with httpx.Client(base_url=tenant.stack.base_url, headers={"X-Forwarded-For": ip}) as client:
        for attempt in range(5):
            body = {
                "email": f"nobody-{attempt}@example.com",
                "password": "guessing",
                "tenant": tenant.name,
            }
            assert client.post("/auth/login", json=body).status_code == 401
    (alert,) = alerts_of(tenant, "brute_force")
    assert alert["subject"] == ip
    assert "against 5 accounts" in alert["summary"]


def test_distributed_brute_force_against_one_account(tenant: Tenant) -> None:
    target = {"user_id": "user-victim", "user_email": "victim@example.com"}
    sources = ["203.0.113.1"] * 3 + ["203.0.113.2"] * 3 + ["203.0.113.3"] * 2 + ["203.0.113.4"] * 2
    ingest(tenant.writer, [failed_login(ip, "victim@example.com", **target) for ip in sources])
    (alert,) = alerts_of(tenant, "brute_force_distributed")
    assert alert["subject"] == "victim@example.com"
    assert alert["summary"].startswith(
        "10 failed logins against victim@example.com from 4 addresses"
    )
    assert listed_alerts(tenant, "brute_force") == []  # no single address reached five


def test_a_distributed_burst_followed_by_a_later_failure_in_one_batch_is_caught(
    tenant: Tenant,
) -> None:
    """The same for failures against one account from many addresses: an hour-old burst
    loaded with a failure from a minute ago is judged in its own window."""
    target = {"user_id": "user-late", "user_email": "late@example.com"}
    sources = ["203.0.113.1"] * 3 + ["203.0.113.2"] * 3 + ["203.0.113.3"] * 2 + ["203.0.113.4"] * 2
    burst = [
        failed_login(ip, "late@example.com", timestamp=ago(60 - n / 10), **target)
        for n, ip in enumerate(sources)
    ]
    later = failed_login("203.0.113.9", "late@example.com", timestamp=ago(1), **target)
    ingest(tenant.writer, [*burst, later])
    (alert,) = alerts_of(tenant, "brute_force_distributed")
    assert alert["summary"].startswith("10 failed logins against late@example.com from 4 addresses")


def login(user: str, ip: str, when: str | None = None) -> dict[str, Any]:
    fields = {"timestamp": when} if when else {}
    return make_event(
        action="LOGIN", resource_type="USER", resource_id=user, user_id=user,
        user_email=f"{user}@example.com", ip_address=ip, **fields,
    )  # fmt: skip


def test_a_sign_in_from_a_new_country(tenant: Tenant) -> None:
    ingest(
        tenant.writer,
        [login("mia", "81.2.69.160", ago(60 * 24 * d)) for d in (3, 10, 40)]  # GB, history
        + [login("newbie", "8.8.8.8")],  # no history: nothing to compare with
    )
    ingest(tenant.writer, [login("mia", "200.160.2.3")])  # BR
    (alert,) = alerts_of(tenant, "unexpected_location")
    assert alert["severity"] == "MEDIUM"
    assert alert["subject"] == "mia@example.com"
    assert (
        alert["summary"] == "Sign-in by mia@example.com from BR, not seen in 90 days (usually GB)"
    )

    # Moments later, from a third country: that is faster than anyone travels.
    ingest(tenant.writer, [login("mia", "41.0.0.1")])  # ZA
    (raised,) = eventually(
        lambda: listed_alerts(tenant, "unexpected_location"),
        lambda found: len(found) != 1 or found[0]["severity"] == "HIGH",
        what="the unexpected_location alert to be raised to HIGH",
    )
    assert raised["id"] == alert["id"]
    assert "from ZA" in raised["summary"]
    assert "after one from BR" in raised["summary"]


def test_off_hours_activity_makes_one_alert_per_person_and_day(tenant: Tenant) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=30)
    hour = moment.astimezone(UTC).hour
    hours = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "13:00", "end": "23:00"}
    if 13 <= hour < 23:
        hours.update(start="01:00", end="11:00")
    changed = tenant.admin.patch("/settings", json={"timezone": "UTC", "working_hours": hours})
    assert changed.status_code == 200, changed.text
    night = [make_event(user_id="owl", user_email="owl@example.com", timestamp=moment.isoformat())]
    ingest(tenant.writer, night * 3)
    (alert,) = eventually(lambda: owls_alerts(tenant), what="the owl's off_hours alert")
    assert alert["severity"] == "LOW"
    assert alert["count"] == 3
    assert alert["summary"].startswith("owl@example.com active outside working hours on ")
    ingest(tenant.writer, night)
    (updated,) = eventually(
        lambda: owls_alerts(tenant),
        lambda found: len(found) != 1 or found[0]["count"] >= 4,
        what="the owl's off_hours alert to count the fourth event",
    )
    assert updated["id"] == alert["id"]
    assert updated["count"] == 4


def test_activity_in_working_hours_raises_nothing(tenant: Tenant) -> None:
    every_hour = {"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}
    assert tenant.admin.patch("/settings", json={"working_hours": every_hour}).is_success
    ingest(tenant.writer, [make_event(user_id="lark", user_email="lark@example.com")] * 3)
    control(tenant)
    assert listed_alerts(tenant, "off_hours") == []


def owls_alerts(tenant: Tenant) -> list[Any]:
    # Only the owl's: changing the settings may itself have been off hours for the admin.
    return [a for a in listed_alerts(tenant, "off_hours") if a["subject"] == "owl@example.com"]


def test_bulk_deletion(tenant: Tenant) -> None:
    ingest(
        tenant.writer,
        [
            make_event(action="DELETE", resource_id=f"model-{i}", resource_type="MODEL")
            for i in range(9)
        ],
    )
    control(tenant)  # not a deletion: the count stays at nine
    assert listed_alerts(tenant, "bulk_delete") == []
    ingest(
        tenant.writer, [make_event(action="DELETE", resource_id="model-9", resource_type="MODEL")]
    )
    (alert,) = alerts_of(tenant, "bulk_delete")
    assert alert["severity"] == "HIGH"
    assert alert["subject"] == "alice@company.com"
    assert alert["summary"].startswith("10 deletions by alice@company.com in ")


def test_a_burst_followed_by_a_later_event_in_one_batch_is_caught(tenant: Tenant) -> None:
    """A catch-up or a bulk import brings a burst and, later, another event of the same
    person in one pass: the burst's own window is judged, not only the newest one."""
    burst = [
        make_event(
            action="DELETE",
            resource_id=f"old-{i}",
            resource_type="MODEL",
            timestamp=ago(60 - i / 10),
        )
        for i in range(12)
    ]
    later = make_event(
        action="DELETE", resource_id="later", resource_type="MODEL", timestamp=ago(1)
    )
    ingest(tenant.writer, [*burst, later])
    (alert,) = alerts_of(tenant, "bulk_delete")
    assert alert["summary"].startswith("12 deletions by alice@company.com in ")


def test_a_burst_is_caught_among_other_people_s_later_events_in_one_batch(
    tenant: Tenant,
) -> None:
    """With more than three people in a pass, those who cannot reach the threshold are ruled
    out by one grouped count; that count spans every window the pass can judge, so a burst an
    hour before its author's (and everyone's) newest event still counts."""
    burst = [
        make_event(
            action="DELETE",
            resource_id=f"old-{i}",
            resource_type="MODEL",
            timestamp=ago(60 - i / 10),
        )
        for i in range(12)
    ]
    own_later = make_event(
        action="DELETE", resource_id="later", resource_type="MODEL", timestamp=ago(1)
    )
    others = [
        make_event(
            action="DELETE",
            resource_type="MODEL",
            resource_id=f"later-{name}",
            user_id=name,
            user_email=f"{name}@company.com",
            timestamp=ago(1),
        )
        for name in ("bob", "carol", "dave", "erin")
    ]
    ingest(tenant.writer, [*burst, own_later, *others])
    (alert,) = alerts_of(tenant, "bulk_delete")
    assert alert["subject"] == "alice@company.com"
    assert alert["summary"].startswith("12 deletions by alice@company.com in ")


def escalation(actor: str, target: str, details: dict[str, Any]) -> dict[str, Any]:
    return make_event(
        action="UPDATE", resource_type="USER", resource_id=target, user_id=actor,
        user_email=f"{actor}@example.com", details=details,
    )  # fmt: skip


def test_privilege_escalation(tenant: Tenant) -> None:
    raise_role = {"changed_fields": ["role"], "old_value": "DEVELOPER", "new_value": "ADMIN"}
    lower_role = {"changed_fields": ["role"], "old_value": "ADMIN", "new_value": "TESTER"}
    grant = {
        "changed_fields": ["name", "permissions"],
        "changes": {
            "name": {"old": "B", "new": "Bo"},
            "permissions": {"old": ["USER_VIEW"], "new": ["USER_MANAGE", "USER_VIEW"]},
        },
    }
    ingest(
        tenant.writer,
        [
            escalation("boss", "bob", raise_role),
            escalation("boss", "carl", lower_role),
            escalation("eve", "eve", grant),
        ],
    )
    found = {a["subject"]: a for a in alerts_of(tenant, "privilege_escalation", at_least=2)}
    assert set(found) == {"bob", "eve"}
    assert found["bob"]["severity"] == "HIGH"
    assert found["bob"]["summary"] == "User bob: role DEVELOPER → ADMIN, by boss@example.com"
    assert found["eve"]["severity"] == "CRITICAL"  # granted to themselves
    assert found["eve"]["summary"] == "User eve: USER_MANAGE granted, by themselves"


def test_a_role_raised_in_vigil_itself_is_caught(tenant: Tenant) -> None:
    created = tenant.admin.post(
        "/users",
        json={"email": f"r-{uuid.uuid4().hex[:6]}@example.com", "name": "R", "role": "DEVELOPER"},
    ).json()
    assert tenant.admin.patch(f"/users/{created['id']}", json={"role": "ADMIN"}).status_code == 200
    (alert,) = alerts_of(tenant, "privilege_escalation")
    assert alert["subject"] == created["id"]
    assert "role DEVELOPER → ADMIN" in alert["summary"]


def test_history_being_loaded_raises_nothing(tenant: Tenant) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    ingest(tenant.writer, [failed_login(ATTACKER, "ana@example.com", timestamp=long_ago)] * 1)
    ingest(
        tenant.writer,
        [
            failed_login(ATTACKER, "ana@example.com", timestamp=long_ago, id=str(uuid.uuid4()))
            for _ in range(6)
        ],
    )
    control(tenant)
    assert listed_alerts(tenant, "brute_force") == []


def test_odd_details_do_not_silence_the_other_rules(tenant: Tenant) -> None:
    odd = [
        escalation("x", "y", {"changed_fields": 1}),
        escalation(
            "x", "y", {"changed_fields": ["permissions"], "old_value": [[1]], "new_value": 5}
        ),
        escalation("x", "y", {"changed_fields": ["role"], "old_value": ["A"], "new_value": {}}),
    ]
    ingest(tenant.writer, odd + [failed_login(ATTACKER, "x@example.com") for _ in range(5)])
    assert len(alerts_of(tenant, "brute_force")) == 1
    assert listed_alerts(tenant, "privilege_escalation") == []


def test_a_user_known_only_by_email_is_counted_by_email(tenant: Tenant) -> None:
    ingest(
        tenant.writer,
        [
            make_event(action="DELETE", user_id=None, user_email="mail-only@example.com")
            for _ in range(10)
        ],
    )
    (alert,) = alerts_of(tenant, "bulk_delete")
    assert alert["subject"] == "mail-only@example.com"


def test_among_many_people_only_the_one_over_the_threshold_is_flagged(tenant: Tenant) -> None:
    crowd = [
        make_event(action="DELETE", user_id=f"calm-{i}", user_email=f"calm{i}@example.com")
        for i in range(8)
    ]
    busy = [make_event(action="DELETE", user_id=None, user_email="busy@example.com")] * 10
    loud = [make_event(action="DELETE", user_id="loud", user_email="loud@example.com")] * 10
    ingest(tenant.writer, crowd + busy + loud)
    found = alerts_of(tenant, "bulk_delete", at_least=2)
    assert sorted(a["subject"] for a in found) == ["busy@example.com", "loud@example.com"]
