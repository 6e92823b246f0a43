"""An event's distinct values, as the search index keys them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from vigil.events.search_text import SEGMENT, event_search_text
from vigil.events.tables import EventRow

# The search index's bounds. A value held by this many events is common: its postings stop,
# and a search for it reads events newest first, where it turns up every few hundred rows
# at most. A term whose values are held by more than ``MAX_CANDIDATES`` events in all is
# searched that way too: it is frequent enough to turn up fast, and reading its postings
# would cost more than the events they spare.
COMMON_AT = 20_000
MAX_CANDIDATES = 100_000


def digest(text: str) -> bytes:
    """The dictionary key of a value: BLAKE2b with a 16-byte digest (RFC 7693) of its
    UTF-8 text, ``surrogatepass`` so that any Python text has one."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def stored_search_text(row: EventRow) -> str:
    """The event's search text; computed from its columns when it was stored before the
    search text existed (and the backfill has not reached it)."""
    text = row["search_text"]
    if text is None:
        text = event_search_text(
            user_email=row["user_email"],
            user_id=row["user_id"],
            resource_id=row["resource_id"],
            user_agent=row["user_agent"],
            details=row["details"],
        )
    return text


def event_values(row: EventRow) -> Iterator[str]:
    """The distinct values of an event's search text, each once."""
    text = stored_search_text(row)
    seen: set[str] = set()
    for value in text.split(SEGMENT):
        if value and value not in seen:
            seen.add(value)
            yield value
