"""Text folded for case-insensitive search, the same way on every database.

SQLite's ``LIKE`` and ``lower()`` fold ASCII only, and PostgreSQL's follow the database's
locale, so neither can be trusted to find ``École`` with ``école``. Vigil folds in Python
instead, both what it stores for search and what it is asked for, and the database only
compares folded text exactly.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Values that repeat (emails, user agents, resource ids) are short: only those are kept, so
# distinct long values cannot fill the memory.
_CACHED_LENGTH = 256


def fold(text: str) -> str:
    """``text`` for caseless matching: NFKC, then Unicode full case folding, then NFKC
    again (the Unicode Standard §3.13, "caseless matching", with compatibility
    normalisation so ``ﬁ`` matches ``fi`` and full-width letters their ASCII forms).
    ``fold("Østergård") == fold("østergård")``; ``fold("Straße") == "strasse"``."""
    if text.isascii():
        return text.lower()
    if len(text) <= _CACHED_LENGTH:
        return _fold_cached(text)
    return _fold(text)


@lru_cache(maxsize=16384)
def _fold_cached(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
