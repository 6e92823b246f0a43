"""Alerts as JSON: as the API shows them, and as the live feed signals them."""

from __future__ import annotations

import json
from typing import Any

from vigil.detections.tables import AlertRow
from vigil.events.wire import format_time


def alert_json(row: AlertRow) -> dict[str, Any]:
    """An alert as the API shows it."""
    return {
        "id": row["id"],
        "rule": row["rule"],
        "severity": row["severity"],
        "status": row["status"],
        "subject": row["subject"],
        "summary": row["summary"],
        "first_seen": format_time(row["first_seen"]),
        "last_seen": format_time(row["last_seen"]),
        "count": row["count"],
        "evidence_ids": json.loads(row["evidence"]),
        "note": row["note"],
        "created_at": format_time(row["created_at"]),
        "updated_at": format_time(row["updated_at"]),
    }


def alert_signal(row: AlertRow) -> dict[str, Any]:
    """What a live stream is sent when an alert opens or becomes more severe: the alert
    as the API shows it, ``change`` (``opened`` or ``escalated``) and the console's link."""
    change = "opened" if row["created_at"] == row["updated_at"] else "escalated"
    return {**alert_json(row), "change": change, "url": f"/ui/security/alerts/{row['id']}"}
