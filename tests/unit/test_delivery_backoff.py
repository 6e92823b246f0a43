"""Retries wait 10 s, then twice as long each time, never more than 10 minutes."""

from __future__ import annotations

from datetime import timedelta

from vigil.notifications.delivery import backoff


def test_backoff_doubles_from_ten_seconds_up_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 8)] == [10, 20, 40, 80, 160, 320, 600]
    assert backoff(10_000) == timedelta(minutes=10)  # days of failures never overflow
