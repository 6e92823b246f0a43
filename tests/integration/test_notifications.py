"""Alerts reach people: email through a real SMTP server, Slack through a real HTTP receiver
(which fails first, to prove retries), and the in-app inbox."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import eventually, ingest, make_event, own_details
from tests.integration.test_detections import ATTACKER, alerts_of, control, failed_login
from tests.integration.test_sign_in import PASSWORD, address, make_user
from vigil.core.permissions import Role

# The path of a Slack webhook is its secret; the scan after the suite looks for this one.
WEBHOOK_SECRET = "T0VIGIL/B0TEST/xoxb-webhook-secret-3f9a"


class SlackReceiver:
    """An incoming-webhook stand-in on loopback: records bodies, can fail the first posts."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"server_error")
                    return
                receiver.bodies.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{WEBHOOK_SECRET}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """What was posted, once at least ``count`` posts have arrived."""
        return eventually(
            lambda: list(self.bodies),
            lambda bodies: len(bodies) >= count,
            what=f"{count} post(s) to Slack",
            timeout=timeout,
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    receiver = SlackReceiver()
    yield receiver
    receiver.close()


def configure(
    tenant: Tenant, *, slack_url: str | None = None, email: list[str] | None = None
) -> dict[str, Any]:
    body = {
        "email": {"enabled": bool(email), "recipients": email or []},
        "slack": {"enabled": slack_url is not None, "webhook_url": slack_url},
        "in_app": {"enabled": True},
    }
    answer = tenant.admin.put("/settings/notifications", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def brute_force(tenant: Tenant) -> dict[str, Any]:
    ingest(tenant.writer, [failed_login(ATTACKER, f"a{i}@example.com") for i in range(5)])
    (alert,) = alerts_of(tenant, "brute_force")
    return alert  # type: ignore[no-any-return]


def test_settings_are_kept_and_the_webhook_never_shown(
    tenant: Tenant, slack: SlackReceiver
) -> None:
    assert tenant.reader.get("/settings/notifications").json() == {
        "email": {"enabled": False, "recipients": []},
        "slack": {"enabled": False, "webhook_url": None, "webhook_configured": False},
        "in_app": {"enabled": True},
    }
    shown = configure(tenant, slack_url=slack.url, email=["SecOps@Example.com"])
    assert shown["email"] == {"enabled": True, "recipients": ["secops@example.com"]}
    assert shown["slack"]["webhook_configured"] is True
    assert WEBHOOK_SECRET not in json.dumps(shown)
    # Leaving the URL out keeps the one set.
    again = tenant.admin.put(
        "/settings/notifications",
        json={"email": {"enabled": False}, "slack": {"enabled": True}, "in_app": {"enabled": True}},
    )
    assert again.json()["slack"]["webhook_configured"] is True
    recorded = tenant.reader.get("/audit-logs/", params={"resource_type": "SETTINGS"}).json()[
        "items"
    ]
    assert own_details(recorded[0]) == {"changed_fields": ["email.enabled", "email.recipients"]}
    assert "slack.webhook_url" in recorded[1]["details"]["changed_fields"]
    assert WEBHOOK_SECRET not in json.dumps(recorded)


def test_bad_settings_name_the_field(tenant: Tenant) -> None:
    for body, field in [
        ({"email": {"enabled": True, "recipients": []}}, "email.recipients"),
        ({"email": {"enabled": True, "recipients": ["not an email"]}}, "email.recipients[0]"),
        ({"slack": {"enabled": True}}, "slack.webhook_url"),
        ({"slack": {"enabled": True, "webhook_url": "ftp://example.com/x"}}, "slack.webhook_url"),
        ({"pager": {"enabled": True}}, "pager"),
        ({"slack": {"enabled": True, "webhook_url": "http://10.0.0.5/hook"}}, "slack.webhook_url"),
    ]:
        answer = tenant.admin.put("/settings/notifications", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"][0]["field"] == field, answer.text


def test_an_alert_goes_to_slack_email_and_the_inbox(tenant: Tenant, slack: SlackReceiver) -> None:
    viewer = make_user(tenant, role=Role.ADMIN)
    bystander = make_user(tenant, role=Role.DEVELOPER)
    secops = f"secops-{uuid.uuid4().hex[:8]}@example.com"
    configure(tenant, slack_url=slack.url, email=[secops])
    alert = brute_force(tenant)

    (posted,) = slack.wait_for(1, timeout=5)
    assert posted["text"].startswith("Vigil alert: [HIGH] brute_force: 5 failed logins from")
    section, fields, actions = posted["blocks"]
    assert "5 failed logins" in section["text"]["text"]
    assert [f["text"].split("\n")[0] for f in fields["fields"]] == [
        "*Severity*", "*Rule*", "*Subject*", "*Events*",
    ]  # fmt: skip
    link = actions["elements"][0]["url"]
    assert link == f"http://vigil.test/ui/security/alerts/{alert['id']}"

    mail = tenant.stack.inbox.wait_for(secops)
    assert mail["Subject"].startswith("Vigil alert: [HIGH] brute_force")
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Severity: HIGH" in text
    assert link in text

    assert inbox_of(tenant, viewer)["unread"] == 1
    assert inbox_of(tenant, bystander)["unread"] == 0  # developers cannot read activity
    deliveries = settled_deliveries(tenant, alert["id"])
    assert sorted((d["channel"], d["status"]) for d in deliveries) == [
        ("email", "SENT"), ("slack", "SENT"),
    ]  # fmt: skip


def deliveries_of(tenant: Tenant, alert_id: str) -> list[dict[str, Any]]:
    """The alert's email and Slack deliveries, as shown now."""
    shown = tenant.reader.get(f"/security/alerts/{alert_id}").json()
    return shown["deliveries"]  # type: ignore[no-any-return]


def settled_deliveries(tenant: Tenant, alert_id: str) -> list[dict[str, Any]]:
    """The alert's deliveries once none is pending (a send is marked just after it is made)."""
    return eventually(
        lambda: deliveries_of(tenant, alert_id),
        lambda found: bool(found) and all(d["status"] == "SENT" for d in found),
        what=f"every delivery of alert {alert_id} to be SENT",
    )


def slack_control(tenant: Tenant, receiver: SlackReceiver) -> dict[str, Any]:
    """A positive control for "nothing reached Slack": an alert that must be posted to the
    same webhook, raised after the one under test; returns its post once it has arrived.

    The deliverer sends due messages one at a time, oldest first, so when the control's post
    is there, any message written before it would have been posted first.
    """
    alert = control(tenant)
    (post,) = eventually(
        lambda: [b for b in receiver.bodies if alert["subject"] in b["text"]],
        what=f"the control alert's post to Slack (privilege_escalation of {alert['subject']})",
    )
    return post  # type: ignore[no-any-return]


def inbox_of(tenant: Tenant, user: dict[str, Any]) -> dict[str, Any]:
    with closing(session(tenant, user)) as client:
        return client.get("/notifications").json()  # type: ignore[no-any-return]


def session(tenant: Tenant, user: dict[str, Any]) -> httpx.Client:
    client = httpx.Client(base_url=tenant.stack.base_url, headers={"X-Forwarded-For": address()})
    token = client.post("/auth/login", json={"email": user["email"], "password": PASSWORD}).json()[
        "token"
    ]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_slack_down_then_back_delivers_once_with_the_failure_shown(tenant: Tenant) -> None:
    flaky = SlackReceiver(failures=1)
    try:
        configure(tenant, slack_url=flaky.url)
        alert = brute_force(tenant)
        (delivery,) = eventually(
            lambda: deliveries_of(tenant, alert["id"]),
            lambda found: len(found) != 1 or found[0]["attempts"] >= 1,
            what="the first attempt at the Slack delivery",
        )
        assert delivery["status"] == "PENDING"
        assert delivery["last_error"] == "slack answered 500: server_error"
        assert WEBHOOK_SECRET not in json.dumps(delivery)
        # The first retry comes within ten seconds, and then it is delivered, once.
        (first,) = flaky.wait_for(1, timeout=15)
        assert first["text"].startswith("Vigil alert: [HIGH] brute_force: ")
        posted = slack_control(tenant, flaky)
        assert flaky.bodies == [first, posted]  # the alert once, then the control
        (delivered,) = tenant.reader.get(f"/security/alerts/{alert['id']}").json()["deliveries"]
        assert delivered["status"] == "SENT"
        assert delivered["attempts"] == 2
    finally:
        flaky.close()


def test_the_inbox_counts_and_marks_read(tenant: Tenant) -> None:
    viewer = make_user(tenant, role=Role.ADMIN)
    brute_force(tenant)
    ingest(tenant.writer, [failed_login("198.51.100.99", f"b{i}@example.com") for i in range(5)])
    alerts_of(tenant, "brute_force", at_least=2)
    with closing(session(tenant, viewer)) as client:
        listed = eventually(
            lambda: client.get("/notifications").json(),
            lambda inbox: inbox["unread"] >= 2,
            what="two unread notifications",
        )
        assert listed["unread"] == 2
        first = listed["items"][0]
        assert first["title"].startswith("[HIGH] brute_force: 5 failed logins from 198.51.100.99")
        assert client.post(f"/notifications/{first['id']}/read").json() == {"unread": 1}
        assert client.post("/notifications/read-all").json() == {"unread": 0}
        assert client.get("/notifications").json()["unread"] == 0
        assert (
            client.post("/notifications/00000000-0000-0000-0000-000000000000/read").status_code
            == 404
        )
    assert tenant.admin.get("/notifications").status_code == 403  # a key has no inbox


def test_the_inbox_reaches_whoever_may_read_activity_by_role_or_grant(tenant: Tenant) -> None:
    granted = make_user(tenant, role=Role.DEVELOPER)
    writer = make_user(tenant, role=Role.DEVELOPER)
    for user, permissions in ((granted, ["USER_VIEW"]), (writer, ["EVENTS_WRITE"])):
        answer = tenant.admin.patch(f"/users/{user['id']}", json={"permissions": permissions})
        assert answer.status_code == 200, answer.text
    brute_force(tenant)  # the inbox rows commit with the alert
    assert inbox_of(tenant, granted)["unread"] == 1
    assert inbox_of(tenant, writer)["unread"] == 0  # EVENTS_WRITE does not read activity


def test_below_the_minimum_severity_nobody_is_told(tenant: Tenant, slack: SlackReceiver) -> None:
    configure(tenant, slack_url=slack.url)
    assert (
        tenant.admin.patch(
            "/security/rules/brute_force", json={"min_severity": "CRITICAL"}
        ).status_code
        == 200
    )
    brute_force(tenant)
    posted = slack_control(tenant, slack)
    assert slack.bodies == [posted]  # the control alone: no word of the brute force


def test_a_channel_the_rule_leaves_out_gets_nothing(tenant: Tenant, slack: SlackReceiver) -> None:
    viewer = make_user(tenant, role=Role.ADMIN)
    configure(tenant, slack_url=slack.url)
    chosen = tenant.admin.patch("/security/rules/brute_force", json={"channels": ["in_app"]})
    assert chosen.status_code == 200, chosen.text
    alert = brute_force(tenant)
    posted = slack_control(tenant, slack)
    assert slack.bodies == [posted]  # the control alone: no word of the brute force
    assert deliveries_of(tenant, alert["id"]) == []
    told = [n["title"] for n in inbox_of(tenant, viewer)["items"]]
    assert any(title.startswith("[HIGH] brute_force: ") for title in told)  # in-app, as chosen


def test_send_test_reaches_every_enabled_channel(tenant: Tenant, slack: SlackReceiver) -> None:
    viewer = make_user(tenant, role=Role.ADMIN)
    recipient = f"tests-{uuid.uuid4().hex[:8]}@example.com"
    configure(tenant, slack_url=slack.url, email=[recipient])
    answer = tenant.admin.post("/settings/notifications/test")
    assert answer.json() == {"results": {"email": "sent", "slack": "sent", "in_app": "sent"}}
    assert "Test message from Vigil" in slack.bodies[0]["text"]
    assert tenant.stack.inbox.wait_for(recipient)["Subject"].strip().startswith("Vigil alert:")
    assert inbox_of(tenant, viewer)["unread"] == 1


def test_send_test_reports_a_broken_channel(tenant: Tenant) -> None:
    configure(tenant, slack_url="http://127.0.0.1:9/services/" + WEBHOOK_SECRET)
    results = tenant.admin.post("/settings/notifications/test").json()["results"]
    assert results["slack"].startswith("failed: slack: ")
    assert WEBHOOK_SECRET not in results["slack"]
    assert results["in_app"] == "sent"


def test_event_data_with_line_breaks_still_makes_a_valid_email(tenant: Tenant) -> None:
    secops = f"secops-{uuid.uuid4().hex[:8]}@example.com"
    configure(tenant, email=[secops])
    odd = "evil\nBcc: victim@example.com"
    ingest(
        tenant.writer,
        [make_event(action="DELETE", user_id=odd, user_email=None) for _ in range(10)],
    )
    alerts_of(tenant, "bulk_delete")
    mail = tenant.stack.inbox.wait_for(secops)
    assert "\n" not in mail["Subject"]
    assert mail["Bcc"] is None
