"""Offset and keyset (cursor) paging: a cursor is the (timestamp, id) of the last row seen."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from vigil.core.clock import from_micros, to_micros
from vigil.core.errors import InvalidInput

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in newest-first order: everything strictly older comes next."""

    timestamp: datetime
    id: uuid.UUID

    def encode(self) -> str:
        """Opaque, URL-safe text for ``next_cursor``."""
        raw = f"{to_micros(self.timestamp)}:{self.id.hex}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor, or raise ``InvalidInput`` naming ``cursor``."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            micros, hex_id = raw.split(":")
            return cls(timestamp=from_micros(int(micros)), id=uuid.UUID(hex=hex_id))
        except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
            raise InvalidInput("cursor", "not a cursor this server issued") from None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page to read: by offset, or after a cursor."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: Cursor | None = None
    include_total: bool = True


def parse_page(*, limit: int, offset: int, cursor: str | None, include_total: bool) -> PageRequest:
    """Validate paging parameters into a ``PageRequest``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("offset", f"must be between 0 and {MAX_OFFSET}; page deeper with cursor")
    decoded = Cursor.decode(cursor) if cursor else None
    if decoded is not None and offset:
        raise InvalidInput("offset", "cannot be combined with cursor")
    return PageRequest(limit=limit, offset=offset, cursor=decoded, include_total=include_total)
