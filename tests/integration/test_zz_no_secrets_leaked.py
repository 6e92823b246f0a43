"""After everything else on a backend ran: no secret any test used is in an event or a log.

Named to run last: pytest runs each backend's tests in file order.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.browser import conftest as browser_tests
from tests.conftest import LogRecorder, Stack
from tests.integration import test_notifications, test_password_reset, test_sign_in, test_users
from vigil.events.tables import events

# Whole credentials: a key, session or reset token is its prefix and 43 random characters.
CREDENTIAL = re.compile(r"\b(?:vk|vs|vr)_[A-Za-z0-9_-]{30,}")
TEST_PASSWORDS = (
    test_sign_in.PASSWORD,
    test_sign_in.NEW_PASSWORD,
    test_users.PASSWORD,
    test_password_reset.OLD,
    test_password_reset.NEW,
    "correct horse battery",
    "hunter2hunter2",
    browser_tests.PASSWORD,
    test_notifications.WEBHOOK_SECRET,  # a Slack webhook's URL is a credential too
)


def test_no_secret_in_any_stored_event(stack: Stack) -> None:
    with stack.engine.connect() as conn:
        rows = conn.execute(select(events)).all()
    assert len(rows) > 1000, "the scan must run after the rest of the suite"
    for row in rows:
        text = " ".join(str(value) for value in row)
        assert not CREDENTIAL.search(text), text
        for password in TEST_PASSWORDS:
            assert password not in text, text


def test_no_secret_in_the_server_log(stack: Stack, server_log: LogRecorder) -> None:
    assert any(" vigil." in line for line in server_log.lines), "the scan must see Vigil's log"
    for line in server_log.lines:
        assert not CREDENTIAL.search(line), line
        for password in TEST_PASSWORDS:
            assert password not in line, line
