"""Ids and time: UUIDv7 ids, UTC datetimes and their wire format."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from uuid_utils.compat import uuid7

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_id() -> uuid.UUID:
    """A time-ordered UUIDv7, so primary keys grow append-only."""
    return uuid7()


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of microseconds since the Unix epoch."""
    return EPOCH + timedelta(microseconds=micros)
