"""Parsing request bodies with pydantic, and naming the offending field in every error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from vigil.core.errors import VigilError

M = TypeVar("M", bound=BaseModel)


class InvalidBody(VigilError):
    """A body or query that failed validation, with each failing field."""

    status_code = 422

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first['field']}: {first['message']}{more}")
        self.errors = errors


class MalformedJSON(VigilError):
    """A body that is not JSON at all."""

    status_code = 400


def field_path(loc: Sequence[Any]) -> str:
    """``('events', 3, 'action')`` → ``events[3].action``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def describe_errors(
    errors: Sequence[Any], *, drop_prefix: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """pydantic/FastAPI error dicts as ``[{field, message}]``."""
    described: list[dict[str, str]] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if loc and loc[0] in drop_prefix:
            loc = loc[1:]
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        described.append({"field": field_path(loc), "message": message})
    return described


def parse_body(model: type[M], body: bytes, *, context: dict[str, Any] | None = None) -> M:
    """Validate a JSON body straight from bytes (pydantic parses it in Rust); ``context``
    goes to the model's validators."""
    if not body.strip():
        raise MalformedJSON("request body is empty; send a JSON object")
    try:
        return model.model_validate_json(body, context=context)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        json_errors = [p for p in problems if p["type"] == "json_invalid"]
        if json_errors:
            raise MalformedJSON(f"malformed JSON: {json_errors[0]['msg']}") from None
        if len(problems) == 1 and problems[0]["type"] == "model_type" and not problems[0]["loc"]:
            raise InvalidBody([{"field": "body", "message": "must be a JSON object"}]) from None
        raise InvalidBody(describe_errors(problems)) from None
