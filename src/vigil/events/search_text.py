"""The text of an event that free-text search looks in: what people read, never JSON syntax.

Stored with each event (``events.search_text``) as segments, each opened and closed by
``SEGMENT`` (U+001F, the unit separator):

    ␟alice@example.com␟u-42␟production-api␟curl/8.5.0␟⟨note⟩␝say "hi" now␟⟨rows⟩␝1E+2␟

- the actor's email and id, the resource id and the user agent, as sent;
- one segment per value in ``details``: strings as decoded text (``say "hi" now``, not
  ``say \\"hi\\" now``), numbers as written (``1E+2`` stays ``1E+2``), ``true``/``false``;
  ``null`` is left out. An array gives one segment per element.

Every segment is folded (``db.folding.fold``), so matching is an exact substring test of
folded text on either database. A value in ``details`` is preceded by its key path
written in private-use characters (``⟨note⟩`` above) and ``PATH_END``: a search term, made
of ordinary characters, can never match a key name, yet ``details.note:"say hi"`` is one
exact test for the whole segment. Separators inside values are replaced by spaces, so no
term can match across two segments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import orjson

from vigil.db.folding import fold

SEGMENT = "\x1f"
PATH_END = "\x1d"
# Control characters that mean something in the stored text; in values and search terms
# alike they become spaces, so nothing typed can reach across a boundary.
_STRUCTURE = str.maketrans({SEGMENT: " ", PATH_END: " ", "\x1e": " "})
# A key path's characters are written from here on (the Supplementary Private Use Area-A
# and -B, which no text a producer sends is expected to use).
_PRIVATE_USE_A = 0xF0000
_PRIVATE_USE_B = 0x100000
_PLANE = 0xFFFE  # code points U+xFFFE and U+xFFFF are not characters in any plane


def search_terms_text(text: str) -> str:
    """A free-text search term as it is compared with the stored text: folded, with the
    stored text's separators made spaces."""
    return fold(text).translate(_STRUCTURE)


def details_segment(path: tuple[str, ...], value: str) -> str:
    """The whole stored segment for the value ``value`` at the key ``path`` of details,
    boundaries included: ``details.a.b:v`` matches when the stored text contains it."""
    return f"{SEGMENT}{_key_path(path)}{PATH_END}{search_terms_text(value)}{SEGMENT}"


def event_search_text(
    *,
    user_email: str | None,
    user_id: str | None,
    resource_id: str | None,
    user_agent: str | None,
    details: str | None,
) -> str:
    """The stored search text of an event whose ``details`` is its stored JSON text.

    Raises ``ValueError`` if ``details`` is not JSON (stored details always are)."""
    parts = [SEGMENT]
    for value in (user_email, user_id, resource_id, user_agent):
        if value:
            parts += (search_terms_text(value), SEGMENT)
    if details is not None:
        for path, value in _leaves(_load_as_written(details), ()):
            parts += (_key_path(path), PATH_END, search_terms_text(value), SEGMENT)
    return "".join(parts)


def _load_as_written(details: str) -> Any:
    """Details parsed with every number as the text it was written as. orjson reads most
    bodies ten times faster than ``json`` with hooks; it is used when no number in the
    result could differ from its token (a float, or a zero that may have been ``-0``)."""
    try:
        tree = orjson.loads(details)
    except orjson.JSONDecodeError:  # an integer beyond 64 bits, stored as written
        tree = None
    if tree is None or _has_inexact_number(tree):
        tree = json.loads(details, parse_float=str, parse_int=str)
    return tree


def _has_inexact_number(node: Any) -> bool:
    if isinstance(node, dict):
        return any(_has_inexact_number(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_inexact_number(value) for value in node)
    return type(node) is float or (type(node) is int and node == 0)


def _leaves(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    """Each value in ``node`` with its key path (array positions left out), as text."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value, path)
    elif node is True:
        yield path, "true"
    elif node is False:
        yield path, "false"
    elif node is not None:
        yield path, node if isinstance(node, str) else str(node)


@lru_cache(maxsize=4096)  # producers use the same few keys
def _key_path(path: tuple[str, ...]) -> str:
    """``path`` folded and joined by dots, written in private-use characters: each code
    point below U+FFFE as one character of Private Use Area-A, any other as two of
    Private Use Area-B (its plane, then its place), so distinct paths stay distinct."""
    written = []
    for char in fold(".".join(path)).translate(_STRUCTURE):
        point = ord(char)
        if point < _PLANE:
            written.append(chr(_PRIVATE_USE_A + point))
        else:
            written.append(chr(_PRIVATE_USE_B + (point >> 16)))
            written.append(chr(_PRIVATE_USE_B + (point & 0xFFFF) % _PLANE))
    return "".join(written)
