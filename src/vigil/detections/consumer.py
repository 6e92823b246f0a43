"""Detections as a consumer of the spine: the rules run on every committed event, in commit
order per tenant, exactly once, whichever process wrote it (DESIGN §2).

The plan (read only) evaluates the tenant's rules on a pass of events; applying it raises
the alerts and writes their notifications in the transaction that moves the cursor, so an
alert is never lost, nor raised twice, if the process dies at any point.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from vigil.detections import service
from vigil.detections.detect import detect
from vigil.detections.findings import Finding
from vigil.detections.wire import alert_signal
from vigil.events.tables import EventRow
from vigil.live.signals import ALERT, record_signals
from vigil.notifications import service as notifications
from vigil.settings import Settings
from vigil.tenants.service import get_tenant


@dataclass(slots=True)
class DetectionPlan:
    """What a pass found; ``told_outside`` once applied: email or Slack have work."""

    findings: list[Finding]
    told_outside: bool = False


class DetectionConsumer:
    """Runs the detection rules on committed events and raises their alerts."""

    name = "detections"
    # Under a stream of single-event requests, one pass for many commits instead of one
    # each costs the writer far less CPU, and alerts stay well inside their 1 s target.
    gather_seconds = 0.05
    background = False  # alerts do not wait for ingest to pause
    batch_limit = 20_000

    def __init__(self, settings: Settings, *, on_notify: Callable[[], None]) -> None:
        self._settings = settings
        self._on_notify = on_notify  # wakes the deliverer when email or Slack have work

    def plan(
        self, conn: Connection, *, tenant_id: uuid.UUID, events: Sequence[EventRow], now: datetime
    ) -> DetectionPlan | None:
        """The findings of the tenant's enabled rules in ``events``."""
        tenant = get_tenant(conn, tenant_id=tenant_id)
        rules = service.tenant_rules(conn, tenant_id=tenant_id)
        findings = detect(conn, tenant=tenant, rules=rules, new_events=list(events))
        return DetectionPlan(findings) if findings else None

    def apply(
        self, conn: Connection, *, tenant_id: uuid.UUID, plan: DetectionPlan, now: datetime
    ) -> None:
        """Open or update the alerts, and write the notifications of new or worse ones."""
        channels = notifications.read_settings(
            conn, tenant_id=tenant_id, secret_key=self._settings.secret_key
        )
        raised = service.raise_alerts(conn, tenant_id=tenant_id, findings=plan.findings, now=now)
        told = [outcome.alert for _, outcome in raised if outcome.tell]
        record_signals(
            conn,
            tenant_id=tenant_id,
            kind=ALERT,
            bodies=[(None, alert_signal(alert)) for alert in told],
            now=now,
        )
        for finding, outcome in raised:
            if not outcome.tell:
                continue
            used = notifications.notify(
                conn,
                tenant_id=tenant_id,
                alert=outcome.alert,
                rule=finding.rule,
                channels=channels,
                link=f"{self._settings.base_url}/ui/security/alerts/{outcome.alert['id']}",
                now=now,
            )
            plan.told_outside |= any(channel.value != "in_app" for channel in used)

    def after_commit(self, plan: DetectionPlan) -> None:
        """Wake the deliverer when email or Slack have something to send."""
        if plan.told_outside:
            self._on_notify()
