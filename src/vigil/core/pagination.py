"""Paging, defined once for every list: ``limit`` 1 to ``MAX_LIMIT``, ``offset`` 0 to
``MAX_OFFSET``, and for the event lists a keyset ``cursor``, the (timestamp, id) of the last
row seen, whose cost does not grow with depth.

Every list route takes ``PageQuery`` (or ``CursorPageQuery``) in its query model, so a value
out of range is a 422 naming the parameter before any query runs: nothing a caller sends
reaches the database as an offset it cannot hold or a page it should not build.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from vigil.core.clock import from_micros, to_micros
from vigil.core.errors import InvalidInput

MAX_LIMIT = 1000
# Skipping rows costs in proportion to the offset; past this, page with a cursor (event lists)
# or narrow the filters.
MAX_OFFSET = 1_000_000
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


class PageQuery(BaseModel):
    """``limit`` and ``offset``, as every list takes them."""

    limit: int = Field(
        default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT:,} items"
    )
    offset: int = Field(
        default=0,
        ge=0,
        le=MAX_OFFSET,
        description=f"Items to skip, 0 to {MAX_OFFSET:,}; deeper, narrow the filters",
    )


class CursorPageQuery(PageQuery):
    """Paging for the event lists: also after a cursor, and with or without the total."""

    offset: int = Field(
        default=0,
        ge=0,
        le=MAX_OFFSET,
        description=f"Items to skip, 0 to {MAX_OFFSET:,}; deeper, follow `next_cursor`",
    )
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page")
    include_total: bool = Field(default=True, description="false skips the exact count")

    def page(self) -> PageRequest:
        """Validated paging; a bad cursor raises ``InvalidInput`` naming it."""
        return parse_page(
            limit=self.limit,
            offset=self.offset,
            cursor=self.cursor,
            include_total=self.include_total,
        )
