"""Which details keys and values count as secrets, and how deep details may go."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from vigil.demo.people import Member, cast
from vigil.demo.story import timeline
from vigil.events.redaction import (
    REDACTED,
    SECRET_HINT,
    is_secret_key,
    redact_secret_values,
    sanitise_details,
)
from vigil.events.schemas import dump_details

SECRET = [
    "password", "new_password", "Password", "passwd", "client_secret", "secret",
    "api_key", "apiKey", "X-Api-Key", "Authorization", "cookie", "Set-Cookie",
    "access_token", "refreshToken", "token", "private_key", "reset_code",
    "recovery_codes", "totp_code", "credentials", "session_id", "newpassword",
    "dbpassword", "accesstoken", "refreshtoken", "clientsecret", "csrftoken", "sessionid",
]  # fmt: skip
NOT_SECRET = [
    "max_tokens", "token_count", "input_tokens", "project_name", "status_code",
    "country_code", "login_method", "changed_fields", "keyboard", "author", "passenger",
]  # fmt: skip


@pytest.mark.parametrize("key", SECRET)
def test_secret_names_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", NOT_SECRET)
def test_ordinary_names_are_left_alone(key: str) -> None:
    assert not is_secret_key(key)


def test_redaction_reaches_every_depth_and_keeps_the_rest() -> None:
    details = {
        "password": {"nested": "whole value goes"},
        "list": [{"token": "t"}, [{"secret": 1}]],
        "keep": {"max_tokens": 3},
    }
    assert sanitise_details(details) == {
        "password": REDACTED,
        "list": [{"token": REDACTED}, [{"secret": REDACTED}]],
        "keep": {"max_tokens": 3},
    }


def test_depth_and_non_finite_numbers_are_refused_with_a_path() -> None:
    deep: dict[str, object] = {"x": 1}
    for _ in range(16):
        deep = {"down": deep}
    with pytest.raises(ValueError, match="nesting deeper than 16"):
        sanitise_details(deep)
    with pytest.raises(ValueError, match=r"details\.a\[1\]: numbers must be finite"):
        sanitise_details({"a": [1, float("inf")]})


SECRET_VALUES = [
    # (value, what must be left of it)
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
     "Authorization: [REDACTED]"),
    ("authorization=Basic dXNlcjpwYXNzd29yZA==", "authorization=[REDACTED]"),
    ("retrying with Bearer 6f1c8e2a3b4d4c5e8f6a now", "retrying with Bearer [REDACTED] now"),
    ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.sig_part-1 expired",
     "token [REDACTED] expired"),
    ("postgresql://u:pw@h/db", "postgresql://u:[REDACTED]@h/db"),
    ("redis://:hunter2@cache:6379/0", "redis://:[REDACTED]@cache:6379/0"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
     "[REDACTED]"),
    ("key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "key: [REDACTED]"),
    ("AKIAIOSFODNN7EXAMPLE", "[REDACTED]"),
    ("aws ASIAY34FZKBOKMUTVV7A rotated", "aws [REDACTED] rotated"),
    ("ghp_" + "A1b2" * 9, "[REDACTED]"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "[REDACTED]"),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", "[REDACTED]"),
    ("vk_" + "x" * 43, "[REDACTED]"),
]  # fmt: skip
ORDINARY_VALUES = [
    "https://example.com/a@b", "mailto:alice@example.com", "bearer of good news",
    "Bearer", "session_minutes", "eyJ", "organization", "10.0.0.0/8", "ssh://git@host/repo",
    "BEGIN transaction", "AKIA", "ghp_short", "Mozilla/5.0 (X11; Linux x86_64)",
]  # fmt: skip


@pytest.mark.parametrize(("value", "left"), SECRET_VALUES)
def test_secrets_in_values_are_redacted_at_any_depth(value: str, left: str) -> None:
    details = {"note": value, "list": [value, {"deep": value}]}
    assert sanitise_details(details) == {"note": left, "list": [left, {"deep": left}]}
    assert SECRET_HINT.search(dump_details({"note": value})), "the ingest hint must see it"


@pytest.mark.parametrize("value", ORDINARY_VALUES)
def test_ordinary_values_are_left_alone(value: str) -> None:
    assert sanitise_details({"note": value, "list": [value]}) == {"note": value, "list": [value]}


def test_the_demo_activity_keeps_every_value() -> None:
    """`vigil demo`'s default run (25 people, 30 days): no value of it looks like a secret,
    so value redaction changes none of its events; its one slipped secret is found by name."""
    people = cast(count=25, domain="acme.demo.example")
    members = [
        Member(person=p, user_id=str(uuid.uuid4()), email=p.email, role=p.role, created=True)
        for p in people
    ]
    events = timeline(members, days=30, now=datetime.now(UTC), seed=7)
    assert len(events) > 20_000
    values: list[tuple[str, str]] = []
    for event in events:
        _strings(event.details or {}, "", values)
    assert len(values) > 50_000
    by_name = [key for key, value in values if value == REDACTED]
    assert by_name  # the demo's hf_token
    assert all(is_secret_key(key) for key in by_name)
    changed = [(k, v) for k, v in values if v != REDACTED and redact_secret_values(v) != v]
    assert changed == []
    assert all(REDACTED not in value for _, value in values if value != REDACTED)


def _strings(node: Any, key: str, into: list[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            _strings(value, name, into)
    elif isinstance(node, list):
        for value in node:
            _strings(value, key, into)
    elif isinstance(node, str):
        into.append((key, node))
