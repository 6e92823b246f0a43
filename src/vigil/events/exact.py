"""JSON read exactly: number tokens kept as written, and no key named twice in one object.

RFC 8259 §4 leaves a repeated name's meaning to each parser (most keep the last value);
an audit record must not be read two ways, so Vigil refuses it. A number in ``details`` is
stored as the producer wrote it (``1E+2`` stays ``1E+2``, ``0.1234567890123456789`` keeps
its digits): the token itself is kept, as an ``orjson.Fragment`` that ``orjson.dumps``
writes out verbatim, and is never turned into a binary float.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from vigil.core.validation import InvalidBody, field_path

# Integers of up to 18 digits fit in 64 bits, where orjson writes them as they were read.
_SHORT_INTEGER = 18


def number_token(token: str) -> orjson.Fragment:
    """A JSON number token (RFC 8259 §6), kept as written; ``ValueError`` when its value is
    not finite (``1e400``), as such a number reads as infinity almost everywhere else."""
    if not math.isfinite(float(token)):
        raise ValueError("numbers must be finite")
    return orjson.Fragment(token)


def _integer(text: str) -> int | orjson.Fragment:
    # "-0" is the one integer token whose int() would be written back otherwise.
    if len(text) <= _SHORT_INTEGER and text != "-0":
        return int(text)
    return orjson.Fragment(text)


class _Repeated(dict[str, Any]):
    """An object that named ``key`` more than once."""

    key: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    repeated = _Repeated(result)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            repeated.key = key
            break
        seen.add(key)
    return repeated


def load_exact(body: bytes) -> Any:
    """``body`` parsed with number tokens kept (integers beyond 18 digits and ``-0`` as
    tokens too); None when Python's parser cannot read it (the caller's validator then
    words the error). Raises ``InvalidBody`` (422) naming the first key an object repeats,
    as ``events[0].details.note``."""
    try:
        tree = json.loads(
            body,
            object_pairs_hook=_object,
            parse_float=orjson.Fragment,  # finiteness is the validator's to judge
            parse_int=_integer,
        )
        where = _first_repeat(tree, ())
    except (ValueError, RecursionError):
        return None
    if where is not None:
        message = "this key appears twice in one object; each key may appear only once"
        raise InvalidBody([{"field": field_path(where), "message": message}])
    return tree


def _first_repeat(node: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The path to the first repeated key, depth first in document order."""
    if isinstance(node, _Repeated):
        return (*path, node.key)
    if isinstance(node, dict):
        children: Any = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        return None
    for name, child in children:
        found = _first_repeat(child, (*path, name))
        if found is not None:
            return found
    return None
