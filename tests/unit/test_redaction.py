"""Which details keys count as secrets, and how deep details may go."""

from __future__ import annotations

import pytest

from vigil.events.redaction import REDACTED, is_secret_key, sanitise_details

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
