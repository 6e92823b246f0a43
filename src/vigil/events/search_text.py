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
import re
from typing import Any

import orjson

from vigil.db.folding import fold

SEGMENT = "\x1f"
PATH_END = "\x1d"
# Control characters that mean something in the stored text; in values and search terms
# alike they become spaces, so nothing typed can reach across a boundary.
_STRUCTURE = str.maketrans({SEGMENT: " ", PATH_END: " ", "\x1e": " ", "\x00": " "})
# Key paths are written in the private-use planes (below); the same characters in a value
# or a search term become U+FFFD, so nothing typed or sent can reach a key.
_PRIVATE_PLANES = re.compile("[\U000f0000-\U0010ffff]")
# A key path's characters are written from here on (the Supplementary Private Use Area-A
# and -B, which no text a producer sends is expected to use).
_PRIVATE_USE_A = 0xF0000
_PRIVATE_USE_B = 0x100000
_PLANE = 0xFFFE  # code points U+xFFFE and U+xFFFF are not characters in any plane


def search_terms_text(text: str) -> str:
    """A free-text search term as it is compared with the stored text: folded, with the
    stored text's separators (and NUL) made spaces and private-use characters U+FFFD."""
    if text.isascii():
        return text.lower().translate(_STRUCTURE)
    return _PRIVATE_PLANES.sub("\ufffd", fold(text).translate(_STRUCTURE))


def details_segment(path: tuple[str, ...], value: str) -> str:
    """The whole stored segment for the value ``value`` at the key ``path`` of details,
    boundaries included: ``details.a.b:v`` matches when the stored text contains it."""
    return f"{SEGMENT}{_key_path('.'.join(path))}{PATH_END}{search_terms_text(value)}{SEGMENT}"


def event_search_text(
    *,
    user_email: str | None,
    user_id: str | None,
    resource_id: str | None,
    user_agent: str | None,
    details: str | None,
) -> str:
    """The stored search text of an event whose ``details`` is its stored JSON text.

    On the ingest path (a few µs an event), so written for speed: one walk over the parsed
    details, ASCII text lower-cased without the full folding. Raises ``ValueError`` if
    ``details`` is not JSON (stored details always are)."""
    parts = [SEGMENT]
    for value in (user_email, user_id, resource_id, user_agent):
        if value:
            parts.append(_searchable(value))
            parts.append(SEGMENT)
    if details is not None:
        details_from = len(parts)
        try:
            done = _add_leaves(orjson.loads(details), "", parts, exact=False)
        except orjson.JSONDecodeError:  # an integer beyond 64 bits, kept as written
            done = False
        if not done:  # read again with every number as its token
            del parts[details_from:]
            _add_leaves(json.loads(details, parse_float=str, parse_int=str), "", parts, exact=True)
    return "".join(parts)


def _searchable(value: str) -> str:
    """``search_terms_text``, faster for the common case of printable ASCII."""
    if value.isascii() and value.isprintable():
        return value.lower()
    return search_terms_text(value)


class _Inexact(Exception):
    """orjson read a number that may not be written as its token was (a float, or a zero
    that may have been ``-0``)."""


def _add_leaves(node: Any, path: str, parts: list[str], *, exact: bool) -> bool:
    """Append ``⟨path⟩␝value␟`` for each value in ``node`` (array positions left out);
    False, with ``parts`` partly written, when a number must be read again exactly."""
    try:
        _walk(node, path, parts, exact)
    except _Inexact:
        return False
    return True


def _walk(node: Any, path: str, parts: list[str], exact: bool) -> None:
    kind = type(node)
    if kind is dict:
        for key, value in node.items():
            _walk(value, f"{path}.{key}" if path else key, parts, exact)
        return
    if kind is list:
        for value in node:
            _walk(value, path, parts, exact)
        return
    if kind is str:
        text = _searchable(node)
    elif node is True:
        text = "true"
    elif node is False:
        text = "false"
    elif node is None:
        return
    elif exact or (kind is int and node):
        text = str(node)
    else:
        raise _Inexact
    parts.append(_written_path(path))
    parts.append(PATH_END)
    parts.append(text)
    parts.append(SEGMENT)


_PATHS: dict[str, str] = {}
_MAX_PATHS = 4096


def _written_path(path: str) -> str:
    written = _PATHS.get(path)
    if written is None:
        if len(_PATHS) >= _MAX_PATHS:  # producers use a few keys; a flood of new ones resets
            _PATHS.clear()
        written = _PATHS[path] = _key_path(path)
    return written


def _key_path(path: str) -> str:
    """``path`` (keys joined by dots) folded, written in private-use characters: each code
    point below U+FFFE as one character of Private Use Area-A, any other as two of
    Private Use Area-B (its plane, then its place), so distinct paths stay distinct."""
    written = []
    for char in fold(path).translate(_STRUCTURE):
        point = ord(char)
        if point < _PLANE:
            written.append(chr(_PRIVATE_USE_A + point))
        else:
            written.append(chr(_PRIVATE_USE_B + (point >> 16)))
            written.append(chr(_PRIVATE_USE_B + (point & 0xFFFF) % _PLANE))
    return "".join(written)
